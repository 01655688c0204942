"""What a curator does on the appeal card (SPEC B4), checked against the desk's rules, then handed to
the appeals service (`workflows.appeals`: reply, transition, assign, mark_read), which owns the
transaction. Every refusal is an `ActionError` with a localised message and changes nothing.

Desk rules on top of the appeals service:
- an appeal is assigned only to a curator of its branch (or to oneself when one sees every branch);
- in a workflow with a closing state coded `granted` (the "Access rights" workflow) the transition into
  that state is reachable only through `grant_administrator()`, so "granted" always means granted;
- `grant_administrator()` makes the appeal's author the administrator of its contract through the
  roles service (`crm.services.contract_access`: one administrator per contract, audit row, e-mail),
  posts a public reply and performs the granting transition — in ONE transaction: the reply and the
  transition are added to the session first, and the roles service's own commit writes them together
  with the role; if it refuses, everything is rolled back and nothing is written.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from crm import clock
from crm.extensions import db
from crm.models import Appeal, AppealAttachment, AppealMessage, CannedReply, ContractAccess, WorkflowState
from crm.services import ServiceError, appeal_desk, appeal_forms, contract_access
from crm.services import appeal_desk_card as desk_card
from workflows import appeal_notices as notices
from workflows import appeals, engine

GRANTED_STATE = "granted"


class ActionError(ServiceError):
    """A desk action was refused; nothing was changed."""


@dataclass
class DeskCard:
    """Everything the appeal card shows besides the appeal itself."""

    state: WorkflowState | None
    sla: str | None
    summary: list
    form_files: list[AppealAttachment]
    messages: list[AppealMessage]
    history: list
    transitions: list
    grant_transition: object | None
    is_access_request: bool
    administrator: ContractAccess | None
    assignable: list[tuple[int, str]]
    canned: list[CannedReply] = field(default_factory=list)


def _is_access_request(appeal: Appeal) -> bool:
    return db.session.scalar(select(WorkflowState.id).where(
        WorkflowState.workflow_id == appeal.workflow_id, WorkflowState.code == GRANTED_STATE,
        WorkflowState.is_closing.is_(True))) is not None


def _granting(transition) -> bool:
    return transition.to_state.code == GRANTED_STATE and transition.to_state.is_closing


def card(appeal: Appeal, user) -> DeskCard:
    """The card's content for `user` (transitions the workflow allows them, curators of the branch…)."""
    allowed = engine.allowed_transitions(appeal, user)
    access_request = _is_access_request(appeal)
    grant = next((t for t in allowed if _granting(t)), None) if access_request else None
    shown = [t for t in allowed if not (access_request and _granting(t))]
    administrator = contract_access.administrator_of(appeal.contract_id) if appeal.contract_id else None
    return DeskCard(state=engine.state_of(appeal), sla=engine.sla_state(appeal),
                    summary=appeal_forms.summary(appeal.form, appeal.form_data),
                    form_files=desk_card.form_files(appeal), messages=desk_card.dialogue(appeal),
                    history=desk_card.history(appeal), transitions=shown, grant_transition=grant,
                    is_access_request=access_request, administrator=administrator,
                    assignable=desk_card.assignable_users(appeal), canned=desk_card.canned_replies(appeal))


def mark_read(appeal: Appeal) -> None:
    """Opening the card clears the staff side's unread mark."""
    appeals.mark_read(appeal, "staff")


def canned_text(appeal: Appeal, canned_id, user) -> str:
    """The chosen canned reply rendered for this appeal and this curator (CannedReplyError when broken)."""
    reply = None
    if str(canned_id).isdigit():
        reply = next((r for r in desk_card.canned_replies(appeal) if r.id == int(canned_id)), None)
    if reply is None:
        raise desk_card.CannedReplyError(_("Choose a canned reply from the list."), field="canned")
    curator = desk_card.curator_of(user, appeal) or user
    return desk_card.render_canned_reply(reply, appeal, curator)


def reply(appeal: Appeal, actor, body: str, files=(), *, internal: bool = False,
          needs_decision: bool = False) -> AppealMessage:
    """A public reply (the customer is e-mailed) or an internal note; files are checked by content."""
    try:
        return appeals.reply(appeal, actor, body, files, internal=internal, needs_decision=needs_decision)
    except appeals.AppealError as error:
        raise ActionError(error.message) from None


