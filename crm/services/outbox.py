"""Transactional e-mail outbox (W1).

`queue_email()` adds a row to the caller's session: it commits or rolls back with its cause.
After the commit the delivery job is enqueued; if the queue is down the row stays 'pending' and
the sweeper (`sweep()`, run every minute by workflows/schedule.py) enqueues it later.

Statuses: pending → sending → sent; a transient SMTP failure puts the row back to pending with
a backoff, until OUTBOX_MAX_ATTEMPTS, then failed; a permanent refusal (5xx for this recipient
or content) fails at once; with no SMTP_URL the row is held (kept for the back office).

Delivery claims the row with one conditional UPDATE (pending and due → sending), so when the
sweeper, a retry and the after-commit job race, exactly one of them sends. The claim is committed
before the SMTP hand-off: a worker killed between the hand-off and the next commit leaves the row
'sending', and the sweeper gives it back after OUTBOX_SWEEP_AFTER_SECONDS — the only case in
which a message can go out twice, and the price of never losing one.
"""
from __future__ import annotations

import logging
from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from crm import clock
from crm.extensions import db
from crm.mailer import MailerError, SmtpMailer
from crm.models.outbox import EmailOutbox, OutboxStatus

log = logging.getLogger(__name__)

_SESSION_KEY = "crm_outbox_ids"
SWEEP_BATCH = 1000
NO_SMTP_MESSAGE = "SMTP_URL is not configured; the message is kept in the outbox"


class InvalidEmailError(ValueError):
    """The e-mail cannot be sent as given (no address, or a line break in a header)."""


def queue_email(to_address: str, subject: str, body_text: str, *, body_html: str | None = None,
                user_id: int | None = None, category: str | None = None,
                attachments: list[dict] | None = None) -> EmailOutbox:
    """Add an e-mail to the current transaction; it is sent only if the transaction commits.

    `attachments`: files already in `crm.storage`, each `{"key", "filename", "content_type"}`; they are
    read when the message is built, so a retry sends the same files."""
    to_address = (to_address or "").strip()
    if "@" not in to_address:
        raise InvalidEmailError(f"not an e-mail address: {to_address!r}")
    for name, value in (("to_address", to_address), ("subject", subject)):
        if "\r" in value or "\n" in value:  # would be a header injection, and smtplib refuses it
            raise InvalidEmailError(f"{name} must be one line")
    for attachment in attachments or ():
        if not attachment.get("key") or not attachment.get("filename") or "/" not in attachment.get(
                "content_type", ""):
            raise InvalidEmailError(f"an attachment needs a key, a file name and a content type: {attachment!r}")
    row = EmailOutbox(to_address=to_address, subject=subject, body_text=body_text, body_html=body_html,
                      user_id=user_id, category=category, status=OutboxStatus.PENDING.value,
                      attempts=0, next_attempt_at=clock.now(), attachments=list(attachments) if attachments else None)
    db.session.add(row)
    return row


def backoff(attempts: int) -> timedelta:
    """Wait after failed attempt number `attempts`: 30 s, 1 min, 2 min, 4 min … capped at 1 h."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def deliver(outbox_id: int) -> str:
    """Send one outbox row if it is pending and due; returns the row's resulting status.

    Runs in its own session, so it never touches the caller's transaction."""
    config = current_app.config
    smtp_url = config.get("SMTP_URL")
    # Built before the claim: a malformed SMTP_URL is a settings error that must fail the job
    # loudly without consuming an attempt.
    mailer = SmtpMailer(smtp_url) if smtp_url else None
    with Session(db.engine) as session:
        now = clock.now()
        due = (EmailOutbox.id == outbox_id, EmailOutbox.status == OutboxStatus.PENDING.value,
               EmailOutbox.next_attempt_at <= now)
        if mailer is None:
            session.execute(update(EmailOutbox).where(*due)
                            .values(status=OutboxStatus.HELD.value, last_error=NO_SMTP_MESSAGE))
            session.commit()
            return _status(session, outbox_id)
        claimed = session.execute(
            update(EmailOutbox).where(*due)
            .values(status=OutboxStatus.SENDING.value, attempts=EmailOutbox.attempts + 1, next_attempt_at=now)
        ).rowcount
        session.commit()
        if not claimed:  # not due, already taken by another job, or gone
            return _status(session, outbox_id)
        row = session.get(EmailOutbox, outbox_id)
        try:
            message = _build_message(row, config["MAIL_FROM"])
        except ValueError as exc:  # the row itself is unsendable: no retry can fix it
            return _record_failure(session, row, MailerError(f"cannot build the message: {exc}", permanent=True))
        try:
            mailer.send(message)
        except MailerError as exc:
            return _record_failure(session, row, exc)
        row.status = OutboxStatus.SENT.value
        row.sent_at = clock.now()
        row.message_id = message["Message-ID"]
        row.last_error = None
        session.commit()
        return row.status


