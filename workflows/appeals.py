"""The appeals service: the only writers of appeal state (SPEC C13, B4; issue 6).

Each public function owns its transaction: it commits on success, rolls back and raises
`AppealError` (a localised message, `errors` per form field when a form is wrong) on bad input, so
a refused request changes nothing. State changes go through `workflows.engine`; e-mails through the
outbox (texts in `workflows.appeal_notices`) in the same transaction as their cause. Files stored
before a failed commit are removed again.
"""
from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from crm import clock
from crm.access import grant_for
from crm.extensions import db
from crm.models import (
    Appeal,
    AppealAttachment,
    AppealDraft,
    AppealEvent,
    AppealMessage,
    AppealTopic,
    AssignmentRule,
    CrmUser,
)
from crm.models.workflow import WorkflowState, WorkflowTransition
from crm.services import ServiceError
from crm.services import appeal_attachments as attachments
from crm.services.appeal_attachments import AttachmentError
from crm.services.appeal_forms import FormInvalidError, current_form, current_workflow, validate_all
from workflows import appeal_notices as notices
from workflows import engine
from workflows.appeal_support import (
    add_month,
    appeal_number,
    customer_may_see,
    next_sequence,
    numbering_contract,
    person_letters,
)

MAX_BODY = 10_000
MAX_COMMENT = 2_000
NUMBER_ATTEMPTS = 5
DECISIONS = ("accepted", "rejected")
LOW_RATING = 2


class AppealError(ServiceError):
    """Bad input for an appeal operation; nothing was changed. `errors`: field → message (forms)."""

    def __init__(self, message, *, errors: dict | None = None, status: int = 400):
        super().__init__(str(message), status=status)
        self.errors = errors or {}


class _Stored:
    """Keys of files stored during one operation, removed again if its transaction fails."""

    def __init__(self):
        self.keys: list[str] = []

    def store(self, files) -> list[dict]:
        try:
            items = attachments.store_uploads(files)
        except AttachmentError as exc:
            raise AppealError(exc.message) from exc
        self.keys.extend(item["storage_key"] for item in items)
        return items

    def discard(self) -> None:
        attachments.delete_stored(self.keys)


def _fail(stored: _Stored | None = None) -> None:
    db.session.rollback()
    if stored is not None:
        stored.discard()


def _commit(stored: _Stored | None = None) -> None:
    try:
        db.session.commit()
    except Exception:
        _fail(stored)
        raise


def _is_staff(user) -> bool:
    return bool(getattr(user, "is_staff", False))


def _require_customer_access(appeal: Appeal, user) -> None:
    if not customer_may_see(user, appeal):
        raise AppealError(_("Appeal not found."), status=404)


# --- submitting ----------------------------------------------------------------------------------

def _section_and_subsection(section_id, subsection_id) -> tuple[AppealTopic, AppealTopic | None]:
    section = db.session.get(AppealTopic, section_id) if section_id else None
    if section is None or section.level != "section" or not section.active:
        raise AppealError(_("Choose a section of the appeal."), errors={"section_id": _("Choose a section.")})
    subsection = None
    if subsection_id:
        subsection = db.session.get(AppealTopic, subsection_id)
        if (subsection is None or subsection.parent_id != section.id or subsection.level != "subsection"
                or not subsection.active):
            raise AppealError(_("Choose a subsection of the chosen section."),
                              errors={"subsection_id": _("Choose a subsection.")})
    return section, subsection


def _contract_scope(author, section: AppealTopic, contract_id, energy_object_id):
    """The author's grant on the contract and the checked object id (AppealError if not allowed)."""
    if not contract_id:
        if section.requires_contract:
            raise AppealError(_("Choose the contract this appeal is about."),
                              errors={"contract_id": _("Choose a contract.")})
        if energy_object_id:
            raise AppealError(_("Choose the contract of the object first."))
        return None, None
    grant = grant_for(author, int(contract_id))
    if grant is None:
        raise AppealError(_("You have no access to this contract."), status=403,
                          errors={"contract_id": _("You have no access to this contract.")})
    if energy_object_id:
        from crm.models import EnergyObject

        obj = db.session.get(EnergyObject, int(energy_object_id))
        if obj is None or obj.contract_id != grant.contract.id or not grant.covers_object(obj.id):
            raise AppealError(_("This object is not among the objects of the contract available to you."),
                              errors={"energy_object_id": _("Choose one of your objects.")})
    return grant, (int(energy_object_id) if energy_object_id else None)


