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
which a message can go out twice, and the price of never losing one. Such a second copy carries
the same Message-ID as the first (`message_id_for()`: derived from the row, not random), so the
receiving side can recognise it as the same message (docs/reliability.md, "RQ worker killed mid-job").

Throughput (bench/outbox.py): a worker keeps one SMTP connection per thread open between messages
(checked with NOOP after an idle pause, reopened after any error); the sweeper and multi-row commits
hand rows to the queue in jobs of BATCH_SIZE; and on PostgreSQL the delivery's own small transactions
(claim, sent mark) commit with synchronous_commit off. That last one is a durability trade, not an
exclusivity one: the claim's UPDATE still serialises racing jobs; only a PostgreSQL crash (not a
restart) within its WAL-writer delay could forget a claim or a sent mark, which — like a killed
worker — can mean a second copy with the same Message-ID, never a lost message.
"""
from __future__ import annotations

import logging
import os
import smtplib
import ssl
import threading
import time
from datetime import timedelta
from email.header import Header
from email.message import EmailMessage, Message
from email.mime.text import MIMEText
from email.utils import formataddr, parseaddr

from flask import current_app
from sqlalchemy import event, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from crm import clock
from crm.extensions import db
from crm.mailer import MailerError, SmtpMailer, _is_permanent
from crm.models.outbox import EmailOutbox, OutboxStatus

log = logging.getLogger(__name__)

_SESSION_KEY = "crm_outbox_ids"
SWEEP_BATCH = 1000
# Rows per delivery job when many are handed over at once (sweeper, multi-row commits): large enough
# that RQ's per-job cost (~3 ms) is noise, small enough that two workers share a backlog of a few hundred.
BATCH_SIZE = 50
# A kept SMTP connection idle for longer than this is checked with NOOP before the next message (the
# server may have closed it; Postfix's smtpd_timeout is 300 s).
SMTP_IDLE_CHECK_SECONDS = 5.0
# Messages per kept SMTP session before it is closed and a new one opened: servers cap this (Exchange and
# many relays at 20–100) and answer a 4xx beyond it, which would cost one message a 30 s retry.
SMTP_MESSAGES_PER_SESSION = 50
NO_SMTP_MESSAGE = "SMTP_URL is not configured; the message is kept in the outbox"

_table = EmailOutbox.__table__


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

    Runs on its own connection, so it never touches the caller's transaction."""
    return deliver_many([outbox_id])[outbox_id]


def deliver_many(outbox_ids: list[int]) -> dict[int, str]:
    """Send each row that is pending and due, one after the other; returns {id: resulting status}.

    Every row is claimed, sent and marked on its own (two commits per row), so a batch is exactly as
    safe as that many single jobs: a row another job took is skipped, and a worker that dies mid-batch
    leaves at most the row it was sending in 'sending' (rows not yet claimed stay pending)."""
    config = current_app.config
    smtp_url = config.get("SMTP_URL")
    # Built before any claim: a malformed SMTP_URL is a settings error that must fail the job
    # loudly without consuming an attempt.
    smtp = _smtp_connection(smtp_url) if smtp_url else None
    statuses: dict[int, str] = {}
    with db.engine.connect() as connection:
        fast_commit = connection.dialect.name == "postgresql"
        if fast_commit:  # not SET LOCAL: it lasts until the RESET below (the first claim commits it)
            connection.exec_driver_sql("SET synchronous_commit = off")
        try:
            for outbox_id in outbox_ids:
                statuses[outbox_id] = _deliver_one(connection, outbox_id, smtp, config)
        finally:
            if fast_commit:
                _reset_synchronous_commit(connection)
    return statuses


def _reset_synchronous_commit(connection: Connection) -> None:
    """Give the pooled connection back as it was; a broken one is discarded instead."""
    try:
        connection.rollback()
        connection.exec_driver_sql("RESET synchronous_commit")
        connection.commit()
    except Exception:  # noqa: BLE001 - the connection is gone; the pool must not reuse it
        connection.invalidate()


