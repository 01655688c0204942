"""Forms of the services and help sections (Flask-WTF: CSRF, labels; the services validate the values)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _optional_int(value):
    try:
        return int(value) if value not in (None, "", "None") else None
    except (TypeError, ValueError):
        return -1  # not a contract id: the service refuses it with a message


class ServiceOrderForm(FlaskForm):
    """Contract, contact person, phone and task [004 §6.1]."""

    contract_id = SelectField(_l("Contract"), coerce=_optional_int, validate_choice=False)
    contact_name = StringField(_l("Contact person"), filters=[_strip],
                               render_kw={"autocomplete": "name", "maxlength": "255"})
    phone = StringField(_l("Phone"), filters=[_strip],
                        render_kw={"autocomplete": "tel", "inputmode": "tel", "placeholder": "+7 (912) 345-67-89"})
    task = TextAreaField(_l("Describe the task"), filters=[_strip],
                         render_kw={"rows": "5", "maxlength": "2000"})


class AskQuestionForm(FlaskForm):
    """Name, e-mail, phone and the question, for the contact centre [001 §2, рис. 2.3]."""

    name = StringField(_l("Your name"), filters=[_strip],
                       render_kw={"autocomplete": "name", "maxlength": "255"})
    email = StringField(_l("E-mail for the answer"), filters=[_strip],
                        render_kw={"autocomplete": "email", "inputmode": "email"})
    phone = StringField(_l("Phone (optional)"), filters=[_strip],
                        render_kw={"autocomplete": "tel", "inputmode": "tel"})
    contract_id = SelectField(_l("Contract"), coerce=_optional_int, validate_choice=False)
    text = TextAreaField(_l("Your question"), filters=[_strip],
                         render_kw={"rows": "6", "maxlength": "4000"})


def apply_problems(form, problems: dict[str, list[str]], default_field: str) -> None:
    """Show a service's messages under the fields they are about."""
    for field, messages in problems.items():
        target = getattr(form, field, None) or getattr(form, default_field)
        target.errors = list(target.errors or []) + list(messages)