def _own_draft(author, draft_id) -> AppealDraft | None:
    if not draft_id:
        return None
    draft = db.session.get(AppealDraft, int(draft_id))
    if draft is None or draft.author_id != author.id:
        raise AppealError(_("The draft was not found; it may have expired."), status=404)
    return draft


def _add_files(owner: dict, items: list[dict], *, field_name=None, uploader=None, message=None) -> None:
    for item in items:
        db.session.add(AppealAttachment(**owner, **item, field_name=field_name, message=message,
                                        uploaded_by_id=getattr(uploader, "id", None)))


def submit_appeal(author, *, section_id, subsection_id=None, contract_id=None, energy_object_id=None,
                  form_data: dict, files: dict[str, list] | None = None, draft_id: int | None = None,
                  channel: str = "portal") -> Appeal:
    """File a new appeal: checks access and the form, pins the current form and workflow versions,
    numbers it, starts its SLA, assigns it by the rules, takes over the draft's files; commits."""
    stored = _Stored()
    try:
        section, subsection = _section_and_subsection(section_id, subsection_id)
        grant, object_id = _contract_scope(author, section, contract_id, energy_object_id)
        draft = _own_draft(author, draft_id)
        node = subsection or section
        form = current_form(node)
        workflow = current_workflow(node)
        initial = engine.initial_state(workflow.id)
        if initial is None:
            raise AppealError(_("This section is not configured yet; please choose another one."))
        files = {name: [f for f in items if f is not None and getattr(f, "filename", "")]
                 for name, items in (files or {}).items()}
        draft_files: dict[str, list[str]] = {}
        for item in (draft.attachments if draft is not None else ()):
            draft_files.setdefault(item.field_name or "", []).append(item.filename)
        seen = {name: [getattr(f, "filename", "") for f in items] + draft_files.get(name, [])
                for name, items in files.items()}
        for name, names in draft_files.items():
            seen.setdefault(name, names)
        cleaned = validate_all(form, form_data or {}, seen) if form is not None else dict(form_data or {})
        stored_by_field = {name: stored.store(items) for name, items in files.items() if items}
        contract = grant.contract if grant is not None else None
        numbered = numbering_contract(author, contract)
        branch = numbered.branch if numbered is not None else None
        letters = person_letters(numbered)
        now = clock.now()
        appeal = Appeal(author_id=author.id, contract_id=contract.id if contract else None,
                        energy_object_id=object_id, branch_id=branch.id if branch else None,
                        topic_id=section.parent_id or section.id, section_id=section.id,
                        subsection_id=subsection.id if subsection else None,
                        form_id=form.id if form is not None else None, workflow_id=workflow.id,
                        state_code=initial.code, channel=channel, title=node.name[:255], form_data=cleaned,
                        created_at=now, last_message_at=now, state_entered_at=now, staff_unread=True,
                        customer_unread=False, person_type=letters, number="", sequence=0)
        for attempt in range(NUMBER_ATTEMPTS):
            appeal.sequence = next_sequence()
            appeal.number = appeal_number(appeal.sequence, now, branch.code if branch else None, letters)
            try:
                with db.session.begin_nested():
                    db.session.add(appeal)
                    db.session.flush()
                break
            except IntegrityError:
                if attempt == NUMBER_ATTEMPTS - 1:
                    raise
        engine.enter_state(appeal, initial, author, kind="created", from_state=None,
                           detail={"channel": channel})
        for name, items in stored_by_field.items():
            _add_files({"appeal_id": appeal.id}, items, field_name=name, uploader=author)
        if draft is not None:
            for item in list(draft.attachments):
                item.appeal_id, item.draft_id = appeal.id, None
            db.session.flush()
            db.session.expire(draft, ["attachments"])
            db.session.delete(draft)
        _auto_assign(appeal)
        db.session.commit()
    except FormInvalidError as exc:
        _fail(stored)
        raise AppealError(exc.message, errors=exc.errors, status=422) from exc
    except ServiceError:
        _fail(stored)
        raise
    except Exception:
        _fail(stored)
        raise
    return appeal


# --- drafts --------------------------------------------------------------------------------------

