"""The appeals service: the only writers of appeal state (SPEC C13, B4; issue 6).

Each public function owns its transaction: it commits on success, rolls back and raises
`AppealError` (a localised message, `errors` per form field when a form is wrong) on bad input, so
a refused request changes nothing. State changes go through `workflows.engine`; e-mails through the
outbox (texts in `workflows.appeal_notices`) in the same transaction as their cause. Files stored
before a failed commit are removed again.

This module holds submitting, the dialogue, transitions and rating; drafts live in
`workflows.appeal_drafts`, assignment and escalation in `workflows.appeal_assignment`, and are
re-exported here so callers use one module.
"""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from crm import clock
from crm.extensions import db
from crm.models import Appeal, AppealEvent, AppealMessage
from crm.models.workflow import WorkflowState, WorkflowTransition
from crm.services import ServiceError
from crm.services.appeal_forms import current_form, current_workflow, validate_all
from workflows import appeal_notices as notices
from workflows import engine
from workflows.appeal_assignment import (  # noqa: F401 - re-exported: the service's public API
    assign,
    assign_by_rules,
    auto_assign,
    escalate_overdue,
    matching_rule,
)
from workflows.appeal_base import (  # noqa: F401 - AppealError is re-exported
    AppealError,
    StoredFiles,
    add_files,
    as_appeal_error,
    commit,
    contract_scope,
    fail,
    is_staff,
    own_draft,
    require_customer_access,
    section_and_subsection,
)
from workflows.appeal_drafts import delete_draft, expire_drafts, save_draft  # noqa: F401 - re-exported
from workflows.appeal_support import appeal_number, next_sequence, numbering_contract, person_letters

MAX_BODY = 10_000
MAX_COMMENT = 2_000
NUMBER_ATTEMPTS = 5
DECISIONS = ("accepted", "rejected")
LOW_RATING = 2


def submit_appeal(author, *, section_id, subsection_id=None, contract_id=None, energy_object_id=None,
                  form_data: dict, files: dict[str, list] | None = None, draft_id: int | None = None,
                  channel: str = "portal") -> Appeal:
    """File a new appeal: checks access and the form, pins the current form and workflow versions,
    numbers it, starts its SLA, assigns it by the rules, takes over the draft's files; commits."""
    stored = StoredFiles()
    try:
        section, subsection = section_and_subsection(section_id, subsection_id)
        grant, object_id = contract_scope(author, section, contract_id, energy_object_id)
        draft = own_draft(author, draft_id)
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
        # The title names the kind of request, i.e. the section (seed 004 §8.4.1: "[Решается] Заключение
        # договора энергоснабжения"); the subsection is shown on the card beside it.
        appeal = Appeal(author_id=author.id, contract_id=contract.id if contract else None,
                        energy_object_id=object_id, branch_id=branch.id if branch else None,
                        topic_id=section.parent_id or section.id, section_id=section.id,
                        subsection_id=subsection.id if subsection else None,
                        form_id=form.id if form is not None else None, workflow_id=workflow.id,
                        state_code=initial.code, channel=channel, title=section.name[:255], form_data=cleaned,
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
            add_files({"appeal_id": appeal.id}, items, field_name=name, uploader=author)
        if draft is not None:
            for item in list(draft.attachments):
                item.appeal_id, item.draft_id = appeal.id, None
            db.session.flush()
            db.session.expire(draft, ["attachments"])
            db.session.delete(draft)
        assign_by_rules(appeal)
        db.session.commit()
    except AppealError:
        fail(stored)
        raise
    except ServiceError as exc:  # a form error, a catalogue misconfiguration, a refused file …
        fail(stored)
        raise as_appeal_error(exc) from exc
    except Exception:
        fail(stored)
        raise
    return appeal


# --- dialogue ------------------------------------------------------------------------------------

def _current_state(appeal: Appeal) -> WorkflowState | None:
    return engine.state_of(appeal)


def reply(appeal: Appeal, author, body: str, files=(), *, internal: bool = False,
          needs_decision: bool = False) -> AppealMessage:
    """Add a message: a customer's reply, a staff public reply (e-mails the author) or an internal
    note (staff only, never shown to the customer); commits."""
    stored = StoredFiles()
    try:
        body = (body or "").strip()
        files = [f for f in (files or ()) if f is not None and getattr(f, "filename", "")]
        if not body and not files:
            raise AppealError(_("Write a message or attach a file."), errors={"body": _("Write a message.")})
        if len(body) > MAX_BODY:
            raise AppealError(_("The message must be at most %(limit)d characters.", limit=MAX_BODY))
        staff = is_staff(author)
        state = _current_state(appeal)
        if not staff:
            require_customer_access(appeal, author)
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
        add_files({"appeal_id": appeal.id}, stored.store(files), uploader=author, message=message)
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
        fail(stored)
        raise
    return message


def decide_document(appeal: Appeal, message_id: int, customer, decision: str, comment: str | None) -> AppealMessage:
    """The customer accepts or rejects a document staff sent (a reason is required to reject); commits."""
    try:
        require_customer_access(appeal, customer)
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
        fail()
        raise
    return message


# --- workflow, assignment ------------------------------------------------------------------------

def transition(appeal: Appeal, actor, transition_id: int, comment: str | None = None) -> AppealEvent:
    """Perform a transition the workflow allows the actor; e-mails the author on a staff-made status
    change; commits. Raises AppealError when it is not allowed."""
    try:
        if not is_staff(actor):
            require_customer_access(appeal, actor)
        if comment and len(comment) > MAX_COMMENT:
            raise AppealError(_("The comment must be at most %(limit)d characters.", limit=MAX_COMMENT))
        try:
            event = engine.perform_transition(appeal, transition_id, actor, comment)
        except engine.WorkflowError as exc:
            raise AppealError(str(exc.message), status=403) from exc
        if is_staff(actor):
            # The comment is "for the history" on the desk: it is not e-mailed to the customer.
            notices.queue_status_notice(appeal, engine.state_of(appeal))
        else:
            appeal.staff_unread = True
        db.session.commit()
    except Exception:
        fail()
        raise
    return event

def mark_read(appeal: Appeal, side: str) -> None:
    """Clear the unread mark of one side ("customer" or "staff"); commits only when it changes."""
    if side not in ("customer", "staff"):
        raise ValueError(side)
    attribute = f"{side}_unread"
    if getattr(appeal, attribute):
        setattr(appeal, attribute, False)
        commit()


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
        fail()
        raise
    return appeal
