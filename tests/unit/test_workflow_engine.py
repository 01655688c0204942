"""The workflow engine: only what the pinned definition allows, for the right role; SLA clock rules."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from crm import clock
from crm.models import Appeal, AppealEvent, WorkflowDefinition, WorkflowTransition
from tests import factories
from workflows import appeals, engine

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture()
def setup(db):
    clock.set_now(T0)
    workflow = factories.workflow_definition()
    factories.appeal_form()
    section = factories.appeal_section()
    customer = factories.user()
    curator = factories.user(roles=("Curator",))
    db.session.commit()
    return {"workflow": workflow, "section": section, "customer": customer, "curator": curator}


def _submit(setup) -> Appeal:
    return appeals.submit_appeal(setup["customer"], section_id=setup["section"].id,
                                 form_data={"description": "Не открывается страница показаний"})


def _transition(appeal: Appeal, label: str) -> WorkflowTransition:
    from crm.extensions import db

    return db.session.scalars(select(WorkflowTransition).where(
        WorkflowTransition.workflow_id == appeal.workflow_id, WorkflowTransition.label == label)).one()


def _events(db, appeal) -> int:
    return db.session.scalar(select(func.count(AppealEvent.id)).where(AppealEvent.appeal_id == appeal.id))


def _move(db, appeal, label, actor, comment=None):
    event = engine.perform_transition(appeal, _transition(appeal, label).id, actor, comment)
    db.session.commit()
    return event


def test_transition_is_refused_and_nothing_written_when_not_from_the_current_state(db, setup):
    appeal = _submit(setup)
    before = _events(db, appeal)

    with pytest.raises(engine.TransitionNotAllowedError):
        engine.perform_transition(appeal, _transition(appeal, "Close").id, setup["curator"])
    with pytest.raises(engine.TransitionNotAllowedError):
        engine.perform_transition(appeal, 999_999, setup["curator"])
    db.session.commit()

    db.session.refresh(appeal)
    assert appeal.state_code == "new" and appeal.closed_at is None
    assert _events(db, appeal) == before


def test_transition_of_another_workflow_is_refused_when_ids_are_forged(db, setup):
    other = factories.workflow_definition(code="other")
    db.session.commit()
    appeal = _submit(setup)
    foreign = db.session.scalars(select(WorkflowTransition).where(
        WorkflowTransition.workflow_id == other.id, WorkflowTransition.label == "Take into work")).one()

    with pytest.raises(engine.TransitionNotAllowedError):
        engine.perform_transition(appeal, foreign.id, setup["curator"])
    assert appeal.state_code == "new"


def test_transition_is_refused_and_nothing_written_when_the_role_is_not_allowed(db, setup):
    appeal = _submit(setup)
    operator = factories.user(roles=("Billing operator",))
    db.session.commit()
    before = _events(db, appeal)

    for actor in (setup["customer"], operator):
        with pytest.raises(engine.TransitionNotAllowedError):
            engine.perform_transition(appeal, _transition(appeal, "Take into work").id, actor)
    with pytest.raises(engine.TransitionNotAllowedError):
        engine.perform_transition(appeal, _transition(appeal, "Withdraw").id, setup["curator"])
    db.session.commit()

    db.session.refresh(appeal)
    assert appeal.state_code == "new"
    assert _events(db, appeal) == before


def test_allowed_transitions_follow_the_role_when_listed(db, setup):
    appeal = _submit(setup)
    admin = factories.user(roles=("Admin",))
    db.session.commit()

    assert [t.label for t in engine.allowed_transitions(appeal, setup["curator"])] == ["Take into work"]
    assert [t.label for t in engine.allowed_transitions(appeal, setup["customer"])] == ["Withdraw"]
    # Admin may do any staff transition, never the customer's own.
    assert [t.label for t in engine.allowed_transitions(appeal, admin)] == ["Take into work"]
    assert engine.allowed_transitions(appeal, None) == []


def test_transition_writes_the_event_and_state_when_allowed(db, setup):
    appeal = _submit(setup)
    clock.advance(timedelta(minutes=30))

    event = _move(db, appeal, "Take into work", setup["curator"], "  Взяла в работу  ")

    assert appeal.state_code == "in_progress" and appeal.state_entered_at == clock.now()
    assert (event.kind, event.from_state, event.to_state, event.actor_id) == (
        "transition", "new", "in_progress", setup["curator"].id)
    assert event.detail["comment"] == "Взяла в работу"


def test_closing_sets_closed_at_and_stops_the_clock_when_closed(db, setup):
    appeal = _submit(setup)
    _move(db, appeal, "Take into work", setup["curator"])
    clock.advance(timedelta(hours=5))
    _move(db, appeal, "Close", setup["curator"])

    assert appeal.closed_at == clock.now()
    assert appeal.sla_due_at is None and engine.sla_state(appeal) is None
    assert engine.allowed_transitions(appeal, setup["curator"]) == []


def test_old_appeals_keep_their_version_when_the_definition_gets_a_new_one(db, setup):
    old = _submit(setup)
    # As the configuration screens do: a new version row with the same code becomes current.
    setup["workflow"].is_current = False
    factories.workflow_definition(version=2, transitions=[("new", "closed", "Curator", "Close at once")])
    db.session.commit()

    new = _submit(setup)

    v1, v2 = (db.session.scalars(select(WorkflowDefinition).where(WorkflowDefinition.code == "support",
                                                                   WorkflowDefinition.version == v)).one()
              for v in (1, 2))
    assert (old.workflow_id, new.workflow_id) == (v1.id, v2.id)
    assert [t.label for t in engine.allowed_transitions(old, setup["curator"])] == ["Take into work"]
    assert [t.label for t in engine.allowed_transitions(new, setup["curator"])] == ["Close at once"]
    with pytest.raises(engine.TransitionNotAllowedError):
        engine.perform_transition(old, _transition(new, "Close at once").id, setup["curator"])
    _move(db, old, "Take into work", setup["curator"])
    assert old.state_code == "in_progress"


def test_sla_pauses_and_resumes_with_the_remainder_when_waiting_for_the_customer(db, setup):
    appeal = _submit(setup)
    assert appeal.sla_due_at == T0 + timedelta(hours=24)

    clock.advance(timedelta(hours=2))
    _move(db, appeal, "Take into work", setup["curator"])  # a state with its own SLA: a fresh clock
    assert appeal.sla_due_at == T0 + timedelta(hours=2 + 72)

    clock.advance(timedelta(hours=10))
    _move(db, appeal, "Ask the customer", setup["curator"])
    assert appeal.sla_due_at is None and appeal.sla_paused_at == clock.now()
    assert appeal.sla_remaining_seconds == 62 * 3600
    assert engine.sla_state(appeal) == "paused"

    clock.advance(timedelta(days=5))  # the customer takes their time: the clock does not run
    assert engine.sla_state(appeal) == "paused"
    _move(db, appeal, "Resume", setup["curator"])
    assert appeal.sla_due_at == clock.now() + timedelta(hours=62)
    assert appeal.sla_paused_at is None and appeal.sla_remaining_seconds is None
    assert engine.sla_state(appeal) == "ok"

    clock.advance(timedelta(hours=59))
    assert engine.sla_state(appeal) == "due_soon"
    clock.advance(timedelta(hours=3))
    assert engine.sla_state(appeal) == "breached"


def test_overdue_remainder_is_kept_when_paused_after_the_due_time(db, setup):
    appeal = _submit(setup)
    _move(db, appeal, "Take into work", setup["curator"])
    clock.advance(timedelta(hours=80))  # 8 hours overdue
    _move(db, appeal, "Ask the customer", setup["curator"])
    assert appeal.sla_remaining_seconds == -8 * 3600

    clock.advance(timedelta(hours=1))
    _move(db, appeal, "Resume", setup["curator"])
    assert engine.sla_state(appeal) == "breached"


def test_paused_state_without_a_running_clock_changes_nothing_when_entered(db, setup):
    appeal = _submit(setup)
    appeal.sla_due_at = None
    state = engine.state_of(appeal, "waiting_customer")

    engine.start_sla(appeal, state, clock.now())

    assert appeal.sla_paused_at is None and appeal.sla_remaining_seconds is None
    assert engine.sla_state(appeal) is None
