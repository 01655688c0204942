"""Back office «Настройка обращений» (B7): the appeal catalogue, forms, workflows, canned replies and
assignment rules, edited by admins with no code or deploy.

Forms and workflows follow "edit = new version" (crm/services/appeal_config.py): a version that appeals
already use, or an old version, is read-only; the action «Новая версия» copies it to version + 1 and makes
the copy current. Every save is checked by the service; a refusal is flashed and nothing is written.
"""
from __future__ import annotations

import re

from flask import flash, redirect, url_for
from flask_appbuilder.actions import action
from flask_appbuilder.fields import QuerySelectField, QuerySelectMultipleField
from flask_appbuilder.fieldwidgets import Select2ManyWidget, Select2Widget
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import inspect, select
from wtforms import BooleanField, TextAreaField
from wtforms.validators import DataRequired, Optional

from crm.extensions import db
from crm.models import (
    STAFF_ROLES,
    AppealTopic,
    AssignmentRule,
    Branch,
    CannedReply,
    FormDefinition,
    FormField,
    FormStep,
    WorkflowDefinition,
    WorkflowState,
    WorkflowTransition,
)
from crm.services import ServiceError
from crm.services.appeal_config import (
    CUSTOMER_ROLE,
    ConfigInvalidError,
    check_form,
    check_workflow,
    field_problems,
    new_form_version,
    new_workflow_version,
    placeholder_problems,
    refuse_form_edit,
    refuse_workflow_edit,
    workflow_is_live,
)
from crm.services.appeal_forms import FIELD_TYPE_LABELS, PREFILL_PATHS, current_version
from crm.views.common import CrmModelView, EagerSQLAInterface, add_category_views, optional, timestamp, yes_no
from crm.views.labels import labels
from crm.views.staff import staff_user_ids

ADMIN_ONLY: dict[str, str] = {}  # Admin holds every permission; no other staff role sees these views
LEVELS = [("topic", _l("Topic")), ("section", _l("Section")), ("subsection", _l("Subsection"))]
FIELD_TYPES = list(FIELD_TYPE_LABELS.items())
PREFILL_CHOICES = [(path, label) for path, (label, _getter) in PREFILL_PATHS.items()]
ROLE_NAMES = {"Admin": _l("Administrator"), "Curator": _l("Curator"), "Billing operator": _l("Billing operator"),
              "Auditor": _l("Auditor")}
ROLE_CHOICES = [(role, ROLE_NAMES.get(role, role)) for role in STAFF_ROLES] + [
    (CUSTOMER_ROLE, _l("Customer (the appeal's author)"))]

LABELS = dict(
    parent=_l("Parent"), level=_l("Level"), position=_l("Order"), form_code=_l("Form code"),
    workflow_code=_l("Workflow code"), requires_contract=_l("Requires a contract"), version=_l("Version"),
    is_current=_l("Current version"), steps=_l("Steps"), form=_l("Form"), title=_l("Title"), step=_l("Step"),
    label=_l("Label"), field_type=_l("Field type"), required=_l("Required"), options_text=_l("Options"),
    options=_l("Options"), regex=_l("Regular expression"), help_text=_l("Help text"), prefill=_l("Prefill from"),
    workflow=_l("Workflow"), staff_label=_l("Name for staff"), customer_label=_l("Name for the customer"),
    sla_hours=_l("SLA, hours"), sla_paused=_l("SLA clock paused"), dialogue_allowed=_l("Dialogue open"),
    is_initial=_l("Initial"), is_closing=_l("Closing"), from_state=_l("From state"), to_state=_l("To state"),
    allowed_role=_l("Allowed role"), body=_l("Text"), section=_l("Section"), users=_l("Staff users"),
    name=_l("Name"), active=_l("Enabled"),
)


def _refuse(error: ServiceError):
    """Undo what the form copied into the row and hand FAB the message to flash."""
    db.session.rollback()
    return ValueError(error.message)


def _problems(check, *args, **kwargs) -> list[str]:
    try:
        check(*args, **kwargs)
    except ConfigInvalidError as error:
        return error.errors
    return []


