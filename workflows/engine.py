"""The one generic state machine over workflow definitions stored as data (SPEC B7, DESIGN habit 5).

Every appeal is pinned to the workflow VERSION it was created with (`appeal.workflow_id`), so an admin
who publishes a new version (a new WorkflowDefinition row with the same code) never changes the states
or transitions of appeals already in flight. `perform_transition()` is the only function that moves
an appeal between states: it refuses anything the pinned definition does not list for the current
state and the actor's role (writing nothing), otherwise it changes the state, writes an AppealEvent
and runs the SLA clock. It never commits: `workflows/appeals.py` owns the transaction.

Roles: staff act under their FAB role names ("Curator", "Admin", …); customers under "customer".
"Admin" may perform any staff transition; nobody but a customer may perform a "customer" one.

SLA clock rule (`start_sla`, run on entering every state):
- a closing state stops the clock (no due time, nothing kept);
- a state with `sla_paused` (e.g. waiting for the customer) freezes a running clock: the seconds
  left are kept in `sla_remaining_seconds` (negative when already overdue), `sla_paused_at` is set
  and `sla_due_at` becomes NULL; entering a paused state with no clock running changes nothing;
- leaving a paused state for a non-paused one resumes the frozen clock with the kept remainder
  (due = now + remainder); if no clock was frozen and the new state has `sla_hours`, a fresh clock starts;
- otherwise, entering a state with `sla_hours` starts a fresh clock of that many hours
  (due = now + hours, and a new escalation becomes possible); a state without `sla_hours` keeps
  whatever clock is running.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from crm import clock
from crm.extensions import db
from crm.models.appeal import Appeal, AppealEvent
from crm.models.user import CUSTOMER_ROLE
from crm.models.workflow import WorkflowState, WorkflowTransition

CUSTOMER = "customer"
ADMIN = "Admin"
#: `sla_state()` says "due_soon" when less than this is left.
DUE_SOON = timedelta(hours=4)


class WorkflowError(Exception):
    """A workflow rule was broken; `message` is localised for the user."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


class TransitionNotAllowedError(WorkflowError):
    """The transition is not in the appeal's workflow version, not from its state, or not for this role."""


def actor_roles(user) -> set[str]:
    """The role names a user acts under: FAB role names for staff, "customer" for customers."""
    if user is None:
        return set()
    names = {role.name for role in getattr(user, "roles", ())}
    roles = names - {CUSTOMER_ROLE}
    if CUSTOMER_ROLE in names:
        roles.add(CUSTOMER)
    return roles


def _role_allows(transition: WorkflowTransition, roles: set[str]) -> bool:
    if transition.allowed_role in roles:
        return True
    return ADMIN in roles and transition.allowed_role != CUSTOMER


def state_of(appeal: Appeal, code: str | None = None) -> WorkflowState | None:
    """The state `code` (default: the appeal's current state) of the appeal's pinned workflow version."""
    return db.session.scalars(select(WorkflowState).where(
        WorkflowState.workflow_id == appeal.workflow_id,
        WorkflowState.code == (code or appeal.state_code))).first()


def initial_state(workflow_id: int) -> WorkflowState | None:
    """The initial state of a workflow version (the first by position when none is marked)."""
    states = db.session.scalars(select(WorkflowState).where(WorkflowState.workflow_id == workflow_id)
                                .order_by(WorkflowState.position, WorkflowState.id)).all()
    return next((s for s in states if s.is_initial), states[0] if states else None)


def allowed_transitions(appeal: Appeal, user) -> list[WorkflowTransition]:
    """Transitions of the appeal's pinned workflow, from its current state, that `user` may perform."""
    roles = actor_roles(user)
    if not roles:
        return []
    current = state_of(appeal)
    if current is None:
        return []
    transitions = db.session.scalars(
        select(WorkflowTransition)
        .where(WorkflowTransition.workflow_id == appeal.workflow_id,
               WorkflowTransition.from_state_id == current.id)
        .options(joinedload(WorkflowTransition.to_state))
        .order_by(WorkflowTransition.id)
    ).all()
    return [t for t in transitions if _role_allows(t, roles)]


def start_sla(appeal: Appeal, state: WorkflowState, now: datetime) -> None:
    """Run the SLA clock on entering `state` (the rule is in the module docstring)."""
    if state.is_closing:
        appeal.sla_due_at = None
        appeal.sla_paused_at = None
        appeal.sla_remaining_seconds = None
        return
    if state.sla_paused:
        if appeal.sla_due_at is not None and appeal.sla_paused_at is None:
            appeal.sla_remaining_seconds = int((appeal.sla_due_at - now).total_seconds())
            appeal.sla_paused_at = now
            appeal.sla_due_at = None
        return
    if appeal.sla_paused_at is not None and appeal.sla_remaining_seconds is not None:
        appeal.sla_due_at = now + timedelta(seconds=appeal.sla_remaining_seconds)
        appeal.sla_paused_at = None
        appeal.sla_remaining_seconds = None
        return
    appeal.sla_paused_at = None
    appeal.sla_remaining_seconds = None
    if state.sla_hours:
        appeal.sla_due_at = now + timedelta(hours=state.sla_hours)
        appeal.escalated_at = None


def sla_state(appeal: Appeal, now: datetime | None = None) -> str | None:
    """"ok", "due_soon", "breached", "paused", or None when no clock runs (or the appeal is closed)."""
    if appeal.closed_at is not None:
        return None
    if appeal.sla_paused_at is not None:
        return "paused"
    if appeal.sla_due_at is None:
        return None
    now = now or clock.now()
    if now >= appeal.sla_due_at:
        return "breached"
    if appeal.sla_due_at - now <= DUE_SOON:
        return "due_soon"
    return "ok"


def enter_state(appeal: Appeal, target: WorkflowState, actor, *, kind: str, from_state: str | None,
                detail: dict | None = None) -> AppealEvent:
    """Put the appeal into `target` (state, times, SLA) and add the event; no permission check.

    Used by `perform_transition()` and by the system's own moves (creation, reopening after a low rating)."""
    now = clock.now()
    appeal.state_code = target.code
    appeal.state_entered_at = now
    appeal.closed_at = now if target.is_closing else None
    start_sla(appeal, target, now)
    event = AppealEvent(appeal=appeal, actor_id=getattr(actor, "id", None), kind=kind, from_state=from_state,
                        to_state=target.code, detail=detail, created_at=now)
    db.session.add(event)
    return event


def perform_transition(appeal: Appeal, transition_id: int, actor, comment: str | None = None) -> AppealEvent:
    """Move the appeal along one transition of its pinned workflow, if the actor's role may; no commit.

    Raises TransitionNotAllowedError (and changes nothing) otherwise."""
    transition = db.session.get(WorkflowTransition, transition_id) if transition_id is not None else None
    current = state_of(appeal)
    if (transition is None or current is None or transition.workflow_id != appeal.workflow_id
            or transition.from_state_id != current.id):
        raise TransitionNotAllowedError(_l("This action is not available for the appeal in its current status."))
    if not _role_allows(transition, actor_roles(actor)):
        raise TransitionNotAllowedError(_l("You are not allowed to perform this action on the appeal."))
    comment = (comment or "").strip() or None
    return enter_state(appeal, transition.to_state, actor, kind="transition", from_state=current.code,
                       detail={"comment": comment, "transition_id": transition.id, "label": transition.label})
