"""The appeal card's reads on the curator desk (SPEC B4): the dialogue with internal notes, the form's
files, the history with names, the curators an appeal may be assigned to, and canned replies.

Canned replies are admin-written Jinja templates: they are rendered in a SANDBOXED environment with
StrictUndefined, so a template can read only the placeholders below (`PLACEHOLDERS`), cannot reach
Python internals, and a typo or a broken template raises `CannedReplyError` with a message naming the
reply and the problem instead of failing the page. Read helpers only; nothing here commits.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload, selectinload

from crm.extensions import db
from crm.models import (
    Appeal,
    AppealAttachment,
    AppealEvent,
    AppealMessage,
    CannedReply,
    CrmUser,
    Curator,
    WorkflowState,
)
from crm.services import ServiceError

PLACEHOLDERS = ("customer_name", "appeal_number", "appeal_title", "contract_number", "curator_name",
                "curator_phone")


class CannedReplyError(ServiceError):
    """A canned reply cannot be used (unknown, broken template); `message` says why."""


def _person(first, last) -> str:
    return " ".join(part for part in (last, first) if part)


def dialogue(appeal: Appeal) -> list[AppealMessage]:
    """Every message of the appeal, internal notes included, oldest first, with files and authors."""
    return list(db.session.scalars(
        select(AppealMessage).where(AppealMessage.appeal_id == appeal.id)
        .options(selectinload(AppealMessage.attachments), joinedload(AppealMessage.author))
        .order_by(AppealMessage.created_at, AppealMessage.id)))


def form_files(appeal: Appeal) -> list[AppealAttachment]:
    """Files attached to the form (not to a message)."""
    return list(db.session.scalars(
        select(AppealAttachment).where(AppealAttachment.appeal_id == appeal.id, AppealAttachment.message_id.is_(None))
        .order_by(AppealAttachment.id)))


@dataclass
class EventLine:
    event: AppealEvent
    actor_name: str
    from_label: str | None
    to_label: str | None
    assignee_name: str | None = None


def history(appeal: Appeal) -> list[EventLine]:
    """The appeal's events, oldest first, with actor names and state labels (three queries)."""
    events = list(db.session.scalars(select(AppealEvent).where(AppealEvent.appeal_id == appeal.id)
                                     .order_by(AppealEvent.created_at, AppealEvent.id)))
    actor_ids = {e.actor_id for e in events if e.actor_id}
    for e in events:   # "assigned" events name the previous and the new assignee
        if e.kind == "assigned":
            actor_ids |= {v for k, v in (e.detail or {}).items() if k in ("from", "to") and isinstance(v, int)}
    names = {uid: _person(first, last) or email for uid, first, last, email in db.session.execute(
        select(CrmUser.id, CrmUser.first_name, CrmUser.last_name, CrmUser.email).where(
            CrmUser.id.in_(sorted(i for i in actor_ids if i) or [-1])))}
    labels = dict(db.session.execute(select(WorkflowState.code, WorkflowState.staff_label)
                                     .where(WorkflowState.workflow_id == appeal.workflow_id)).all())
    return [EventLine(e, names.get(e.actor_id, "") if e.actor_id else _("System"),
                      labels.get(e.from_state, e.from_state) if e.from_state else None,
                      labels.get(e.to_state, e.to_state) if e.to_state else None,
                      _assignee_name(e, names) if e.kind == "assigned" else None) for e in events]


def _assignee_name(event: AppealEvent, names: dict) -> str | None:
    """Whom an "assigned" event names: the service writes user ids ("to"); older rows a username."""
    detail = event.detail or {}
    if "to" in detail:
        return names.get(detail["to"]) if detail["to"] else None
    return str(detail["assignee"]) if detail.get("assignee") else _("someone")


def assignable_users(appeal: Appeal) -> list[tuple[int, str]]:
    """Staff users who curate the appeal's branch (id, name): whom the appeal may be assigned to."""
    if appeal.branch_id is None:
        return []
    rows = db.session.execute(
        select(CrmUser.id, CrmUser.first_name, CrmUser.last_name, Curator.full_name)
        .join(Curator, Curator.user_id == CrmUser.id)
        .where(Curator.branch_id == appeal.branch_id, CrmUser.active.is_(True))
        .order_by(Curator.full_name, CrmUser.id))
    seen: dict[int, str] = {}
    for uid, first, last, full_name in rows:
        seen.setdefault(uid, full_name or _person(first, last))
    return list(seen.items())


# --- canned replies --------------------------------------------------------------------------------

def canned_replies(appeal: Appeal) -> list[CannedReply]:
    """Active canned replies for the appeal: its section's first, then the general ones."""
    replies = db.session.scalars(
        select(CannedReply).where(CannedReply.active.is_(True),
                                  or_(CannedReply.section_id.is_(None), CannedReply.section_id == appeal.section_id))
        .order_by(CannedReply.title, CannedReply.id)).all()
    return sorted(replies, key=lambda r: r.section_id is None)


def curator_of(user, appeal: Appeal) -> Curator | None:
    """The Curator card of a staff user, the one of the appeal's branch first."""
    cards = db.session.scalars(select(Curator).where(Curator.user_id == user.id).order_by(Curator.id)).all()
    return next((c for c in cards if c.branch_id == appeal.branch_id), cards[0] if cards else None)


_SANDBOX = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)


def placeholders(appeal: Appeal, curator) -> dict[str, str]:
    """The values a canned reply may use; `curator` is a Curator card or a staff user."""
    author = appeal.author
    customer = (author.full_name if author is not None else "") or (
        appeal.contract.counterparty.short_name if appeal.contract is not None else "")
    if isinstance(curator, Curator):
        curator_name, curator_phone = curator.full_name, curator.phone or (curator.branch.phone or "")
    else:
        curator_name = getattr(curator, "full_name", "") or ""
        curator_phone = getattr(curator, "phone", "") or ""
    return {"customer_name": customer, "appeal_number": appeal.number, "appeal_title": appeal.title,
            "contract_number": appeal.contract.number if appeal.contract is not None else "",
            "curator_name": curator_name, "curator_phone": curator_phone}


def render_canned_reply(reply: CannedReply, appeal: Appeal, curator) -> str:
    """The reply's body with placeholders filled, in a sandbox; a broken template raises CannedReplyError."""
    try:
        return _SANDBOX.from_string(reply.body or "").render(**placeholders(appeal, curator)).strip()
    except TemplateError as error:
        problem = str(getattr(error, "message", None) or error)[:200]
        message = _("The canned reply “%(title)s” cannot be used: %(problem)s. Ask an administrator to fix it; "
                    "the placeholders are %(names)s.", title=reply.title, problem=problem,
                    names=", ".join(f"{{{{ {name} }}}}" for name in PLACEHOLDERS))
    except Exception:  # noqa: BLE001 - an admin-written template must never break the card
        message = _("The canned reply “%(title)s” cannot be used: its template fails. Ask an administrator to fix "
                    "it.", title=reply.title)
    raise CannedReplyError(message, field="canned")