def _previous(item, relation: str):
    """The parent a row had before this edit (moving a row out of a pinned definition changes it too)."""
    history = inspect(item).attrs[relation].history
    return history.deleted[0] if history.deleted else None


def _guard(check, *args, **kwargs) -> None:
    with db.session.no_autoflush:
        try:
            check(*args, **kwargs)
        except ServiceError as error:
            raise _refuse(error) from None


def _live(workflow: WorkflowDefinition) -> bool:
    with db.session.no_autoflush:
        return workflow_is_live(workflow)


def _form_label(form: FormDefinition) -> str:
    return f"{form.name} ({form.code}) v{form.version}"


def _current_rows(definition, part=None):
    """The current versions of `definition` by code, or their `part` rows (steps, states) by code and position:
    what a pick list offers, since only a current version is editable."""
    if part is None:
        query = select(definition).order_by(definition.code)
    else:
        query = select(part).join(definition).order_by(definition.code, part.position)
    return db.session.scalars(query.where(definition.is_current.is_(True))).all()


def _code_problem(code: str) -> str | None:
    """Why `code` cannot be a catalogue, form or workflow code (None when it can)."""
    if re.fullmatch(r"[a-z][a-z0-9_]{0,63}", code or ""):
        return None
    return gettext("The code must start with a Latin letter and contain only lowercase Latin letters, digits "
                   "and “_”.")


def _flags(*names: str) -> dict:
    """Checkboxes for NOT NULL booleans: FAB would mark them required, so an unticked box never saves."""
    return {name: BooleanField(LABELS[name]) for name in names}


def _query_field(label, query, get_label, required=True):
    return QuerySelectField(label, query_func=query, get_pk_func=lambda row: row.id, get_label=get_label,
                            allow_blank=not required, widget=Select2Widget(),
                            validators=[DataRequired()] if required else [Optional()])


class _ConfigView(CrmModelView):
    """A view of this area: admins only unless it says otherwise, the area's column labels."""

    staff_access = ADMIN_ONLY
    label_columns = labels(**LABELS)


class _CheckedView(_ConfigView):
    """Add and edit run the same `_check(item)`, which raises to refuse the save (nothing is written)."""

    def pre_add(self, item):
        self._check(item)

    def pre_update(self, item):
        self._check(item)

    def _check(self, item) -> None:
        """Raise the service's error when `item` breaks a rule; every subclass says which rules."""
        raise NotImplementedError


class _DefinitionPartView(_CheckedView):
    """A step, field, state or transition: part of a form or workflow version, so it may change only while
    that version may (current and not used by appeals, see `refuse_edit`)."""

    part_of = ""  # the relation to the row's parent
    refuse_edit = None  # the service refusal for the parent's definition

    @staticmethod
    def _definition(parent):
        """The form or workflow version of `parent` (the parent itself, but for a field: its step's form)."""
        return parent

    def _guard_definitions(self, item) -> None:
        """Refuse when the row's version, or the one it is moved out of, is read-only."""
        with db.session.no_autoflush:
            for parent in (getattr(item, self.part_of), _previous(item, self.part_of)):
                _guard(type(self).refuse_edit, self._definition(parent) if parent is not None else None)

    def _check(self, item) -> None:
        self._guard_definitions(item)

    def pre_delete(self, item):
        _guard(type(self).refuse_edit, self._definition(getattr(item, self.part_of)))
        super().pre_delete(item)


