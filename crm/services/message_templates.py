"""Editable system messages (SPEC B7): render an event's e-mail from its template, check edits.

    subject, body = render_message("signup.code", user.locale, {"code": "482913", "minutes": 15})

An admin-edited `EventTemplate` row (event, locale) wins over the default text kept in
`crm/templates/messages/<event>.<locale>.txt` (first line the subject, a blank line, then the body).
Templates run in Jinja's `SandboxedEnvironment` (no attribute starting with "_", no unsafe calls) with
`StrictUndefined` (a misspelt variable fails instead of printing nothing) and autoescape off: these are
plain-text e-mails. An edit is refused at save time, with every problem listed, when it does not parse,
uses a variable its event does not offer, reaches for an unsafe attribute or fails on the sample data.
"""
from __future__ import annotations

import logging
import re
from functools import cache
from pathlib import Path

from flask import current_app, has_request_context
from flask_babel import get_locale
from flask_babel import gettext as _
from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from sqlalchemy import select

from crm import clock
from crm.extensions import db
from crm.models.workflow import EventTemplate
from crm.services import ServiceError, audit
from crm.services.message_events import EVENTS, LOCALES, MessageEvent

log = logging.getLogger(__name__)

DEFAULTS_DIR = Path(__file__).resolve().parent.parent / "templates" / "messages"
SUBJECT_MAX = 255
BODY_MAX = 20_000



class _MessageSandbox(SandboxedEnvironment):
    """The sandbox, also refusing to build huge values (`'x' * 10**9`, `2 ** 10**9`) while rendering: an
    edited template is rendered on the sample at save time, inside a web request."""

    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context, operator, left, right):
        if operator == "**" or any(isinstance(value, (str, list, tuple)) for value in (left, right)):
            raise SecurityError(f"the operator {operator!r} is not allowed here")
        return super().call_binop(context, operator, left, right)


_env = _MessageSandbox(undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True)


class MessageTemplateError(ServiceError):
    """A template that cannot be saved; `problems` lists every reason (already localised)."""

    def __init__(self, problems: list[str]):
        super().__init__(" ".join(problems))
        self.problems = problems


def get_event(name: str) -> MessageEvent:
    """The registered event, or KeyError for a name nobody sends."""
    return EVENTS[name]


def normalise_locale(locale: str | None) -> str:
    """A locale we have texts for: the given one, else the app's default, else Russian."""
    if locale in LOCALES:
        return locale
    default = current_app.config.get("BABEL_DEFAULT_LOCALE", "ru") if current_app else "ru"
    return default if default in LOCALES else "ru"


def recipient_locale(user=None) -> str:
    """The language to write to someone in: their saved choice, else the page's, else the default."""
    saved = getattr(user, "locale", None)
    if saved in LOCALES:
        return saved
    if has_request_context():
        current = get_locale()
        if current is not None and str(current) in LOCALES:
            return str(current)
    return normalise_locale(None)


@cache
def default_source(event: str, locale: str) -> tuple[str, str]:
    """The shipped (subject, body) sources of an event in a locale."""
    get_event(event)
    text = (DEFAULTS_DIR / f"{event}.{locale}.txt").read_text(encoding="utf-8")
    subject, _sep, body = text.partition("\n")
    return subject.strip(), body.lstrip("\n")


def edited_row(event: str, locale: str) -> EventTemplate | None:
    return db.session.scalar(select(EventTemplate).where(EventTemplate.event == event,
                                                         EventTemplate.locale == locale))


def current_source(event: str, locale: str) -> tuple[str, str, EventTemplate | None]:
    """The (subject, body) sources in force and the edited row they come from (None: the default)."""
    row = edited_row(event, locale)
    if row is not None:
        return row.subject, row.body, row
    return (*default_source(event, locale), None)


def _render(subject_src: str, body_src: str, context: dict) -> tuple[str, str]:
    subject = _env.from_string(subject_src).render(context)
    body = _env.from_string(body_src).render(context)
    # A subject is one header line: line breaks there would be refused by the outbox.
    subject = re.sub(r"\s+", " ", subject).strip()[:SUBJECT_MAX]
    return subject, body.strip("\n") + "\n"


def render_message(event: str, locale: str | None, context: dict) -> tuple[str, str]:
    """Subject and body of `event` for a recipient of `locale`, from the edited template or the default.

    An edited template passed the save-time check against the sample; should it still fail on real
    data, the default text goes out instead (a customer must never miss a code because of an edit)."""
    locale = normalise_locale(locale)
    subject_src, body_src, row = current_source(event, locale)
    if row is not None:
        try:
            return _render(subject_src, body_src, context)
        except (TemplateError, SecurityError, TypeError, ValueError):
            log.exception("edited template %s/%s failed; sending the default", event, locale)
    return _render(*default_source(event, locale), context)


def wants_email(event: str, locale: str | None = None) -> bool:
    """Whether the e-mail of this event is sent (admins may switch optional ones off)."""
    if get_event(event).mandatory_email:
        return True
    row = edited_row(event, normalise_locale(locale))
    return True if row is None else bool(row.send_email)