def _deliver_one(connection: Connection, outbox_id: int, smtp: _SmtpConnection | None, config) -> str:
    now = clock.now()
    due = (_table.c.id == outbox_id, _table.c.status == OutboxStatus.PENDING.value, _table.c.next_attempt_at <= now)
    if smtp is None:
        connection.execute(update(_table).where(*due)
                           .values(status=OutboxStatus.HELD.value, last_error=NO_SMTP_MESSAGE))
        connection.commit()
        return _status(connection, outbox_id)
    row = connection.execute(
        update(_table).where(*due)
        .values(status=OutboxStatus.SENDING.value, attempts=_table.c.attempts + 1, next_attempt_at=now)
        .returning(_table.c.id, _table.c.attempts, _table.c.created_at, _table.c.to_address, _table.c.subject,
                   _table.c.body_text, _table.c.body_html, _table.c.attachments)
    ).first()
    connection.commit()
    if row is None:  # not due, already taken by another job, or gone
        return _status(connection, outbox_id)
    try:
        message = _build_message(row, config["MAIL_FROM"])
    except ValueError as exc:  # the row itself is unsendable: no retry can fix it
        return _record_failure(connection, row, MailerError(f"cannot build the message: {exc}", permanent=True))
    try:
        smtp.send(message)
    except MailerError as exc:
        return _record_failure(connection, row, exc)
    # The window: the server has the message, this row still says 'sending' until this commit.
    connection.execute(update(_table).where(_table.c.id == outbox_id).values(
        status=OutboxStatus.SENT.value, sent_at=clock.now(), message_id=message["Message-ID"], last_error=None))
    connection.commit()
    return OutboxStatus.SENT.value


def _status(connection: Connection, outbox_id: int) -> str:
    status = connection.scalar(select(_table.c.status).where(_table.c.id == outbox_id))
    connection.commit()  # not rollback: that would also undo deliver_many's SET
    return status or "missing"


def _record_failure(connection: Connection, row, exc: MailerError) -> str:
    """Retry later with a backoff, or give up (permanent refusal, or out of attempts)."""
    last_error = str(exc)[:2000]
    retry_at = clock.now() + backoff(row.attempts)
    if exc.permanent or row.attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]:
        values = {"status": OutboxStatus.FAILED.value}
    else:
        values = {"status": OutboxStatus.PENDING.value, "next_attempt_at": retry_at}
    connection.execute(update(_table).where(_table.c.id == row.id).values(last_error=last_error, **values))
    connection.commit()
    log.warning("e-mail %s attempt %s failed (%s): %s", row.id, row.attempts, values["status"], last_error)
    if values["status"] == OutboxStatus.PENDING.value:
        from workflows.jobs import deliver_email_job

        # If this enqueue is lost (Redis down), the sweeper picks the row up once it is due.
        _safe_enqueue(deliver_email_job, row.id, at=retry_at)
    return values["status"]


def message_id_for(outbox_id: int, created_at, sender: str) -> str:
    """The row's Message-ID: the same on every attempt, so a second copy (a worker killed after the
    server's 250 and before the sent mark) is recognisable as the same message. The creation time
    keeps ids apart across databases whose outbox ids restart."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "crm.invalid"
    return f"<outbox.{outbox_id}.{created_at.strftime('%Y%m%d%H%M%S%f')}@{domain}>"


def _build_message(row, sender: str) -> Message:
    if not row.body_html and not row.attachments:
        return _build_plain_message(row, sender)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = row.to_address
    message["Subject"] = row.subject
    message["Message-ID"] = message_id_for(row.id, row.created_at, sender)
    message.set_content(row.body_text)
    if row.body_html:
        message.add_alternative(row.body_html, subtype="html")
    for attachment in row.attachments or ():
        _attach(message, attachment)
    return message


def _build_plain_message(row, sender: str) -> Message:
    """The common case, text only, built with the legacy (compat32) classes: the same headers and body
    once decoded, in about a sixth of the time the modern policy's header folding takes (≈ 0.25 ms
    against 1.5 ms a message, most of a worker's own CPU per e-mail; bench/outbox.py)."""
    message = MIMEText(row.body_text, "plain", "utf-8")
    name, address = parseaddr(sender)
    message["From"] = formataddr((name, address), "utf-8")
    message["To"] = row.to_address
    message["Subject"] = Header(row.subject, "utf-8")
    message["Message-ID"] = message_id_for(row.id, row.created_at, sender)
    return message


