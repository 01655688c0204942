"""Editing appeal forms and workflows in the back office (B7) without changing appeals in flight.

"Edit = new version": a definition that any appeal or draft already uses is read-only; `new_form_version`
/ `new_workflow_version` copy it (steps and fields, or states and transitions) to version + 1, make the
copy current and leave the old one pinned to the appeals that use it. Validation collects every problem
of a definition (`ConfigInvalidError.errors`, a list of localised messages).
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from flask_babel import gettext as _
from sqlalchemy import exists, func, or_, select

from crm.extensions import db
from crm.models import (
    Appeal,
    AppealDraft,
    AppealTopic,
    FormDefinition,
    FormField,
    FormStep,
    WorkflowDefinition,
    WorkflowState,
    WorkflowTransition,
)
from crm.services import ServiceError
from crm.services.appeal_forms import DEFAULT_WORKFLOW_CODE, FIELD_TYPES, PREFILL_PATHS

CUSTOMER_ROLE = "customer"
_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]{0,63}")
_PLACEHOLDER = re.compile(r"{{\s*([^}]*?)\s*}}")


class ConfigInvalidError(ServiceError):
    """A definition breaks a rule; `errors` lists every problem, already localised."""

    def __init__(self, errors: list[str]):
        super().__init__(" ".join(errors), status=422)
        self.errors = errors


class DefinitionInUseError(ServiceError):
    """The definition is pinned by appeals: edits must go to a new version."""


def form_in_use(form_id: int) -> bool:
    """Whether an appeal or a draft was filed with this form version."""
    return bool(db.session.scalar(select(or_(exists().where(Appeal.form_id == form_id),
                                             exists().where(AppealDraft.form_id == form_id)))))


def workflow_in_use(workflow_id: int) -> bool:
    """Whether an appeal runs on this workflow version."""
    return bool(db.session.scalar(select(exists().where(Appeal.workflow_id == workflow_id))))


def refuse_form_edit(form: FormDefinition | None) -> None:
    """DefinitionInUseError when the form version is old or pinned by appeals or drafts (read-only)."""
    if form is None or form.id is None:
        return
    if not form.is_current:
        raise DefinitionInUseError(_("Version %(version)d of the form “%(name)s” is an old version and is read-only.",
                                     version=form.version, name=form.name))
    if form_in_use(form.id):
        raise DefinitionInUseError(_("Appeals already use version %(version)d of the form “%(name)s”, so it cannot "
                                     "be changed. Use “New version” and edit the copy.", version=form.version,
                                     name=form.name))


def refuse_workflow_edit(workflow: WorkflowDefinition | None) -> None:
    """DefinitionInUseError when the workflow version is old or pinned by appeals (read-only)."""
    if workflow is None or workflow.id is None:
        return
    if not workflow.is_current:
        raise DefinitionInUseError(_("Version %(version)d of the workflow “%(name)s” is an old version and is "
                                     "read-only.", version=workflow.version, name=workflow.name))
    if workflow_in_use(workflow.id):
        raise DefinitionInUseError(_("Appeals already use version %(version)d of the workflow “%(name)s”, so it "
                                     "cannot be changed. Use “New version” and edit the copy.",
                                     version=workflow.version, name=workflow.name))


def field_problems(name: str | None, field_type: str | None, options: Iterable[str] | None, regex: str | None,
                   prefill: str | None) -> list[str]:
    """Every rule a form field breaks (name an identifier, known type, options of a select, regex compiles)."""
    problems = []
    if not name or not _IDENTIFIER.fullmatch(name):
        problems.append(_("The field name must start with a Latin letter and contain only lowercase Latin "
                          "letters, digits and “_” (for example contact_phone)."))
    if field_type not in FIELD_TYPES:
        problems.append(_("Choose the field type from the list."))
    if field_type == "select" and not [option for option in options or [] if str(option).strip()]:
        problems.append(_("A choice field needs options, one per line."))
    if regex:
        try:
            re.compile(regex)
        except re.error as exc:
            problems.append(_("The regular expression does not compile: %(error)s.", error=str(exc)))
    if prefill and prefill not in PREFILL_PATHS:
        problems.append(_("Choose the prefill source from the list."))
    return problems


def check_form(form: FormDefinition) -> None:
    """ConfigInvalidError with every problem of the form: steps, field names unique, each field's rules."""
    problems = []
    if not form.steps:
        problems.append(_("A form needs at least one step."))
    seen = set()
    for step in form.steps:
        if not step.fields:
            problems.append(_("Step “%(title)s” has no fields.", title=step.title))
        for field in step.fields:
            if field.name in seen:
                problems.append(_("The field name “%(name)s” is used twice in the form.", name=field.name))
            seen.add(field.name)
            for problem in field_problems(field.name, field.field_type, field.options, field.regex, field.prefill):
                problems.append(f"{field.label}: {problem}")
    if problems:
        raise ConfigInvalidError(problems)