def wants_bell(event: str, locale: str | None = None) -> bool:
    """Whether the event also appears in the portal's notification list."""
    row = edited_row(event, normalise_locale(locale))
    return True if row is None else bool(row.send_bell)


# --- checking an edit ------------------------------------------------------------------------------

def _unsafe_names(tree: nodes.Template) -> set[str]:
    """Attributes and keys starting with "_" (the way out of any sandbox: __class__, __globals__ …)."""
    names = {node.attr for node in tree.find_all(nodes.Getattr) if node.attr.startswith("_")}
    names |= {node.arg.value for node in tree.find_all(nodes.Getitem)
              if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str)
              and node.arg.value.startswith("_")}
    return names


def _check_part(part_label: str, source: str, event: MessageEvent) -> list[str]:
    try:
        tree = _env.parse(source)
    except TemplateSyntaxError as exc:
        return [_("%(part)s, line %(line)d: the template cannot be read (%(error)s).",
                  part=part_label, line=exc.lineno or 1, error=exc.message or "")]
    problems = []
    unknown = sorted(meta.find_undeclared_variables(tree) - set(event.variables))
    for name in unknown:
        problems.append(_("%(part)s: unknown variable «%(name)s». This message offers: %(offered)s.",
                          part=part_label, name=name, offered=", ".join(event.variables)))
    for name in sorted(_unsafe_names(tree)):
        problems.append(_("%(part)s: access to «%(name)s» is not allowed.", part=part_label, name=name))
    return problems


def validate_template(event: str, subject: str, body: str) -> None:
    """Refuse a template that would not work, with every problem at once (MessageTemplateError)."""
    spec = get_event(event)
    subject, body = subject or "", body or ""
    parts = ((_("Subject"), subject), (_("Body"), body))
    problems: list[str] = []
    if not subject.strip():
        problems.append(_("The subject is required."))
    elif len(subject) > SUBJECT_MAX:
        problems.append(_("The subject is longer than %(max)d characters.", max=SUBJECT_MAX))
    if not body.strip():
        problems.append(_("The body is required."))
    elif len(body) > BODY_MAX:
        problems.append(_("The body is longer than %(max)d characters.", max=BODY_MAX))
    for label, source in parts:
        problems += _check_part(label, source, spec)
    if problems:
        raise MessageTemplateError(problems)
    for label, source in parts:
        try:
            _env.from_string(source).render(spec.sample)
        except SecurityError as exc:
            problems.append(_("%(part)s: the template tries an unsafe operation (%(error)s).",
                              part=label, error=exc))
        except TemplateError as exc:
            problems.append(_("%(part)s: the template fails on the sample data (%(error)s).",
                              part=label, error=exc))
        except Exception as exc:  # e.g. a filter given the wrong type: still the template's fault
            problems.append(_("%(part)s: the template fails on the sample data (%(error)s).",
                              part=label, error=exc))
    if problems:
        raise MessageTemplateError(problems)


def preview(event: str, locale: str, subject: str, body: str) -> tuple[str, str]:
    """The message rendered with the event's sample data, after the same checks as saving."""
    validate_template(event, subject, body)
    return _render(subject, body, get_event(event).sample)


# --- saving -----------------------------------------------------------------------------------------

def save_template(event: str, locale: str, subject: str, body: str, *, send_email: bool = True,
                  send_bell: bool = True, actor=None) -> EventTemplate:
    """Store an admin's edit of (event, locale) after checking it; commits, or changes nothing."""
    spec = get_event(event)
    if locale not in LOCALES:
        raise MessageTemplateError([_("Unknown language: %(locale)s.", locale=locale)])
    validate_template(event, subject, body)
    row = edited_row(event, locale)
    if row is None:
        row = EventTemplate(event=event, locale=locale)
        db.session.add(row)
    row.subject, row.body = subject.strip(), body
    row.send_email = True if spec.mandatory_email else bool(send_email)
    row.send_bell = bool(send_bell)
    row.updated_at = clock.now()
    db.session.flush()
    audit.record("message_template.save", actor=actor, subject_type="event_template", subject_id=row.id,
                 detail={"event": event, "locale": locale, "send_email": row.send_email, "send_bell": row.send_bell})
    db.session.commit()
    return row


def reset_template(event: str, locale: str, *, actor=None) -> bool:
    """Drop the edit of (event, locale) so the default applies again; False if there was none."""
    get_event(event)
    row = edited_row(event, locale)
    if row is None:
        return False
    row_id = row.id
    db.session.delete(row)
    audit.record("message_template.reset", actor=actor, subject_type="event_template", subject_id=row_id,
                 detail={"event": event, "locale": locale})
    db.session.commit()
    return True


def overview() -> list[dict]:
    """Every event × locale with whether an edit is in force (one query), for the back-office list."""
    rows = {(row.event, row.locale): row for row in db.session.scalars(select(EventTemplate))}
    result = []
    for name, spec in EVENTS.items():
        for locale in LOCALES:
            row = rows.get((name, locale))
            result.append({"event": name, "label": spec.label, "locale": locale, "edited": row is not None,
                           "updated_at": row.updated_at if row is not None else None,
                           "subject": row.subject if row is not None else default_source(name, locale)[0]})
    return result