def save_draft(author, *, draft_id=None, topic_id, section_id, subsection_id=None, contract_id=None,
               energy_object_id=None, steps_completed: int, form_data: dict,
               files: dict[str, list] | None = None) -> AppealDraft:
    """Create or update the author's draft; it expires one calendar month after this save; commits."""
    stored = _Stored()
    try:
        section, subsection = _section_and_subsection(section_id, subsection_id)
        _grant, object_id = _contract_scope(author, section, contract_id, energy_object_id)
        draft = _own_draft(author, draft_id)
        form = current_form(subsection or section)
        now = clock.now()
        if draft is None:
            draft = AppealDraft(author_id=author.id, created_at=now)
            db.session.add(draft)
        draft.topic_id = topic_id or section.parent_id
        draft.section_id = section.id
        draft.subsection_id = subsection.id if subsection else None
        draft.contract_id = int(contract_id) if contract_id else None
        draft.energy_object_id = object_id
        draft.form_id = form.id if form is not None else None
        draft.steps_completed = max(0, int(steps_completed or 0))
        draft.form_data = dict(form_data or {})
        draft.updated_at = now
        draft.expires_at = add_month(now)
        db.session.flush()
        for name, items in (files or {}).items():
            _add_files({"draft_id": draft.id}, stored.store(items), field_name=name, uploader=author)
        db.session.commit()
    except ServiceError:
        _fail(stored)
        raise
    except Exception:
        _fail(stored)
        raise
    return draft


def delete_draft(author, draft_id) -> None:
    """Delete the author's draft and its stored files; commits."""
    draft = _own_draft(author, draft_id)
    keys = [item.storage_key for item in draft.attachments]
    db.session.delete(draft)
    _commit()
    attachments.delete_stored(keys)


def expire_drafts(now=None) -> int:
    """Delete drafts past their expiry date and their stored files; returns how many (idempotent)."""
    now = now or clock.now()
    expired = select(AppealDraft.id).where(AppealDraft.expires_at <= now)
    ids = list(db.session.scalars(expired))
    if not ids:
        return 0
    keys = list(db.session.scalars(select(AppealAttachment.storage_key).where(AppealAttachment.draft_id.in_(ids))))
    db.session.execute(delete(AppealAttachment).where(AppealAttachment.draft_id.in_(ids)))
    db.session.execute(delete(AppealDraft).where(AppealDraft.id.in_(ids)))
    _commit()
    attachments.delete_stored(keys)
    return len(ids)


# --- dialogue ------------------------------------------------------------------------------------

def _current_state(appeal: Appeal) -> WorkflowState | None:
    return engine.state_of(appeal)


def reply(appeal: Appeal, author, body: str, files=(), *, internal: bool = False,
          needs_decision: bool = False) -> AppealMessage:
    """Add a message: a customer's reply, a staff public reply (e-mails the author) or an internal
    note (staff only, never shown to the customer); commits."""
    stored = _Stored()
    try:
        body = (body or "").strip()
        files = [f for f in (files or ()) if f is not None and getattr(f, "filename", "")]
        if not body and not files:
            raise AppealError(_("Write a message or attach a file."), errors={"body": _("Write a message.")})
        if len(body) > MAX_BODY:
            raise AppealError(_("The message must be at most %(limit)d characters.", limit=MAX_BODY))
        staff = _is_staff(author)
        state = _current_state(appeal)
        if not staff:
            _require_customer_access(appeal, author)
            if internal or needs_decision:
                raise AppealError(_("Only staff may write internal notes or send documents for a decision."),
                                  status=403)
            if appeal.closed_at is not None or state is None or not state.dialogue_allowed:
                raise AppealError(_("Correspondence is not available for this appeal"), status=409)
        elif appeal.closed_at is not None and not internal:
            raise AppealError(_("The appeal is closed; only internal notes can be added."), status=409)
        if internal and needs_decision:
            raise AppealError(_("An internal note cannot be sent to the customer for a decision."))
        if needs_decision and not files:
            raise AppealError(_("Attach the document the customer should accept or reject."))
        now = clock.now()
        message = AppealMessage(appeal_id=appeal.id, author_id=author.id, from_staff=staff, internal=internal,
                                body=body or "", needs_decision=needs_decision, created_at=now)
        db.session.add(message)
        db.session.flush()
        _add_files({"appeal_id": appeal.id}, stored.store(files), uploader=author, message=message)
        if staff and not internal:
            appeal.customer_unread = True
            appeal.last_message_at = now
            if appeal.first_response_at is None:
                appeal.first_response_at = now
            notices.queue_reply_notice(appeal, message)
        elif not staff:
            appeal.staff_unread = True
            appeal.last_message_at = now
        db.session.commit()
    except Exception:
        _fail(stored)
        raise
    return message


