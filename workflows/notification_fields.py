"""Checking what staff typed into a notification (B6): every problem collected, then one typed error.

The back-office form sends strings; the service accepts those (dates as `YYYY-MM-DDTHH:MM` in the
display time zone) or Python values, and stores only clean ones.
"""
from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select

from crm.extensions import db
from crm.models import Branch, Contract, CrmUser
from crm.models.notification import NotificationKind
from crm.services import ServiceError
from workflows.notification_audience import AUDIENCE_TYPES, CATEGORIES, PERSON_TYPES, customer_conditions, valid_role

MAX_SUBJECT = 255
MAX_BODY = 20000
MAX_SHORT = 64
MAX_URL = 500
MAX_IDS = 5000
KINDS = tuple(kind.value for kind in NotificationKind)


class NotificationError(ServiceError):
    """The notification cannot be saved or sent as given; `problems`: field → messages."""

    def __init__(self, problems: dict[str, list[str]]):
        super().__init__(" ".join(m for ms in problems.values() for m in ms),
                         field=next(iter(problems), None))
        self.problems = problems


def _tz() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Europe/Moscow"))


def parse_moment(value, field: str, problems: dict) -> datetime | None:
    """A datetime from a form value (display time zone) or a datetime; None when blank."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=_tz())
    try:
        parsed = datetime.fromisoformat(str(value).strip())
    except ValueError:
        problems.setdefault(field, []).append(_("Enter a date and time like 31.12.2026 18:00."))
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=_tz())


def check_goto_url(url: str | None) -> str | None:
    """None if fine; else the message. http(s) with a host, or a path of this site ("/portal/…")."""
    if not url:
        return None
    if len(url) > MAX_URL or re.search(r"[\s\\<>\"']", url):
        return _("The link must be a web address (https://…) or a portal path (/portal/…).")
    if url.startswith("/"):
        return None if not url.startswith("//") else _(
            "The link must be a web address (https://…) or a portal path (/portal/…).")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return _("The link must be a web address (https://…) or a portal path (/portal/…).")
    return None


def _text(fields: dict, name: str, limit: int, problems: dict, *, required: bool = False,
          required_message: str | None = None) -> str | None:
    value = (fields.get(name) or "").strip() if isinstance(fields.get(name), str) or fields.get(name) is None \
        else str(fields.get(name)).strip()
    if required and not value:
        problems.setdefault(name, []).append(required_message or _("Fill in this field."))
    elif len(value) > limit:
        problems.setdefault(name, []).append(_("At most %(count)d characters.", count=limit))
    return value or None


def _int_ids(values, field: str, problems: dict) -> list[int]:
    ids = []
    for value in values or ():
        if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
            ids.append(int(value))
        else:
            problems.setdefault(field, []).append(_("Choose from the list."))
            return []
    if len(ids) > MAX_IDS:
        problems.setdefault(field, []).append(_("At most %(count)d entries.", count=MAX_IDS))
    return sorted(set(ids))


def check_audience(audience, problems: dict) -> dict | None:
    """A well-formed audience whose branches, contracts and users exist (customers only)."""
    if not isinstance(audience, dict) or audience.get("type") not in AUDIENCE_TYPES:
        problems.setdefault("audience", []).append(_("Choose who receives the notification."))
        return None
    kind = audience["type"]
    if kind == "everyone":
        return {"type": "everyone"}
    if kind == "person_type":
        if audience.get("value") not in PERSON_TYPES:
            problems.setdefault("person_type", []).append(_("Choose households or legal entities."))
            return None
        return {"type": "person_type", "value": audience["value"]}
    field = {"branch": "branch_ids", "contracts": "contract_numbers", "contract_role": "contract_numbers",
             "user": "user_emails"}[kind]
    ids = _int_ids(audience.get("ids"), field, problems)
    result: dict = {"type": kind}
    if kind == "contract_role":
        if not valid_role(audience.get("role")):
            problems.setdefault("role", []).append(_("Choose a contract role."))
            return None
        result["role"] = audience["role"]
        if ids:
            result["ids"] = ids
        elif audience.get("ids"):
            return None
    else:
        if not ids:
            if field not in problems:
                problems.setdefault(field, []).append({
                    "branch_ids": _("Choose at least one branch."),
                    "contract_numbers": _("Enter at least one contract number."),
                    "user_emails": _("Enter the customer's e-mail."),
                }[field])
            return None
        result["ids"] = ids
    if ids:
        model = {"branch": Branch, "contracts": Contract, "contract_role": Contract, "user": CrmUser}[kind]
        query = select(func.count()).select_from(model).where(model.id.in_(ids))
        if kind == "user":
            query = query.where(*customer_conditions())
        if db.session.scalar(query) != len(ids):
            problems.setdefault(field, []).append(
                _("Some of the chosen customers are not active customer accounts.") if kind == "user"
                else _("Some of the chosen entries no longer exist; choose again."))
            return None
    return result


def clean_fields(fields: dict) -> dict:
    """Every field of a notification checked; raises NotificationError listing each problem."""
    problems: dict[str, list[str]] = {}
    kind = fields.get("kind")
    if kind not in KINDS:
        problems.setdefault("kind", []).append(_("Choose how the notification is shown."))
    category = fields.get("category") or "general"
    if category not in CATEGORIES:
        problems.setdefault("category", []).append(_("Choose a category."))
    clean = {
        "kind": kind, "category": category,
        "subject": _text(fields, "subject", MAX_SUBJECT, problems, required=True,
                         required_message=_("Enter the subject.")),
        "body_markdown": _text(fields, "body_markdown", MAX_BODY, problems, required=True,
                               required_message=_("Enter the text of the notification.")),
        "confirm_text": _text(fields, "confirm_text", MAX_SHORT, problems),
        "goto_url": _text(fields, "goto_url", MAX_URL, problems),
        "goto_label": _text(fields, "goto_label", MAX_SHORT, problems),
        "send_email": bool(fields.get("send_email")) or kind == NotificationKind.EMAIL.value,
    }
    message = check_goto_url(clean["goto_url"])
    if message:
        problems.setdefault("goto_url", []).append(message)
    if clean["goto_label"] and not clean["goto_url"]:
        problems.setdefault("goto_url", []).append(_("Enter the link the button leads to."))
    clean["display_from"] = parse_moment(fields.get("display_from"), "display_from", problems)
    clean["display_until"] = parse_moment(fields.get("display_until"), "display_until", problems)
    if clean["display_from"] and clean["display_until"] and clean["display_from"] >= clean["display_until"]:
        problems.setdefault("display_until", []).append(_("The end of the display period must be after its start."))
    clean["audience"] = check_audience(fields.get("audience"), problems)
    if problems:
        raise NotificationError(problems)
    return clean


def _split(text: str | None) -> list[str]:
    return [part for part in re.split(r"[\s,;]+", text or "") if part]


def audience_from_form(form) -> dict:
    """The audience builder's inputs → an audience dict; contract numbers and e-mails are looked up.

    `form` has `audience_type`, `branch_ids` (list), `contract_numbers` and `user_emails` (free text,
    one or many, separated by spaces, commas or lines), `role`, `person_type`. Unknown numbers or
    addresses are refused by name."""
    kind = form.get("audience_type") or ""
    problems: dict[str, list[str]] = {}
    audience: dict = {"type": kind}
    if kind == "branch":
        audience["ids"] = list(form.get("branch_ids") or [])
    elif kind in ("contracts", "contract_role"):
        numbers = _split(form.get("contract_numbers"))
        found = dict(db.session.execute(select(Contract.number, Contract.id)
                                        .where(Contract.number.in_(numbers))).all()) if numbers else {}
        missing = [number for number in numbers if number not in found]
        if missing:
            problems["contract_numbers"] = [_("Contracts not found: %(numbers)s.", numbers=", ".join(missing[:20]))]
        audience["ids"] = sorted(set(found.values()))
        if kind == "contract_role":
            audience["role"] = form.get("role")
    elif kind == "user":
        emails = [email.lower() for email in _split(form.get("user_emails"))]
        found = dict(db.session.execute(select(func.lower(CrmUser.email), CrmUser.id)
                                        .where(func.lower(CrmUser.email).in_(emails), *customer_conditions())).all()) \
            if emails else {}
        missing = [email for email in emails if email not in found]
        if missing:
            problems["user_emails"] = [_("No active customer with the e-mail: %(emails)s.",
                                         emails=", ".join(missing[:20]))]
        audience["ids"] = sorted(set(found.values()))
    elif kind == "person_type":
        audience["value"] = form.get("person_type")
    if problems:
        raise NotificationError(problems)
    return audience
