"""Notifications (B6, W4, C16): authoring, bulk fan-out, e-mail copies, system events, statistics.

A notification is a draft until it is sent (now, or by `send_scheduled_job` at its `scheduled_at`).
Sending claims it (`sent_at` set by one conditional UPDATE), then:
  1. ONE `INSERT INTO notification_delivery … SELECT` over the audience (ON CONFLICT DO NOTHING /
     INSERT OR IGNORE), so a broadcast to 100 000 customers costs a few statements, not one per user;
  2. for kind "email" or `send_email`, ONE UPDATE marking the deliveries whose owners' preferences allow
     an e-mail (`emailed_at`) and ONE `INSERT INTO email_outbox … SELECT` of exactly those;
  3. commit — deliveries, e-mails and `sent_at` together or not at all;
  4. a few batch jobs hand the new outbox rows to the workers. If Redis is down the rows stay pending
     and the outbox sweeper sends them later; the outbox's claim makes each go out exactly once.
Re-running the fan-out of a sent notification does nothing.
"""
from __future__ import annotations

import logging
from datetime import datetime

from flask import current_app, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import Integer, Text, case, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from werkzeug.routing import BuildError

from crm import clock
from crm.extensions import db
from crm.models import CrmUser
from crm.models.notification import Notification, NotificationAttachment, NotificationDelivery, NotificationKind
from crm.models.outbox import EmailOutbox, OutboxStatus
from crm.models.types import UTCDateTime
from crm.services import audit
from crm.services.markdown_render import plain_text, render_markdown
from workflows.notification_audience import MANDATORY_CATEGORIES, audience_query, email_allowed_conditions
from workflows.notification_fields import NotificationError, clean_fields, parse_moment

log = logging.getLogger(__name__)

KICK_BATCH = 500  # outbox ids per delivery job
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
MAX_ATTACHMENTS = 10
#: fields that may not change once the notification went out (who got it, and how)
FROZEN_AFTER_SENDING = ("kind", "category", "send_email", "audience")

__all__ = ["NotificationError", "MANDATORY_CATEGORIES", "audience_query", "create_notification",
           "update_notification", "add_attachment", "send_now", "schedule", "fan_out", "send_scheduled",
           "notify_user", "notify_contract_role", "delivery_stats", "read_counts", "preview_for", "audience_size"]


# --- authoring ------------------------------------------------------------------------------------

def create_notification(author, **fields) -> Notification:
    """A draft notification from checked fields (NotificationError lists every problem). Commits."""
    clean = clean_fields(fields)
    notification = Notification(author_id=getattr(author, "id", None), created_at=clock.now(), **clean)
    db.session.add(notification)
    db.session.flush()
    audit.record("notification.created", actor=author, subject_type="notification", subject_id=notification.id,
                 detail={"kind": notification.kind, "audience": notification.audience})
    db.session.commit()
    return notification


def update_notification(notification: Notification, *, actor, **fields) -> Notification:
    """Change a notification; after sending its audience, kind, category and e-mail copy stay. Commits."""
    clean = clean_fields(fields)
    if notification.sent_at is not None:
        changed = [name for name in FROZEN_AFTER_SENDING if clean[name] != getattr(notification, name)]
        if changed:
            raise NotificationError({changed[0]: [_(
                "The notification was already sent: its audience, kind, category and e-mail copy cannot change.")]})
    for name, value in clean.items():
        setattr(notification, name, value)
    audit.record("notification.updated", actor=actor, subject_type="notification", subject_id=notification.id)
    db.session.commit()
    return notification