class AppealTopicView(_CheckedView):
    """The catalogue tree: topics → sections → subsections, with the form and workflow of each section."""

    route_base = "/admin/appeal-topics"
    datamodel = EagerSQLAInterface(AppealTopic)
    list_title = _l("Appeal topics and sections")
    show_title = add_title = edit_title = _l("Appeal topic or section")
    list_columns = ["code", "name", "level", "parent", "position", "form_code", "workflow_code", "requires_contract",
                    "active"]
    show_columns = add_columns = edit_columns = ["parent", "level", "code", "name", "position", "active",
                                                 "form_code", "workflow_code", "requires_contract"]
    search_columns = ["code", "name", "level", "parent", "active", "form_code", "workflow_code"]
    base_order = ("code", "asc")
    choice_columns = {"level": LEVELS}
    description_columns = {
        "form_code": _l("Code of a form (Forms list). A subsection without one uses its section's form."),
        "workflow_code": _l("Code of a workflow (Workflows list); empty means “default”."),
    }
    formatters_columns = {"requires_contract": yes_no, "active": yes_no}
    add_form_extra_fields = edit_form_extra_fields = _flags("active", "requires_contract")

    def _check(self, item: AppealTopic) -> None:
        problems = []
        parent_level = {"topic": None, "section": "topic", "subsection": "section"}[item.level]
        if parent_level is None and item.parent is not None:
            problems.append(gettext("A topic has no parent."))
        if parent_level is not None and (item.parent is None or item.parent.level != parent_level):
            problems.append(gettext("The parent of a section is a topic, the parent of a subsection a section."))
        if code_problem := _code_problem(item.code):
            problems.append(code_problem)
        item.form_code = (item.form_code or "").strip() or None
        item.workflow_code = (item.workflow_code or "").strip() or None
        with db.session.no_autoflush:
            form = current_version(FormDefinition, item.form_code) if item.form_code else None
            if item.form_code and form is None:
                problems.append(gettext("There is no form with the code “%(code)s”.", code=item.form_code))
            elif form:
                problems += _problems(check_form, form)
            workflow = current_version(WorkflowDefinition, item.workflow_code) if item.workflow_code else None
            if item.workflow_code and workflow is None:
                problems.append(gettext("There is no workflow with the code “%(code)s”.", code=item.workflow_code))
            elif workflow:
                problems += _problems(check_workflow, workflow, STAFF_ROLES)
        if problems:
            raise _refuse(ConfigInvalidError(problems))


class FormFieldView(_DefinitionPartView):
    """Fields of a form step; editable only in a current version no appeal uses yet."""

    route_base = "/admin/appeal-form-fields"
    datamodel = EagerSQLAInterface(FormField)
    list_title = _l("Form fields")
    show_title = add_title = edit_title = _l("Form field")
    list_columns = ["step", "position", "name", "label", "field_type", "required", "prefill"]
    show_columns = ["step", "position", "name", "label", "field_type", "required", "options", "regex", "help_text",
                    "prefill"]
    add_columns = edit_columns = ["step", "position", "name", "label", "field_type", "required", "options_text",
                                  "regex", "help_text", "prefill"]
    base_order = ("position", "asc")
    choice_columns = {"field_type": FIELD_TYPES, "prefill": optional(PREFILL_CHOICES)}
    add_form_extra_fields = edit_form_extra_fields = {
        "step": _query_field(_l("Step"), lambda: _current_rows(FormDefinition, FormStep),
                             lambda step: f"{_form_label(step.form)} — {step.position}. {step.title}"),
        "options_text": TextAreaField(_l("Options"), description=_l("For a choice field: one option per line."),
                                      render_kw={"rows": 5}),
        **_flags("required"),
    }
    description_columns = {
        "name": _l("Technical name: lowercase Latin letters, digits and “_”, unique in the form."),
        "regex": _l("Optional. The whole value must match, e.g. \\d{10}|\\d{12}; say the format in the help text."),
        "help_text": _l("Shown under the field and in the error message."),
    }
    formatters_columns = {"required": yes_no, "options": lambda options: "; ".join(options or [])}
    part_of = "step"
    refuse_edit = staticmethod(refuse_form_edit)

    @staticmethod
    def _definition(parent: FormStep) -> FormDefinition:
        return parent.form

    def prefill_form(self, form, pk):
        item = self.datamodel.get(pk)
        form.options_text.data = "\n".join(item.options or [])

    def _check(self, item: FormField) -> None:
        text = getattr(item, "options_text", None) or ""
        item.options = [line.strip() for line in text.splitlines() if line.strip()] or None
        item.name = (item.name or "").strip()
        item.regex = (item.regex or "").strip() or None
        self._guard_definitions(item)
        with db.session.no_autoflush:
            problems = field_problems(item.name, item.field_type, item.options, item.regex, item.prefill)
            clash = [f for s in item.step.form.steps for f in s.fields
                     if f is not item and f.name == item.name] if item.step is not None else []
        if clash:
            problems.append(gettext("The field name “%(name)s” is used twice in the form.", name=item.name))
        if problems:
            raise _refuse(ConfigInvalidError(problems))


