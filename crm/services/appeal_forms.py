"""Multi-step appeal forms stored as data (B7): which definition a section uses, cleaning and checking
what a customer typed step by step, prefilling from the profile or the contract, and the read-only
summary the portal card and the curator desk show.

Read helpers only: nothing here commits. Validation collects every problem of a step (or of the whole
form) and raises one `FormInvalidError` whose `errors` maps field name → localised message.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm.extensions import db
from crm.formatting import format_number
from crm.models import AppealTopic, FormDefinition, FormField, FormStep, WorkflowDefinition
from crm.services import ServiceError
from crm.services.date_ranges import MAX_DATE, MIN_DATE, parse_date

log = logging.getLogger(__name__)

FIELD_TYPES = ("text", "long_text", "number", "date", "select", "checkbox", "file")
FIELD_TYPE_LABELS = {
    "text": _l("Text (one line)"),
    "long_text": _l("Long text"),
    "number": _l("Number"),
    "date": _l("Date"),
    "select": _l("Choice from a list"),
    "checkbox": _l("Checkbox"),
    "file": _l("File"),
}
#: length limits of typed text (characters, after stripping)
TEXT_MAX, LONG_TEXT_MAX, NUMBER_MAX = 500, 5000, 32
#: values a checkbox sends when ticked (HTML sends "on"; JSON drafts keep True)
_TRUE = {"1", "on", "true", "yes", "y"}
DEFAULT_WORKFLOW_CODE = "default"


class FormInvalidError(ServiceError):
    """Some fields are wrong; `errors` maps each field name to its localised message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(_("Check the highlighted fields."), status=422)
        self.errors = errors


class AppealConfigError(ServiceError):
    """The catalogue points at a form or workflow that does not exist (an admin's mistake)."""


def _counterparty(attr: str) -> Callable[[Any, Any], Any]:
    return lambda user, contract: getattr(contract.counterparty, attr) if contract is not None else None


def _contract(attr: str) -> Callable[[Any, Any], Any]:
    return lambda user, contract: getattr(contract, attr) if contract is not None else None


def _profile(attr: str) -> Callable[[Any, Any], Any]:
    return lambda user, contract: getattr(user, attr, None) if user is not None else None


def _paths(prefix: str, getter: Callable[[str], Callable[[Any, Any], Any]], labels: dict) -> dict:
    """Prefill paths `prefix.attr`, each with its label for admins and `getter(attr)` reading it."""
    return {f"{prefix}.{attr}": (label, getter(attr)) for attr, label in labels.items()}


#: The only paths a FormField.prefill may name: path → (label for admins, getter(user, contract)).
#: A fixed allow-list, so an admin cannot make a form read arbitrary attributes of the user or contract.
PREFILL_PATHS: dict[str, tuple[Any, Callable[[Any, Any], Any]]] = {
    **_paths("profile", _profile, {
        "full_name": _l("Profile: full name"),
        "last_name": _l("Profile: last name"),
        "first_name": _l("Profile: first name"),
        "patronymic": _l("Profile: patronymic"),
        "phone": _l("Profile: phone"),
        "email": _l("Profile: e-mail"),
        "organisation": _l("Profile: organisation"),
        "position": _l("Profile: position"),
        "address": _l("Profile: address"),
        "inn": _l("Profile: INN"),
    }),
    **_paths("contract", _contract, {
        "number": _l("Contract: number"),
        "account_number": _l("Contract: account number"),
    }),
    "contract.branch.name": (_l("Contract: branch"),
                             lambda user, contract: contract.branch.name if contract is not None else None),
    **_paths("contract.counterparty", _counterparty, {
        "full_name": _l("Customer: full name"),
        "short_name": _l("Customer: short name"),
        "inn": _l("Customer: INN"),
        "kpp": _l("Customer: KPP"),
        "ogrn": _l("Customer: OGRN"),
        "okpo": _l("Customer: OKPO"),
        "legal_address": _l("Customer: legal address"),
        "postal_address": _l("Customer: postal address"),
        "phone": _l("Customer: phone"),
        "email": _l("Customer: e-mail"),
        "bank_name": _l("Customer: bank"),
        "bank_bik": _l("Customer: bank BIK"),
        "bank_account": _l("Customer: bank account"),
        "bank_corr_account": _l("Customer: correspondent account"),
    }),
}


