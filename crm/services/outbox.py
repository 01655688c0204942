"""Transactional e-mail outbox (W1).

`queue_email()` adds a row to the caller's session: it commits or rolls back with its cause.
After a commit the delivery job is enqueued; if the queue is down, the row stays pending and
the sweeper (workflows/schedule.py) enqueues it later. Delivery claims the row atomically, so a
message is sent once even when the sweeper and a retry race.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app
from sqlalchemy import event, or_, select, update
from sqlalchemy.orm import Session

from crm import clock
from crm.extensions import db
from crm.mailer import MailerError, SmtpMailer
from crm.models.outbox import EmailOutbox, OutboxStatus

log = logging.getLogger(__name__)

_SESSION_KEY = "crm_outbox_ids"


def queue_email(to_address: str, subject: str, body_text: str, *, body_html: str | None = None,
                user_id: int | None = None, category: str | None = None) -> EmailOutbox:
    """Add an e-mail to the current transaction; it is sent only if the transaction commits."""
    row = EmailOutbox(to_address=to_address, subject=subject, body_text=body_text, body_html=body_html,
                      user_id=user_id, category=category, status=OutboxStatus.PENDING.value,
                      next_attempt_at=clock.now())
    db.session.add(row)
    return row


def backoff(attempts: int) -> timedelta:
    """Wait before retry number `attempts`: 30 s, 1 min, 2 min … capped at 1 h."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def deliver(outbox_id: int) -> str:
    """Send one outbox row in its own transaction; returns the row's resulting status."""
    app = current_app._get_current_object()
    with Session(db.engine) as session:
        now = clock.now()
        claimed = session.execute(
            update(EmailOutbox)
            .where(EmailOutbox.id == outbox_id,
                   EmailOutbox.status == OutboxStatus.PENDING.value,
                   EmailOutbox.next_attempt_at <= now)
            .values(status=OutboxStatus.SENDING.value, attempts=EmailOutbox.attempts + 1,
                    next_attempt_at=now)
        ).rowcount
        session.commit()
        row = session.get(EmailOutbox, outbox_id)
        if row is None:
            return "missing"
        if not claimed:
            return row.status
        smtp_url = app.config.get("SMTP_URL")
        if not smtp_url:
            row.status = OutboxStatus.HELD.value
            row.last_error = "SMTP_URL is not configured; the message is kept in the outbox"
            session.commit()
            return row.status
        message = _build_message(row, app.config["MAIL_FROM"])
        try:
            SmtpMailer(smtp_url).send(message)
        except MailerError as exc:
            row.last_error = str(exc)[:2000]
            if row.attempts >= app.config["OUTBOX_MAX_ATTEMPTS"]:
                row.status = OutboxStatus.FAILED.value
            else:
                row.status = OutboxStatus.PENDING.value
                row.next_attempt_at = clock.now() + backoff(row.attempts)
            session.commit()
            if row.status == OutboxStatus.PENDING.value:
                from workflows.jobs import deliver_email_job
                from workflows.queue import enqueue

                _safe_enqueue(enqueue, deliver_email_job, outbox_id, delay=backoff(row.attempts))
            return row.status
        row.status = OutboxStatus.SENT.value
        row.sent_at = clock.now()
        row.message_id = message["Message-ID"]
        row.last_error = None
        session.commit()
        return row.status


def _build_message(row: EmailOutbox, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = row.to_address
    message["Subject"] = row.subject
    message["Message-ID"] = make_msgid(idstring=f"outbox{row.id}")
    message.set_content(row.body_text)
    if row.body_html:
        message.add_alternative(row.body_html, subtype="html")
    return message


def sweep(stuck_after: timedelta | None = None) -> int:
    """Enqueue rows left pending (queue was down) or stuck in 'sending' (worker died)."""
    if stuck_after is None:
        stuck_after = timedelta(seconds=current_app.config["OUTBOX_SWEEP_AFTER_SECONDS"])
    now = clock.now()
    db.session.execute(
        update(EmailOutbox)
        .where(EmailOutbox.status == OutboxStatus.SENDING.value,
               EmailOutbox.next_attempt_at <= now - stuck_after)
        .values(status=OutboxStatus.PENDING.value)
    )
    ids = db.session.scalars(
        select(EmailOutbox.id).where(
            EmailOutbox.status == OutboxStatus.PENDING.value,
            or_(EmailOutbox.next_attempt_at <= now - stuck_after,
                EmailOutbox.created_at <= now - stuck_after),
            EmailOutbox.next_attempt_at <= now,
        ).order_by(EmailOutbox.id).limit(1000)
    ).all()
    db.session.commit()
    from workflows.jobs import deliver_email_job
    from workflows.queue import enqueue

    for outbox_id in ids:
        if not _safe_enqueue(enqueue, deliver_email_job, outbox_id):
            break
    return len(ids)


def retry(outbox_id: int) -> None:
    """Operator action: send a failed or held row again."""
    db.session.execute(
        update(EmailOutbox).where(EmailOutbox.id == outbox_id)
        .values(status=OutboxStatus.PENDING.value, next_attempt_at=clock.now(), attempts=0)
    )
    db.session.commit()


def _safe_enqueue(enqueue, func, *args, **kwargs) -> bool:
    try:
        enqueue(func, *args, **kwargs)
        return True
    except Exception as exc:  # Redis down: the row stays pending for the sweeper
        log.warning("could not enqueue %s%s: %s", func.__name__, args, exc)
        return False


@event.listens_for(Session, "after_flush")
def _collect_new_outbox_rows(session, flush_context):
    ids = [obj.id for obj in session.new if isinstance(obj, EmailOutbox)]
    if ids:
        session.info.setdefault(_SESSION_KEY, []).extend(ids)


@event.listens_for(Session, "after_commit")
def _enqueue_after_commit(session):
    ids = session.info.pop(_SESSION_KEY, None)
    if not ids:
        return
    from workflows.jobs import deliver_email_job
    from workflows.queue import enqueue

    for outbox_id in ids:
        _safe_enqueue(enqueue, deliver_email_job, outbox_id)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session):
    session.info.pop(_SESSION_KEY, None)