def decide_document(appeal: Appeal, message_id: int, customer, decision: str, comment: str | None) -> AppealMessage:
    """The customer accepts or rejects a document staff sent (a reason is required to reject); commits."""
    try:
        _require_customer_access(appeal, customer)
        message = db.session.get(AppealMessage, message_id)
        if (message is None or message.appeal_id != appeal.id or not message.needs_decision
                or message.internal):
            raise AppealError(_("Document not found."), status=404)
        if message.decision is not None:
            raise AppealError(_("A decision on this document has already been made."), status=409)
        if appeal.closed_at is not None:
            raise AppealError(_("The appeal is closed."), status=409)
        if decision not in DECISIONS:
            raise AppealError(_("Choose whether you accept or reject the document."))
        comment = (comment or "").strip() or None
        if decision == "rejected" and not comment:
            raise AppealError(_("Say why you reject the document."), errors={"comment": _("Give a reason.")})
        if comment and len(comment) > MAX_COMMENT:
            raise AppealError(_("The comment must be at most %(limit)d characters.", limit=MAX_COMMENT))
        message.decision, message.decision_comment = decision, comment
        appeal.staff_unread = True
        db.session.add(AppealEvent(appeal_id=appeal.id, actor_id=customer.id, kind="document_decision",
                                   detail={"message_id": message.id, "decision": decision, "comment": comment},
                                   created_at=clock.now()))
        db.session.commit()
    except Exception:
        _fail()
        raise
    return message


# --- workflow, assignment ------------------------------------------------------------------------

def transition(appeal: Appeal, actor, transition_id: int, comment: str | None = None) -> AppealEvent:
    """Perform a transition the workflow allows the actor; e-mails the author on a staff-made status
    change; commits. Raises AppealError when it is not allowed."""
    try:
        if not _is_staff(actor):
            _require_customer_access(appeal, actor)
        if comment and len(comment) > MAX_COMMENT:
            raise AppealError(_("The comment must be at most %(limit)d characters.", limit=MAX_COMMENT))
        try:
            event = engine.perform_transition(appeal, transition_id, actor, comment)
        except engine.WorkflowError as exc:
            raise AppealError(str(exc.message), status=403) from exc
        if _is_staff(actor):
            notices.queue_status_notice(appeal, engine.state_of(appeal))
        else:
            appeal.staff_unread = True
        db.session.commit()
    except Exception:
        _fail()
        raise
    return event


def _staff_user(user_id) -> CrmUser | None:
    user = db.session.get(CrmUser, int(user_id)) if user_id else None
    return user if user is not None and user.active and user.is_staff else None


def assign(appeal: Appeal, actor, assignee_id: int | None) -> AppealEvent:
    """Assign the appeal to a staff user (None: unassign); event "assigned"; commits."""
    try:
        if not _is_staff(actor):
            raise AppealError(_("Only staff may assign appeals."), status=403)
        assignee = None
        if assignee_id:
            assignee = _staff_user(assignee_id)
            if assignee is None:
                raise AppealError(_("Choose an active staff member."), errors={"assignee_id": _("Choose a person.")})
        event = _record_assignment(appeal, assignee, actor)
        db.session.commit()
    except Exception:
        _fail()
        raise
    return event


def _record_assignment(appeal: Appeal, assignee, actor, **detail) -> AppealEvent:
    previous = appeal.assignee_id
    appeal.assignee_id = assignee.id if assignee is not None else None
    event = AppealEvent(appeal_id=appeal.id, actor_id=getattr(actor, "id", None), kind="assigned",
                        detail={"from": previous, "to": appeal.assignee_id, **detail}, created_at=clock.now())
    db.session.add(event)
    return event


def matching_rule(appeal: Appeal) -> AssignmentRule | None:
    """The most specific active rule for the appeal: branch+section, section, branch, then neither."""
    rules = db.session.scalars(select(AssignmentRule).where(AssignmentRule.active.is_(True))
                               .order_by(AssignmentRule.id)).all()
    ranked = []
    for rule in rules:
        if rule.branch_id is not None and rule.branch_id != appeal.branch_id:
            continue
        if rule.section_id is not None and rule.section_id != appeal.section_id:
            continue
        ranked.append(((rule.section_id is not None) * 2 + (rule.branch_id is not None), rule))
    candidates = [rule for _rank, rule in sorted(ranked, key=lambda pair: -pair[0])
                  if any(user.active for user in rule.users)]
    return candidates[0] if candidates else None


def _auto_assign(appeal: Appeal) -> CrmUser | None:
    rule = matching_rule(appeal)
    if rule is None:
        return None
    rule = db.session.scalars(select(AssignmentRule).where(AssignmentRule.id == rule.id)
                              .with_for_update()).one()  # concurrent submissions take turns
    users = [user for user in rule.users if user.active]
    after = [user for user in users if rule.last_user_id is not None and user.id > rule.last_user_id]
    chosen = (after or users)[0]
    rule.last_user_id = chosen.id
    _record_assignment(appeal, chosen, None, rule=rule.id)
    return chosen