def _walk_up(section: AppealTopic, attr: str) -> str | None:
    """The attribute of a subsection, else of its section, else of its topic."""
    node = section
    while node is not None:
        if getattr(node, attr):
            return getattr(node, attr)
        node = node.parent
    return None


def current_version(model: type[FormDefinition] | type[WorkflowDefinition], code: str):
    """The current version of the form or workflow `code`; None when there is none."""
    return db.session.scalars(select(model).where(model.code == code, model.is_current.is_(True))
                              .order_by(model.version.desc())).first()


def current_form(section: AppealTopic) -> FormDefinition | None:
    """The current version of the form a section (or its parent) names; None when it has no form."""
    code = _walk_up(section, "form_code")
    if code is None:
        return None
    # The steps with their fields come along (every caller walks them): one statement, not one per step.
    form = db.session.scalars(
        select(FormDefinition).where(FormDefinition.code == code, FormDefinition.is_current.is_(True))
        .order_by(FormDefinition.version.desc())
        .options(selectinload(FormDefinition.steps).joinedload(FormStep.fields))).first()
    if form is None:
        raise AppealConfigError(_("The form “%(code)s” of this section does not exist.", code=code))
    return form


def current_workflow(section: AppealTopic) -> WorkflowDefinition:
    """The current version of the workflow a section (or its parent) names, else the default one."""
    code = _walk_up(section, "workflow_code") or DEFAULT_WORKFLOW_CODE
    workflow = current_version(WorkflowDefinition, code)
    if workflow is None:
        raise AppealConfigError(_("The workflow “%(code)s” of this section does not exist.", code=code))
    return workflow


def step_count(form: FormDefinition | None) -> int:
    """How many steps the form has (0 without a form)."""
    return len(form.steps) if form is not None else 0


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, list | tuple):
        return str(value[0]) if value else ""
    return str(value)


def _file_names(field: FormField, data: Mapping[str, Any], files: Mapping[str, list] | None) -> list[str]:
    items = list((files or {}).get(field.name) or [])
    if not items and isinstance(data.get(field.name), list | tuple):
        items = list(data[field.name])
    names = []
    for item in items:
        name = getattr(item, "filename", item)
        if name:
            names.append(str(name))
    return names


def _check_regex(field: FormField, text: str) -> str | None:
    if not field.regex or not text:
        return None
    try:
        matched = re.fullmatch(field.regex, text) is not None
    except re.error:  # refused at save in the back office; an old row must not break the portal
        log.warning("form field %s has an invalid regex %r", field.id, field.regex)
        return None
    if matched:
        return None
    if field.help_text:
        return _("“%(label)s” has the wrong format: %(help)s", label=field.label, help=field.help_text)
    return _("“%(label)s” has the wrong format.", label=field.label)