class FormStepView(_DefinitionPartView):
    route_base = "/admin/appeal-form-steps"
    datamodel = EagerSQLAInterface(FormStep)
    list_title = _l("Form steps")
    show_title = add_title = edit_title = _l("Form step")
    list_columns = ["form", "position", "title"]
    show_columns = add_columns = edit_columns = ["form", "position", "title"]
    base_order = ("position", "asc")
    related_views = [FormFieldView]
    add_form_extra_fields = edit_form_extra_fields = {
        "form": _query_field(_l("Form"), lambda: _current_rows(FormDefinition), _form_label),
    }
    part_of = "form"
    refuse_edit = staticmethod(refuse_form_edit)


class _VersionedView(_ConfigView):
    """Shared by forms and workflows: version 1 on add, «New version» action, old versions read-only."""

    copy_version = None  # the service function copying a version
    refuse_edit = None
    list_columns = show_columns = ["code", "name", "version", "is_current", "created_at"]
    add_columns = ["code", "name"]
    edit_columns = ["name"]
    search_columns = ["code", "name", "is_current"]
    base_order = ("code", "asc")
    formatters_columns = {"is_current": yes_no, "created_at": timestamp}

    def pre_add(self, item):
        item.code = (item.code or "").strip()
        if code_problem := _code_problem(item.code):
            raise ValueError(code_problem)
        model = type(item)
        with db.session.no_autoflush:
            if db.session.scalar(select(model.id).where(model.code == item.code).limit(1)):
                raise ValueError(gettext("The code “%(code)s” is taken; use “New version” to change it.",
                                         code=item.code))
        item.version, item.is_current = 1, True

    def pre_update(self, item):
        _guard(type(self).refuse_edit, item)

    def pre_delete(self, item):
        _guard(type(self).refuse_edit, item)
        column = AppealTopic.form_code if isinstance(item, FormDefinition) else AppealTopic.workflow_code
        with db.session.no_autoflush:
            users = db.session.scalars(select(AppealTopic.name).where(column == item.code)).all()
        if users:
            raise ValueError(gettext("Sections %(names)s use “%(code)s”; choose another one there first.",
                                     names=", ".join(f"«{name}»" for name in users), code=item.code))
        super().pre_delete(item)

    def _copy(self, item):
        items = item if isinstance(item, list) else [item]
        if len(items) != 1:
            flash(gettext("Choose one definition for a new version."), "warning")
            return redirect(url_for(f"{type(self).__name__}.list"))
        try:
            copy = type(self).copy_version(items[0].id)
        except ServiceError as error:
            flash(error.message, "danger")
            return redirect(url_for(f"{type(self).__name__}.list"))
        self._audit("appeal_config.new_version", {"type": type(copy).__name__, "id": copy.id, "code": copy.code,
                                                  "version": copy.version})
        flash(gettext("Version %(version)d created and made current; appeals already filed keep their version.",
                      version=copy.version), "success")
        return redirect(url_for(f"{type(self).__name__}.show", pk=copy.id))

    @action("new_version", _l("New version"), _l("Copy this version to a new current version?"), "fa-copy",
            multiple=False)
    def new_version_action(self, item):
        return self._copy(item)


class FormDefinitionView(_VersionedView):
    """Multi-step forms; the show page lists the steps, each step its fields."""

    route_base = "/admin/appeal-forms"
    datamodel = EagerSQLAInterface(FormDefinition)
    copy_version = staticmethod(new_form_version)
    refuse_edit = staticmethod(refuse_form_edit)
    list_title = _l("Appeal forms")
    show_title = add_title = edit_title = _l("Appeal form")
    related_views = [FormStepView]