def auto_assign(appeal: Appeal) -> CrmUser | None:
    """Assign the appeal round-robin by the most specific matching rule (None when no rule); commits."""
    try:
        chosen = _auto_assign(appeal)
        db.session.commit()
    except Exception:
        _fail()
        raise
    return chosen


def mark_read(appeal: Appeal, side: str) -> None:
    """Clear the unread mark of one side ("customer" or "staff"); commits only when it changes."""
    if side not in ("customer", "staff"):
        raise ValueError(side)
    attribute = f"{side}_unread"
    if getattr(appeal, attribute):
        setattr(appeal, attribute, False)
        _commit()


# --- rating, escalation --------------------------------------------------------------------------

def _reopen_target(appeal: Appeal) -> WorkflowState | None:
    current = engine.state_of(appeal)
    defined = db.session.scalars(
        select(WorkflowTransition).where(WorkflowTransition.workflow_id == appeal.workflow_id,
                                         WorkflowTransition.from_state_id == (current.id if current else None))
        .order_by(WorkflowTransition.id)).all()
    for item in defined:
        if not item.to_state.is_closing:
            return item.to_state
    states = db.session.scalars(select(WorkflowState).where(WorkflowState.workflow_id == appeal.workflow_id)
                                .order_by(WorkflowState.position, WorkflowState.id)).all()
    work = [s for s in states if not s.is_closing]
    return next((s for s in work if not s.is_initial), work[0] if work else None)


def rate(appeal: Appeal, customer, rating: int, comment: str | None) -> Appeal:
    """The author rates a closed appeal once (1–5); a rating of 2 or less reopens it for the curator."""
    try:
        if appeal.author_id != getattr(customer, "id", None):
            raise AppealError(_("Only the author of the appeal may rate it."), status=403)
        if appeal.closed_at is None:
            raise AppealError(_("An appeal can be rated once it is closed."), status=409)
        if appeal.rated_at is not None:
            raise AppealError(_("You have already rated this appeal."), status=409)
        try:
            rating = int(rating)
        except (TypeError, ValueError):
            rating = 0
        if not 1 <= rating <= 5:
            raise AppealError(_("Choose a rating from 1 to 5."), errors={"rating": _("From 1 to 5.")})
        comment = (comment or "").strip() or None
        if comment and len(comment) > MAX_COMMENT:
            raise AppealError(_("The comment must be at most %(limit)d characters.", limit=MAX_COMMENT))
        now = clock.now()
        appeal.rating, appeal.rating_comment, appeal.rated_at = rating, comment, now
        db.session.add(AppealEvent(appeal_id=appeal.id, actor_id=customer.id, kind="rated",
                                   detail={"rating": rating, "comment": comment}, created_at=now))
        if rating <= LOW_RATING:
            target = _reopen_target(appeal)
            if target is not None:
                engine.enter_state(appeal, target, None, kind="reopened", from_state=appeal.state_code,
                                   detail={"rating": rating, "comment": comment})
                appeal.staff_unread = True
        db.session.commit()
    except Exception:
        _fail()
        raise
    return appeal


def escalate_overdue(now=None) -> int:
    """Escalate appeals whose SLA passed: e-mail the branch lead, event "escalated", optionally
    reassign to the lead (APPEAL_ESCALATION_REASSIGN); each appeal once per clock; commits."""
    now = now or clock.now()
    reassign = bool(current_app.config.get("APPEAL_ESCALATION_REASSIGN"))
    overdue = db.session.scalars(
        select(Appeal).where(Appeal.sla_due_at <= now, Appeal.escalated_at.is_(None),
                             Appeal.closed_at.is_(None), Appeal.sla_paused_at.is_(None))
        .order_by(Appeal.sla_due_at).limit(500).with_for_update(skip_locked=True)).all()
    try:
        for appeal in overdue:
            lead = appeal.branch.lead_user if appeal.branch is not None else None
            notified = notices.queue_escalation_notice(appeal, lead)
            appeal.escalated_at = now
            db.session.add(AppealEvent(appeal_id=appeal.id, kind="escalated", created_at=now,
                                       detail={"lead_id": lead.id if lead else None, "notified": notified,
                                               "due_at": appeal.sla_due_at.isoformat()}))
            if reassign and lead is not None and lead.active and appeal.assignee_id != lead.id:
                _record_assignment(appeal, lead, None, escalation=True)
            appeal.staff_unread = True
        db.session.commit()
    except Exception:
        _fail()
        raise
    return len(overdue)