def _status(session: Session, outbox_id: int) -> str:
    status = session.scalar(select(EmailOutbox.status).where(EmailOutbox.id == outbox_id))
    return status or "missing"


def _record_failure(session: Session, row: EmailOutbox, exc: MailerError) -> str:
    """Retry later with a backoff, or give up (permanent refusal, or out of attempts)."""
    row.last_error = str(exc)[:2000]
    retry_at = clock.now() + backoff(row.attempts)
    if exc.permanent or row.attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]:
        row.status = OutboxStatus.FAILED.value
    else:
        row.status = OutboxStatus.PENDING.value
        row.next_attempt_at = retry_at
    session.commit()
    log.warning("e-mail %s attempt %s failed (%s): %s", row.id, row.attempts, row.status, row.last_error)
    if row.status == OutboxStatus.PENDING.value:
        from workflows.jobs import deliver_email_job

        # If this enqueue is lost (Redis down), the sweeper picks the row up once it is due.
        _safe_enqueue(deliver_email_job, row.id, at=retry_at)
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
    for attachment in row.attachments or ():
        _attach(message, attachment)
    return message


def _attach(message: EmailMessage, attachment: dict) -> None:
    """Add a stored file; a missing one makes the row unsendable (ValueError → failed, no retry)."""
    from crm.storage import StorageError, get_storage

    maintype, _slash, subtype = attachment["content_type"].partition("/")
    try:
        with get_storage().open(attachment["key"]) as stored:
            data = stored.read()
    except StorageError as exc:
        raise ValueError(str(exc)) from exc
    message.add_attachment(data, maintype=maintype, subtype=subtype, filename=attachment["filename"])


def sweep(stuck_after: timedelta | None = None) -> int:
    """Enqueue rows the queue never got (Redis was down) or lost (a worker died mid-delivery).

    A row qualifies once it has been due for `stuck_after` (OUTBOX_SWEEP_AFTER_SECONDS), so rows
    whose own job is simply still waiting in a busy queue are left alone. Returns how many rows
    were handed to the queue."""
    if stuck_after is None:
        stuck_after = timedelta(seconds=current_app.config["OUTBOX_SWEEP_AFTER_SECONDS"])
    cutoff = clock.now() - stuck_after
    stuck = (EmailOutbox.status == OutboxStatus.SENDING.value, EmailOutbox.next_attempt_at <= cutoff)
    db.session.execute(
        update(EmailOutbox)
        .where(*stuck, EmailOutbox.attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"])
        .values(status=OutboxStatus.FAILED.value, last_error="delivery was interrupted on every attempt")
    )
    db.session.execute(update(EmailOutbox).where(*stuck).values(status=OutboxStatus.PENDING.value))
    ids = db.session.scalars(
        select(EmailOutbox.id)
        .where(EmailOutbox.status == OutboxStatus.PENDING.value, EmailOutbox.next_attempt_at <= cutoff)
        .order_by(EmailOutbox.id).limit(SWEEP_BATCH)
    ).all()
    db.session.commit()
    from workflows.jobs import deliver_email_job

    enqueued = 0
    for outbox_id in ids:
        if not _safe_enqueue(deliver_email_job, outbox_id):
            break  # the queue is down: the next sweep tries again
        enqueued += 1
    return enqueued


def retry(outbox_id: int) -> bool:
    """Operator action: send a failed or held row again, with a fresh set of attempts.

    Returns False (and changes nothing) for a row that is not failed or held, so a sent
    message cannot be re-sent by a stray click."""
    changed = db.session.execute(
        update(EmailOutbox)
        .where(EmailOutbox.id == outbox_id,
               EmailOutbox.status.in_([OutboxStatus.FAILED.value, OutboxStatus.HELD.value]))
        .values(status=OutboxStatus.PENDING.value, next_attempt_at=clock.now(), attempts=0)
    ).rowcount
    db.session.commit()
    if changed:
        from workflows.jobs import deliver_email_job

        _safe_enqueue(deliver_email_job, outbox_id)
    return bool(changed)


def _safe_enqueue(func, *args, **kwargs) -> bool:
    from workflows.queue import enqueue

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

    for outbox_id in ids:
        if not _safe_enqueue(deliver_email_job, outbox_id):
            break  # one failure means the queue is down; don't make the caller wait for each row


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session):
    session.info.pop(_SESSION_KEY, None)