def transition(appeal: Appeal, actor, transition_id, comment: str | None = None) -> str:
    """Perform one allowed transition; returns its label. A forged or stale id is refused."""
    chosen = None
    if transition_id is not None and str(transition_id).isdigit():
        chosen = next((t for t in engine.allowed_transitions(appeal, actor) if t.id == int(transition_id)), None)
    if chosen is None:
        raise ActionError(_("This action is not available for the appeal in its current status."))
    if _is_access_request(appeal) and _granting(chosen):
        raise ActionError(_("Use “Grant administrator role”: it grants the role, replies and closes the appeal."))
    label = chosen.label
    try:
        appeals.transition(appeal, actor, chosen.id, comment)
    except appeals.AppealError as error:
        raise ActionError(error.message) from None
    return label


def assign(appeal: Appeal, actor, choice: str | None) -> str | None:
    """Assign to a curator of the appeal's branch, to oneself ("me") or to nobody (""); returns the name."""
    choice = (choice or "").strip()
    candidates = dict(desk_card.assignable_users(appeal))
    if choice == "me":
        if actor.id not in candidates and appeal_desk.desk_branch_ids(actor) is not None:
            raise ActionError(_("You are not a curator of this appeal's branch."))
        assignee_id, name = actor.id, candidates.get(actor.id) or actor.full_name or actor.username
    elif not choice:
        assignee_id, name = None, None
    elif choice.isdigit() and int(choice) in candidates:
        assignee_id, name = int(choice), candidates[int(choice)]
    else:
        raise ActionError(_("Choose a curator of this appeal's branch."))
    if assignee_id == appeal.assignee_id:
        raise ActionError(_("The appeal is already assigned so."))
    try:
        appeals.assign(appeal, actor, assignee_id)
    except appeals.AppealError as error:
        raise ActionError(error.message) from None
    return name


def _grant_reply_text(appeal: Appeal) -> str:
    locale = appeal.author.locale or "ru"
    with force_locale(locale):
        return _("The administrator role on contract %(number)s has been granted to you. You can now manage the "
                 "contract's users in the portal (Contracts → Users of the contract).", number=appeal.contract.number)


def grant_administrator(appeal: Appeal, actor) -> ContractAccess:
    """Make the author the contract's administrator, reply publicly and close the appeal — all or nothing."""
    if not _is_access_request(appeal):
        raise ActionError(_("The administrator role is granted from “Access rights” appeals only."))
    if appeal.closed_at is not None:
        raise ActionError(_("The appeal is closed."))
    if appeal.contract is None:
        raise ActionError(_("The appeal names no contract: there is nothing to grant the role on."))
    author = appeal.author
    if author is None or not author.email or not author.is_customer:
        raise ActionError(_("The author of the appeal has no customer account to grant the role to."))
    granting = next((t for t in engine.allowed_transitions(appeal, actor) if _granting(t)), None)
    if granting is None:
        raise ActionError(_("The role cannot be granted in the appeal's current status."))
    contract = appeal.contract
    try:
        now = clock.now()
        message = AppealMessage(appeal_id=appeal.id, author_id=actor.id, from_staff=True, internal=False,
                                body=_grant_reply_text(appeal), created_at=now)
        db.session.add(message)
        appeal.customer_unread = True
        appeal.last_message_at = now
        appeal.first_response_at = appeal.first_response_at or now
        engine.perform_transition(appeal, granting.id, actor, _("Administrator role granted"))
        notices.queue_status_notice(appeal, granting.to_state)
        # The roles service checks the one-administrator rule, writes the audit row and the e-mail, and
        # commits: the reply and the transition above go in the same commit.
        access = contract_access.grant_administrator(contract, author.email, actor=actor)
    except contract_access.ContractAccessError as error:
        db.session.rollback()
        raise ActionError(error.message) from None
    except engine.WorkflowError as error:
        db.session.rollback()
        raise ActionError(str(error.message)) from None
    except Exception:
        db.session.rollback()
        raise
    return access

