"""Seeded appeal configuration (issue 6 item 2): the catalogue, forms and workflows of
`appeal_definitions_data`, written once by code.

Idempotent and respectful of admins: a topic, form or workflow whose code already exists (in any
version) is left exactly as it is, so `flask crm init` on every deploy never duplicates a row nor
undoes an edit made in the back office.
"""
from __future__ import annotations

from sqlalchemy import select

from crm.extensions import db
from crm.models import (
    AppealTopic,
    FormDefinition,
    FormField,
    FormStep,
    WorkflowDefinition,
    WorkflowState,
    WorkflowTransition,
)
from crm.services.appeal_definitions_data import FORMS, TOPICS, WORKFLOWS


def ensure_appeal_definitions(commit: bool = True) -> None:
    """Create the seeded topics, forms and workflows that do not exist yet (by code); never overwrite.

    `commit=False` leaves the rows flushed in the caller's transaction (the demo loader).
    """
    try:
        for code, (name, states, transitions) in WORKFLOWS.items():
            _ensure_workflow(code, name, states, transitions)
        for code, (name, steps) in FORMS.items():
            _ensure_form(code, name, steps)
        _ensure_topics()
        db.session.flush()
    except Exception:
        if commit:
            db.session.rollback()
        raise
    if commit:
        db.session.commit()


def _ensure_workflow(code: str, name: str, states: list[dict], transitions: list[tuple]) -> None:
    if db.session.scalar(select(WorkflowDefinition.id).where(WorkflowDefinition.code == code).limit(1)):
        return
    workflow = WorkflowDefinition(code=code, version=1, name=name, is_current=True)
    by_code = {}
    for position, spec in enumerate(states):
        state = WorkflowState(position=position, **spec)
        workflow.states.append(state)
        by_code[state.code] = state
    for source, target, label, role in transitions:
        workflow.transitions.append(WorkflowTransition(from_state=by_code[source], to_state=by_code[target],
                                                       label=label, allowed_role=role))
    db.session.add(workflow)


def _ensure_form(code: str, name: str, steps: list[tuple[str, list[dict]]]) -> None:
    if db.session.scalar(select(FormDefinition.id).where(FormDefinition.code == code).limit(1)):
        return
    form = FormDefinition(code=code, version=1, name=name, is_current=True)
    for position, (title, fields) in enumerate(steps, start=1):
        step = FormStep(position=position, title=title)
        step.fields = [FormField(position=n, **spec) for n, spec in enumerate(fields, start=1)]
        form.steps.append(step)
    db.session.add(form)


def _ensure_topics() -> None:
    existing = {topic.code: topic for topic in db.session.scalars(select(AppealTopic))}

    def ensure(code: str, **fields) -> AppealTopic:
        topic = existing.get(code)
        if topic is None:
            topic = existing[code] = AppealTopic(code=code, **fields)
            db.session.add(topic)
        return topic

    for position, spec in enumerate(TOPICS):
        topic = ensure(spec["code"], level="topic", name=spec["name"], position=position)
        for n, section_spec in enumerate(spec["sections"]):
            section = ensure(section_spec["code"], level="section", name=section_spec["name"], position=n,
                             parent=topic, form_code=section_spec["form"],
                             workflow_code=section_spec.get("workflow", "default"),
                             requires_contract=section_spec.get("requires_contract", False))
            for m, sub_spec in enumerate(section_spec.get("subsections", [])):
                ensure(sub_spec["code"], level="subsection", name=sub_spec["name"], position=m, parent=section,
                       requires_contract=section_spec.get("requires_contract", False))