def check_workflow(workflow: WorkflowDefinition, staff_roles: Iterable[str] = (), without=None,
                   complete: bool = True) -> None:
    """ConfigInvalidError unless the workflow has exactly one initial state, a closing state, and
    transitions only between its own states by an allowed role. `without`: a state or transition about
    to be deleted (a deleted state takes its transitions with it). `complete=False` while an admin is
    still building a workflow no section uses: at most one initial state, closing states not yet needed."""
    problems = []
    states = [state for state in workflow.states if state is not without]
    transitions = [t for t in workflow.transitions
                   if t is not without and without not in (t.from_state, t.to_state)]
    initial = [state for state in states if state.is_initial]
    if len(initial) > 1 or (complete and not initial):
        problems.append(_("A workflow needs exactly one initial state (now %(count)d).", count=len(initial)))
    if complete and not any(state.is_closing for state in states):
        problems.append(_("A workflow needs at least one closing state."))
    if any(state.is_initial and state.is_closing for state in states):
        problems.append(_("The initial state cannot be a closing state."))
    codes = [state.code for state in states]
    for code in sorted({code for code in codes if codes.count(code) > 1}):
        problems.append(_("The state code “%(code)s” is used twice.", code=code))
    for code in codes:
        if not code or not _IDENTIFIER.fullmatch(code):
            problems.append(_("The state code “%(code)s” must start with a Latin letter and contain only "
                              "lowercase Latin letters, digits and “_”.", code=code or ""))
    own = {id(state) for state in states}
    allowed_roles = set(staff_roles) | {CUSTOMER_ROLE}
    pairs = set()
    for transition in transitions:
        pair = (id(transition.from_state), id(transition.to_state))
        if pair in pairs:
            problems.append(_("There is already a transition from “%(source)s” to “%(target)s”.",
                              source=transition.from_state.staff_label, target=transition.to_state.staff_label))
        pairs.add(pair)
        ends = (transition.from_state, transition.to_state)
        if any(end is None or id(end) not in own for end in ends):
            problems.append(_("Transition “%(label)s” must connect states of this workflow.",
                              label=transition.label))
        elif transition.from_state is transition.to_state:
            problems.append(_("Transition “%(label)s” leads to the state it starts from.", label=transition.label))
        if staff_roles and transition.allowed_role not in allowed_roles:
            problems.append(_("Transition “%(label)s”: role “%(role)s” does not exist.", label=transition.label,
                              role=transition.allowed_role))
    if problems:
        raise ConfigInvalidError(problems)


def workflow_is_live(workflow: WorkflowDefinition) -> bool:
    """Whether a catalogue entry names this workflow's code (so it must stay complete)."""
    return bool(db.session.scalar(select(exists().where(AppealTopic.workflow_code == workflow.code)))) or \
        workflow.code == DEFAULT_WORKFLOW_CODE


def placeholder_problems(body: str | None) -> list[str]:
    """Placeholders of a canned reply that the curator desk cannot fill (crm/services/appeal_desk.py)."""
    from crm.services.appeal_desk import PLACEHOLDERS

    unknown = sorted({name for name in _PLACEHOLDER.findall(body or "") if name not in PLACEHOLDERS})
    if not unknown:
        return []
    return [_("Unknown placeholders: %(unknown)s. Use %(names)s.",
              unknown=", ".join(unknown), names=", ".join(f"{{{{ {name} }}}}" for name in PLACEHOLDERS))]


def _next_version(model, code: str) -> int:
    return (db.session.scalar(select(func.max(model.version)).where(model.code == code)) or 0) + 1


def new_form_version(form_id: int) -> FormDefinition:
    """Copy a form version (steps, fields) to version + 1 and make the copy current; commits."""
    source = db.session.get(FormDefinition, form_id)
    if source is None:
        raise ServiceError(_("The form does not exist."), status=404)
    return _new_version(source, _copy_steps)


def new_workflow_version(workflow_id: int) -> WorkflowDefinition:
    """Copy a workflow version (states, transitions) to version + 1 and make the copy current; commits."""
    source = db.session.get(WorkflowDefinition, workflow_id)
    if source is None:
        raise ServiceError(_("The workflow does not exist."), status=404)
    return _new_version(source, _copy_states_and_transitions)


def _new_version(source, copy_parts):
    """The copy of form or workflow `source` as version + 1, made current: `copy_parts(source, copy)` copies
    its rows. Commits; on any error rolls back and re-raises."""
    model = type(source)
    try:
        copy = model(code=source.code, version=_next_version(model, source.code), name=source.name, is_current=True)
        copy_parts(source, copy)
        _make_current(model, source.code)
        db.session.add(copy)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return copy


def _copy_steps(source: FormDefinition, copy: FormDefinition) -> None:
    for step in source.steps:
        new_step = FormStep(position=step.position, title=step.title)
        new_step.fields = [FormField(position=f.position, name=f.name, label=f.label, field_type=f.field_type,
                                     required=f.required, options=list(f.options) if f.options else None,
                                     regex=f.regex, help_text=f.help_text, prefill=f.prefill)
                           for f in step.fields]
        copy.steps.append(new_step)


def _copy_states_and_transitions(source: WorkflowDefinition, copy: WorkflowDefinition) -> None:
    states = {}
    for state in source.states:
        states[state.id] = WorkflowState(
            code=state.code, staff_label=state.staff_label, customer_label=state.customer_label,
            position=state.position, is_initial=state.is_initial, is_closing=state.is_closing,
            dialogue_allowed=state.dialogue_allowed, sla_hours=state.sla_hours, sla_paused=state.sla_paused)
        copy.states.append(states[state.id])
    for transition in source.transitions:
        copy.transitions.append(WorkflowTransition(
            from_state=states[transition.from_state_id], to_state=states[transition.to_state_id],
            label=transition.label, allowed_role=transition.allowed_role))


def _make_current(model, code: str) -> None:
    """Every other version of `code` stops being current (the caller adds the new current one)."""
    for other in db.session.scalars(select(model).where(model.code == code, model.is_current.is_(True))):
        other.is_current = False
    db.session.flush()