class _SmtpConnection:
    """One SMTP session kept open between messages (per thread; see `_smtp_connection`).

    The settings come from SmtpMailer (crm/mailer.py) and errors are reported the same way (MailerError,
    `permanent` for 5xx refusals of this message). After any error the session is dropped, so the next
    message starts on a fresh one; a session idle for SMTP_IDLE_CHECK_SECONDS is checked with NOOP first,
    so a server that timed it out costs a reconnect, not a failed attempt."""

    def __init__(self, url: str):
        self.url = url
        self.settings = SmtpMailer(url)  # raises ValueError for a malformed URL
        self.client: smtplib.SMTP | None = None
        self.last_used = 0.0
        self.sent = 0

    def send(self, message: Message) -> None:
        try:
            if self.client is not None and time.monotonic() - self.last_used > SMTP_IDLE_CHECK_SECONDS:
                self._check_alive()
            if self.client is None:
                self.client = self._connect()
                self.sent = 0
            self.client.send_message(message)
            self.last_used = time.monotonic()
            self.sent += 1
            if self.sent >= SMTP_MESSAGES_PER_SESSION:
                self._quit()
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            raise MailerError(f"{exc.__class__.__name__}: {exc}", permanent=_is_permanent(exc)) from exc

    def _check_alive(self) -> None:
        try:
            code, _ = self.client.noop()
        except (OSError, smtplib.SMTPException):
            code = None
        if code != 250:
            self.close()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.use_ssl:
            client = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            if s.starttls:
                client.starttls(context=ssl.create_default_context())
            if s.username:
                client.login(s.username, s.password or "")
        except BaseException:
            client.close()
            raise
        return client

    def _quit(self) -> None:
        """End the session politely (the message is already accepted; a failure here changes nothing)."""
        try:
            self.client.quit()
        except (OSError, smtplib.SMTPException):
            pass
        self.close()

    def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            try:
                client.close()
            except OSError:  # the socket is already broken: nothing is left to release or report
                pass


_local = threading.local()


def _smtp_connection(url: str) -> _SmtpConnection:
    """This thread's kept SMTP session for `url` (a new one when the URL changed)."""
    current = getattr(_local, "smtp", None)
    if current is None or current.url != url:
        if current is not None:
            current.close()
        current = _local.smtp = _SmtpConnection(url)
    return current


def _forget_smtp_connections() -> None:
    """In a forked child: the parent's sockets are not ours to use."""
    global _local
    _local = threading.local()


os.register_at_fork(after_in_child=_forget_smtp_connections)


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
    return enqueue_deliveries(ids)


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


def enqueue_deliveries(outbox_ids: list[int]) -> int:
    """Hand rows to the queue: one `deliver_email_job` for a single row, `deliver_email_batch_job`s of
    BATCH_SIZE for more. Stops at the first failure (the queue is down: the sweeper sends the rest);
    returns how many rows were handed over."""
    from workflows.jobs import deliver_email_batch_job, deliver_email_job

    handed = 0
    for start in range(0, len(outbox_ids), BATCH_SIZE):
        chunk = list(outbox_ids[start:start + BATCH_SIZE])
        if not (_safe_enqueue(deliver_email_job, chunk[0]) if len(chunk) == 1
                else _safe_enqueue(deliver_email_batch_job, chunk)):
            break
        handed += len(chunk)
    return handed


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
    if ids:
        enqueue_deliveries(ids)  # one failure means the queue is down: the caller does not wait for each row


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session):
    session.info.pop(_SESSION_KEY, None)