class WorkflowStateView(_DefinitionPartView):
    route_base = "/admin/appeal-workflow-states"
    datamodel = EagerSQLAInterface(WorkflowState)
    list_title = _l("Workflow states")
    show_title = add_title = edit_title = _l("Workflow state")
    list_columns = ["workflow", "position", "code", "staff_label", "customer_label", "sla_hours", "sla_paused",
                    "dialogue_allowed", "is_initial", "is_closing"]
    show_columns = add_columns = edit_columns = ["workflow", "position", "code", "staff_label", "customer_label",
                                                 "sla_hours", "sla_paused", "dialogue_allowed", "is_initial",
                                                 "is_closing"]
    base_order = ("position", "asc")
    add_form_extra_fields = edit_form_extra_fields = {
        "workflow": _query_field(_l("Workflow"), lambda: _current_rows(WorkflowDefinition), str),
        **_flags("sla_paused", "dialogue_allowed", "is_initial", "is_closing"),
    }
    description_columns = {
        "sla_hours": _l("Hours to act in this state; empty: no deadline."),
        "sla_paused": _l("The SLA clock stops while the appeal is here (e.g. waiting for the customer)."),
        "dialogue_allowed": _l("The customer may write in this state."),
    }
    formatters_columns = {key: yes_no for key in ("sla_paused", "dialogue_allowed", "is_initial", "is_closing")}
    part_of = "workflow"
    refuse_edit = staticmethod(refuse_workflow_edit)

    def pre_delete(self, item):
        super().pre_delete(item)
        _guard(check_workflow, item.workflow, STAFF_ROLES, without=item, complete=_live(item.workflow))

    def _check(self, item: WorkflowState) -> None:
        item.code = (item.code or "").strip()
        if item.sla_hours is not None and not 1 <= item.sla_hours <= 24 * 365:
            raise _refuse(ServiceError(gettext("SLA hours are a whole number from 1 to 8760.")))
        self._guard_definitions(item)
        _guard(check_workflow, item.workflow, STAFF_ROLES, complete=_live(item.workflow))


class WorkflowTransitionView(_DefinitionPartView):
    route_base = "/admin/appeal-workflow-transitions"
    datamodel = EagerSQLAInterface(WorkflowTransition)
    list_title = _l("Workflow transitions")
    show_title = add_title = edit_title = _l("Workflow transition")
    list_columns = ["workflow", "from_state", "to_state", "label", "allowed_role"]
    show_columns = add_columns = edit_columns = ["workflow", "from_state", "to_state", "label", "allowed_role"]
    choice_columns = {"allowed_role": ROLE_CHOICES}
    add_form_extra_fields = edit_form_extra_fields = {
        "workflow": _query_field(_l("Workflow"), lambda: _current_rows(WorkflowDefinition), str),
        "from_state": _query_field(_l("From state"), lambda: _current_rows(WorkflowDefinition, WorkflowState),
                                   lambda state: f"{state.workflow} — {state.staff_label}"),
        "to_state": _query_field(_l("To state"), lambda: _current_rows(WorkflowDefinition, WorkflowState),
                                 lambda state: f"{state.workflow} — {state.staff_label}"),
    }
    part_of = "workflow"
    refuse_edit = staticmethod(refuse_workflow_edit)

    def _check(self, item: WorkflowTransition) -> None:
        self._guard_definitions(item)
        _guard(check_workflow, item.workflow, STAFF_ROLES, complete=_live(item.workflow))


class WorkflowDefinitionView(_VersionedView):
    """Workflows; the show page lists states and transitions."""

    route_base = "/admin/appeal-workflows"
    datamodel = EagerSQLAInterface(WorkflowDefinition)
    copy_version = staticmethod(new_workflow_version)
    refuse_edit = staticmethod(refuse_workflow_edit)
    list_title = _l("Appeal workflows")
    show_title = add_title = edit_title = _l("Appeal workflow")
    related_views = [WorkflowStateView, WorkflowTransitionView]