def add_attachment(notification: Notification, filename: str, content_type: str, data: bytes) -> NotificationAttachment:
    """Store a file (generated key, never the user's name as a path) and attach it. Commits."""
    from crm.storage import get_storage

    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()[:255]
    if not name or not data:
        raise NotificationError({"attachments": [_("The file is empty.")]})
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise NotificationError({"attachments": [_("A file may be at most %(mb)d MB.",
                                                   mb=MAX_ATTACHMENT_BYTES // (1024 * 1024))]})
    if len(notification.attachments) >= MAX_ATTACHMENTS:
        raise NotificationError({"attachments": [_("At most %(count)d files.", count=MAX_ATTACHMENTS)]})
    suffix = "." + name.rsplit(".", 1)[-1].lower()[:10] if "." in name else ""
    key = get_storage().put("notifications", data, suffix)
    attachment = NotificationAttachment(filename=name, content_type=(content_type or "application/octet-stream")[:128],
                                        size=len(data), storage_key=key)
    notification.attachments.append(attachment)
    db.session.commit()
    return attachment


def _check_sendable(notification: Notification, at: datetime) -> None:
    if notification.sent_at is not None:
        raise NotificationError({"send": [_("The notification was already sent.")]})
    if notification.display_until is not None and notification.display_until <= at:
        raise NotificationError({"display_until": [_("The display period ends before the sending time.")]})


def send_now(notification: Notification, *, actor=None) -> int:
    """Send at once (the fan-out runs here: it is set-based); returns the number of recipients."""
    _check_sendable(notification, clock.now())
    notification.scheduled_at = None
    audit.record("notification.sent", actor=actor, subject_type="notification", subject_id=notification.id)
    db.session.commit()
    return fan_out(notification.id)


def schedule(notification: Notification, at, *, actor=None) -> Notification:
    """Send at `at` (a datetime or a form value); `send_scheduled_job` does it within a minute. Commits."""
    problems: dict[str, list[str]] = {}
    moment = parse_moment(at, "scheduled_at", problems)
    if moment is None and not problems:
        problems["scheduled_at"] = [_("Enter the date and time of sending.")]
    elif moment is not None and moment <= clock.now():
        problems["scheduled_at"] = [_("The sending time must be in the future.")]
    if problems:
        raise NotificationError(problems)
    _check_sendable(notification, moment)
    notification.scheduled_at = moment
    audit.record("notification.scheduled", actor=actor, subject_type="notification", subject_id=notification.id,
                 detail={"at": moment.isoformat()})
    db.session.commit()
    return notification


def audience_size(audience: dict) -> int:
    """How many customers the audience reaches now (shown before sending)."""
    query = audience_query(audience).subquery()
    return db.session.scalar(select(func.count()).select_from(query)) or 0


# --- fan-out (W4) ---------------------------------------------------------------------------------

def _insert_ignoring_duplicates(table, dialect: str):
    if dialect == "postgresql":
        return pg_insert(table), "postgresql"
    return insert(table).prefix_with("OR IGNORE"), dialect


def fan_out(notification_id: int) -> int:
    """Deliver a notification to its audience in bulk; returns how many deliveries it has (0 if it was
    already sent or is gone). Idempotent."""
    now = clock.now()
    claimed = db.session.execute(
        update(Notification).where(Notification.id == notification_id, Notification.sent_at.is_(None))
        .values(sent_at=now, scheduled_at=None).execution_options(synchronize_session=False)).rowcount
    if not claimed:
        db.session.rollback()
        return 0
    notification = db.session.get(Notification, notification_id, populate_existing=True)
    dialect = db.session.get_bind().dialect.name
    audience = audience_query(notification.audience).subquery()
    rows = select(literal(notification.id, Integer), audience.c.user_id, literal(now, UTCDateTime()))
    statement, dialect = _insert_ignoring_duplicates(NotificationDelivery.__table__, dialect)
    statement = statement.from_select(["notification_id", "user_id", "delivered_at"], rows)
    if dialect == "postgresql":
        statement = statement.on_conflict_do_nothing()
    db.session.execute(statement)
    delivered = db.session.scalar(select(func.count()).select_from(NotificationDelivery)
                                  .where(NotificationDelivery.notification_id == notification.id))
    notification.recipients_count = delivered
    outbox_ids: list[int] = []
    if notification.send_email or notification.kind == NotificationKind.EMAIL.value:
        outbox_ids = _queue_email_copies(notification, now, dialect)
    db.session.commit()
    log.info("notification %s: %s deliveries, %s e-mails", notification_id, delivered, len(outbox_ids))
    _kick_outbox(outbox_ids)
    return delivered


def _email_texts(notification: Notification, locale: str) -> tuple[str, str]:
    """Text and HTML bodies of the e-mail copy in one language (the footer is translated)."""
    base = current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/")
    link = notification.goto_url or ""
    if link.startswith("/"):
        link = base + link
    with force_locale(locale):
        footer = _("This is a copy of a notification in your customer portal: %(url)s", url=base + "/portal/")
        if notification.category not in MANDATORY_CATEGORIES:
            footer += "\n" + _("E-mail settings: %(url)s", url=base + "/portal/profile")
        label = notification.goto_label or _("Open")
    text = plain_text(notification.body_markdown)
    html = str(render_markdown(notification.body_markdown))
    if link:
        text += f"\n\n{label}: {link}"
        html += f'<p><a href="{_escape(link)}">{_escape(label)}</a></p>'
    text += "\n\n-- \n" + footer
    html += "<hr><p><small>" + _escape(footer).replace("\n", "<br>") + "</small></p>"
    return text, html


def _escape(value: str) -> str:
    from markupsafe import escape

    return str(escape(value))


def _queue_email_copies(notification: Notification, now: datetime, dialect: str) -> list[int]:
    """Mark the deliveries whose owners accept this e-mail, then add their outbox rows (2 statements)."""
    allowed = select(CrmUser.id).where(*email_allowed_conditions(dialect, notification.category,
                                                                 notification.audience))
    db.session.execute(
        update(NotificationDelivery)
        .where(NotificationDelivery.notification_id == notification.id, NotificationDelivery.emailed_at.is_(None),
               NotificationDelivery.user_id.in_(allowed))
        .values(emailed_at=now).execution_options(synchronize_session=False))
    default_locale = current_app.config.get("BABEL_DEFAULT_LOCALE", "ru")
    texts = {locale: _email_texts(notification, locale) for locale in {default_locale, "ru", "en"}}
    english = CrmUser.locale == "en"

    def by_locale(index: int):
        return case((english, literal(texts["en"][index], Text)), else_=literal(texts[default_locale][index], Text))

    attachments = [{"key": a.storage_key, "filename": a.filename, "content_type": a.content_type}
                   for a in notification.attachments] or None
    columns = ["to_address", "subject", "body_text", "body_html", "status", "attempts", "created_at",
               "next_attempt_at", "user_id", "category"]
    values = [CrmUser.email, literal(notification.subject, Text), by_locale(0), by_locale(1),
              literal(OutboxStatus.PENDING.value, Text), literal(0, Integer), literal(now, UTCDateTime()),
              literal(now, UTCDateTime()), CrmUser.id, literal(f"notification:{notification.category}", Text)]
    if attachments:
        columns.append("attachments")
        values.append(literal(attachments, EmailOutbox.__table__.c.attachments.type))
    rows = (select(*values).select_from(NotificationDelivery)
            .join(CrmUser, CrmUser.id == NotificationDelivery.user_id)
            .where(NotificationDelivery.notification_id == notification.id, NotificationDelivery.emailed_at == now))
    statement = insert(EmailOutbox).from_select(columns, rows).returning(EmailOutbox.id)
    return list(db.session.scalars(statement))


def _kick_outbox(outbox_ids: list[int]) -> None:
    """Hand the new rows to the workers in batches; if the queue is down the sweeper sends them."""
    from workflows.jobs import deliver_email_batch_job
    from workflows.queue import enqueue

    for start in range(0, len(outbox_ids), KICK_BATCH):
        try:
            enqueue(deliver_email_batch_job, outbox_ids[start:start + KICK_BATCH])
        except Exception as exc:  # Redis down: the rows stay pending; sweep_outbox_job enqueues them later
            log.warning("could not enqueue notification e-mails (%s); the outbox sweeper will send them", exc)
            return


def send_scheduled() -> int:
    """Fan out every notification whose sending time has come; returns how many were sent."""
    due = db.session.scalars(select(Notification.id).where(
        Notification.scheduled_at <= clock.now(), Notification.sent_at.is_(None))
        .order_by(Notification.scheduled_at, Notification.id)).all()
    db.session.rollback()
    for notification_id in due:
        fan_out(notification_id)  # claims it: a parallel run skips what this one sent
    return len(due)


# --- system events -------------------------------------------------------------------------------

def notify_user(user_id: int, event: str, subject: str, body_markdown: str, *, category: str = "system",
                goto_url: str | None = None, goto_label: str | None = None) -> Notification:
    """A bell notification for one user about something that happened to them; added to the caller's
    transaction (it appears only if the cause commits)."""
    now = clock.now()
    notification = Notification(kind=NotificationKind.BELL.value, category=category, subject=subject[:255],
                                body_markdown=body_markdown, goto_url=goto_url, goto_label=goto_label,
                                audience={"type": "user", "ids": [user_id]}, event=event, sent_at=now,
                                recipients_count=1, created_at=now)
    db.session.add(notification)
    db.session.add(NotificationDelivery(notification=notification, user_id=user_id, delivered_at=now))
    return notification


def _contract_path(contract) -> str:
    try:
        return url_for("portal.contract_card", contract_id=contract.id)
    except (BuildError, RuntimeError):
        return f"/portal/contracts/{contract.id}/"


def notify_contract_role(template: str, user, contract, role) -> Notification | None:
    """"Contract N was added with role R" / "… role was removed" in the user's notifications."""
    from crm.services.contract_access import role_label

    if user is None or getattr(user, "id", None) is None:
        return None
    with force_locale(user.locale or current_app.config.get("BABEL_DEFAULT_LOCALE", "ru")):
        names = {"number": contract.number, "role": role_label(role),
                 "counterparty": contract.counterparty.short_name if contract.counterparty else ""}
        if template == "role_revoked":
            return notify_user(user.id, "contract.role_revoked",
                               _("Your role on contract %(number)s was removed", **names),
                               _("Your role «%(role)s» on contract %(number)s (%(counterparty)s) was removed; the "
                                 "contract is no longer in your account.", **names))
        return notify_user(user.id, "contract.role_granted",
                           _("Contract %(number)s was added with role %(role)s", **names),
                           _("Contract %(number)s (%(counterparty)s) is now in your account with the role "
                             "«%(role)s».", **names),
                           goto_url=_contract_path(contract), goto_label=_("Open the contract"))


# --- statistics and preview ------------------------------------------------------------------------

def delivery_stats(notification: Notification) -> dict:
    """Recipients, delivered, read, confirmed, dismissed, e-mailed and the read share, in one query."""
    d = NotificationDelivery
    delivered, read, confirmed, dismissed, emailed = db.session.execute(
        select(func.count(d.id), func.count(d.read_at), func.count(d.confirmed_at), func.count(d.dismissed_at),
               func.count(d.emailed_at)).where(d.notification_id == notification.id)).one()
    return {"recipients": notification.recipients_count or 0, "delivered": delivered, "read": read,
            "confirmed": confirmed, "dismissed": dismissed, "emailed": emailed,
            "read_percent": round(100 * read / delivered) if delivered else 0}


def read_counts(notification_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(delivered, read) per notification for a list page, in one query."""
    if not notification_ids:
        return {}
    d = NotificationDelivery
    rows = db.session.execute(select(d.notification_id, func.count(d.id), func.count(d.read_at))
                              .where(d.notification_id.in_(notification_ids)).group_by(d.notification_id))
    return {notification_id: (delivered, read) for notification_id, delivered, read in rows}


def preview_for(fields: dict, user) -> dict:
    """What `user` would see: subject, sanitised HTML, kind, buttons, and whether they are in the audience."""
    clean = clean_fields(fields)
    in_audience = False
    if user is not None:
        query = audience_query(clean["audience"]).subquery()
        in_audience = bool(db.session.scalar(select(func.count()).select_from(query)
                                             .where(query.c.user_id == user.id)))
    return {"subject": clean["subject"], "html": render_markdown(clean["body_markdown"]), "kind": clean["kind"],
            "category": clean["category"], "confirm_text": clean["confirm_text"], "goto_url": clean["goto_url"],
            "goto_label": clean["goto_label"], "display_from": clean["display_from"],
            "display_until": clean["display_until"], "in_audience": in_audience, "user": user,
            "mandatory": clean["category"] in MANDATORY_CATEGORIES}