def _clean_field(field: FormField, data: Mapping[str, Any], files: Mapping[str, list] | None) -> tuple[Any, str | None]:
    """(cleaned value, error message or None) of one field."""
    kind = field.field_type
    if kind == "file":
        names = _file_names(field, data, files)
        if field.required and not names:
            return names, _("Attach “%(label)s”.", label=field.label)
        return names, None
    if kind == "checkbox":
        raw = data.get(field.name)
        ticked = raw is True or _as_text(raw).strip().lower() in _TRUE
        if field.required and not ticked:
            return False, _("Tick “%(label)s” to continue.", label=field.label)
        return ticked, None
    text = _as_text(data.get(field.name)).strip()
    if not text:
        if field.required:
            return ("" if kind in ("text", "long_text") else None), _("Fill in “%(label)s”.", label=field.label)
        return ("" if kind in ("text", "long_text") else None), None
    if kind in ("text", "long_text"):
        limit = TEXT_MAX if kind == "text" else LONG_TEXT_MAX
        if len(text) > limit:
            return text, _("“%(label)s” must be at most %(limit)d characters.", label=field.label, limit=limit)
        return text, _check_regex(field, text)
    if kind == "number":
        compact = text.replace("\u00a0", "").replace("\u202f", "").replace(" ", "").replace(",", ".")
        try:
            number = Decimal(compact) if len(compact) <= NUMBER_MAX else None
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            return None, _("“%(label)s” must be a number, for example 150 or 94,44.", label=field.label)
        return str(number), _check_regex(field, text)
    if kind == "date":
        try:
            day = parse_date(text[:32])
        except ValueError:
            day = None
        if day is None or not MIN_DATE <= day <= MAX_DATE:
            return None, _("Enter “%(label)s” as dd.mm.yyyy, for example %(example)s.", label=field.label,
                           example="01.12.2023")
        return day.isoformat(), None
    if kind == "select":
        options = [str(option) for option in field.options or []]
        if text not in options:
            return None, _("Choose “%(label)s” from the list.", label=field.label)
        return text, None
    log.warning("form field %s has an unknown type %r", field.id, kind)
    return text, None


def _validate_fields(fields, data: Mapping[str, Any], files: Mapping[str, list] | None) -> dict:
    cleaned, errors = {}, {}
    for field in fields:
        value, error = _clean_field(field, data, files)
        cleaned[field.name] = value
        if error:
            errors[field.name] = error
    if errors:
        raise FormInvalidError(errors)
    return cleaned


def validate_step(form: FormDefinition, step_index: int, data: Mapping[str, Any],
                  files: Mapping[str, list] | None = None) -> dict:
    """Cleaned values of step `step_index` (0-based); FormInvalidError with every problem of the step."""
    steps = form.steps
    if not 0 <= step_index < len(steps):
        raise ServiceError(_("This form has no step %(number)d.", number=step_index + 1), status=404)
    return _validate_fields(steps[step_index].fields, data, files)


def validate_all(form: FormDefinition, data: Mapping[str, Any], files: Mapping[str, list] | None = None) -> dict:
    """Cleaned values of every step at once (sending an appeal, resuming a draft); every problem together."""
    return _validate_fields([field for step in form.steps for field in step.fields], data, files)


def prefill(form: FormDefinition | None, user, contract=None) -> dict[str, str]:
    """Initial values of fields whose `prefill` names a path of PREFILL_PATHS (unknown paths are ignored)."""
    values: dict[str, str] = {}
    if form is None:
        return values
    for step in form.steps:
        for field in step.fields:
            entry = PREFILL_PATHS.get(field.prefill or "")
            if entry is None:
                continue
            value = entry[1](user, contract)
            if value not in (None, ""):
                values[field.name] = str(value)
    return values


def display_value(field: FormField, value: Any) -> str:
    """How one stored value reads to people: dates dd.mm.yyyy, numbers with a decimal comma, Yes/No."""
    if field.field_type == "checkbox":
        return _("Yes") if value is True or _as_text(value).lower() in _TRUE else _("No")
    if value in (None, "", []):
        return "—"
    if field.field_type == "file":
        return ", ".join(str(name) for name in value) if isinstance(value, list | tuple) else str(value)
    if field.field_type == "date":
        try:
            return date.fromisoformat(str(value)).strftime("%d.%m.%Y")
        except ValueError:
            return str(value)
    if field.field_type == "number":
        try:
            return format_number(Decimal(str(value)))
        except (InvalidOperation, ValueError):
            return str(value)
    return str(value)


def summary(form: FormDefinition | None,
            form_data: Mapping[str, Any] | None) -> list[tuple[str, list[tuple[str, str]]]]:
    """Step title → [(label, display value)] of the fields present in `form_data`; steps with none are left out."""
    if form is None or not form_data:
        return []
    blocks = []
    for step in form.steps:
        rows = [(field.label, display_value(field, form_data[field.name]))
                for field in step.fields if field.name in form_data]
        if rows:
            blocks.append((step.title, rows))
    return blocks