class CannedReplyView(_CheckedView):
    route_base = "/admin/canned-replies"
    datamodel = EagerSQLAInterface(CannedReply)
    staff_access = {"Curator": "read"}
    list_title = _l("Canned replies")
    show_title = add_title = edit_title = _l("Canned reply")
    list_columns = ["title", "section", "active"]
    show_columns = add_columns = edit_columns = ["title", "body", "section", "active"]
    search_columns = ["title", "body", "section", "active"]
    base_order = ("title", "asc")
    formatters_columns = {"active": yes_no}
    add_form_extra_fields = edit_form_extra_fields = _flags("active")
    description_columns = {
        "body": _l("Placeholders: {{ customer_name }}, {{ appeal_number }}, {{ appeal_title }}, "
                   "{{ contract_number }}, {{ curator_name }}, {{ curator_phone }}."),
        "section": _l("Offered first for appeals of this section; empty: for every section."),
    }

    def _check(self, item: CannedReply) -> None:
        problems = placeholder_problems(item.body)
        if problems:
            raise _refuse(ConfigInvalidError(problems))


class AssignmentRuleView(_ConfigView):
    route_base = "/admin/assignment-rules"
    datamodel = EagerSQLAInterface(AssignmentRule)
    list_title = _l("Assignment rules")
    show_title = add_title = edit_title = _l("Assignment rule")
    list_columns = ["name", "branch", "section", "active"]
    show_columns = add_columns = edit_columns = ["name", "branch", "section", "users", "active"]
    search_columns = ["name", "branch", "section", "active"]
    base_order = ("name", "asc")
    formatters_columns = {"active": yes_no, "users": lambda users: ", ".join(u.full_name for u in users or [])}
    description_columns = {
        "branch": _l("Empty: appeals of every branch."),
        "section": _l("Empty: appeals of every section. The most specific enabled rule wins."),
        "users": _l("New appeals go to these staff users in turn."),
    }
    add_form_extra_fields = edit_form_extra_fields = {
        "branch": _query_field(_l("Branch"), lambda: db.session.scalars(select(Branch).order_by(Branch.code)).all(),
                               lambda branch: f"{branch.code} {branch.name}", required=False),
        "section": _query_field(_l("Section"), lambda: db.session.scalars(
            select(AppealTopic).where(AppealTopic.level != "topic").order_by(AppealTopic.code)).all(),
            lambda topic: f"{topic.name} ({topic.code})", required=False),
        "users": QuerySelectMultipleField(
            _l("Staff users"), query_func=lambda: _staff_users(), get_pk_func=lambda user: user.id,
            get_label=lambda user: f"{user.full_name} ({user.username})", widget=Select2ManyWidget(),
            validators=[DataRequired(message=_l("Choose at least one staff user."))]),
        **_flags("active"),
    }


def _staff_users():
    from crm.models import CrmUser

    ids = staff_user_ids()
    return db.session.scalars(select(CrmUser).where(CrmUser.id.in_(ids), CrmUser.active.is_(True))
                              .order_by(CrmUser.last_name)).all()


def register_appeal_config_views(appbuilder) -> None:
    """Add this area's views to `appbuilder` (called by crm.views.register_views)."""
    add_category_views(appbuilder, ("Appeal settings", _l("Appeal settings"), "fa-sliders"), (
        (AppealTopicView, "Appeal topics", _l("Topics and sections"), "fa-sitemap"),
        (FormDefinitionView, "Appeal forms", _l("Forms"), "fa-wpforms"),
        (WorkflowDefinitionView, "Appeal workflows", _l("Workflows"), "fa-random"),
        (CannedReplyView, "Canned replies", _l("Canned replies"), "fa-comment-o"),
        (AssignmentRuleView, "Assignment rules", _l("Assignment rules"), "fa-user-plus"),
    ))
    for view in (FormStepView, FormFieldView, WorkflowStateView, WorkflowTransitionView):
        appbuilder.add_view_no_menu(view)
