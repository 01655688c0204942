"""E-mail outbox (SPEC W1): written with its cause, delivered over SMTP, nothing lost or doubled.

Two set-ups: the embedded default (the session `app`: jobs in-process, the clock drives retries)
and production parts (`rq_app`: a private Redis, a real `python -m workflows.worker` process and
an SMTP server on loopback).
"""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm import clock
from crm.models import Counterparty, EmailOutbox
from crm.services import outbox
from tests import factories as f
from tests.services import REJECTED_DOMAIN, closed_port_url, wait_until
from workflows.queue import get_rq_queue, run_due


def open_account_with_welcome_email(email: str, *, commit: bool = True) -> Counterparty:
    """A service in miniature: a domain row and its e-mail in one transaction."""
    from crm.extensions import db

    customer = f.counterparty()
    outbox.queue_email(email, "Добро пожаловать в личный кабинет",
                       f"Здравствуйте! Кабинет для {customer.short_name} открыт.", category="welcome")
    if commit:
        db.session.commit()
    return customer


def outbox_row(to_address: str) -> EmailOutbox | None:
    """The row as committed right now (other processes write it)."""
    from crm.extensions import db

    db.session.rollback()
    return db.session.scalar(select(EmailOutbox).where(EmailOutbox.to_address == to_address)
                             .execution_options(populate_existing=True))


def row_status(to_address: str) -> str | None:
    row = outbox_row(to_address)
    return row.status if row else None


def count(model) -> int:
    from crm.extensions import db

    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture()
def smtp(app, mailbox, monkeypatch):
    """The embedded set-up with SMTP configured: mail goes to the sink, in-process."""
    monkeypatch.setitem(app.config, "SMTP_URL", mailbox.url)
    return mailbox


# --- the transaction ---------------------------------------------------------------------------

def test_email_and_its_cause_are_both_committed_when_the_transaction_commits(db, smtp):
    customer = open_account_with_welcome_email("ivanov@client.example")

    assert db.session.get(Counterparty, customer.id) is not None
    row = outbox_row("ivanov@client.example")
    assert row.category == "welcome"
    assert row.status == "sent", "in-process mode delivers right after the commit"
    assert [m["To"] for m in smtp.messages] == ["ivanov@client.example"]


def test_no_email_is_kept_or_sent_when_the_transaction_rolls_back(db, smtp):
    open_account_with_welcome_email("rolled-back@client.example", commit=False)
    db.session.flush()  # the row reached the database inside the transaction, then:
    db.session.rollback()

    assert count(EmailOutbox) == 0
    assert count(Counterparty) == 0
    assert smtp.messages == []
    # The next commit of the same session must not deliver the forgotten row either.
    open_account_with_welcome_email("next@client.example")
    assert [m["To"] for m in smtp.messages] == ["next@client.example"]


def test_nothing_is_enqueued_when_the_transaction_rolls_back_in_rq_mode(rq_app, redis_server):
    from crm.extensions import db

    open_account_with_welcome_email("rolled-back@client.example", commit=False)
    db.session.flush()
    db.session.rollback()

    assert count(EmailOutbox) == 0
    assert get_rq_queue().count == 0
    open_account_with_welcome_email("kept@client.example")
    assert get_rq_queue().count == 1


def test_header_injection_is_refused_when_an_email_is_queued(db):
    with pytest.raises(outbox.InvalidEmailError):
        outbox.queue_email("a@client.example\nBcc: everyone@client.example", "Тема", "Текст")
    with pytest.raises(outbox.InvalidEmailError):
        outbox.queue_email("a@client.example", "Тема\r\nBcc: everyone@client.example", "Текст")
    with pytest.raises(outbox.InvalidEmailError):
        outbox.queue_email("", "Тема", "Текст")
    assert not db.session.new


# --- real worker, real Redis, real SMTP --------------------------------------------------------

def test_worker_delivers_committed_email_over_smtp_when_queue_and_smtp_are_up(rq_app, rq_worker, mailbox):
    customer = open_account_with_welcome_email("petrova@client.example")

    message = mailbox.wait_for(1)[0]
    assert message["To"] == "petrova@client.example"
    assert message["Subject"] == "Добро пожаловать в личный кабинет"
    assert f"Кабинет для {customer.short_name} открыт." in message.get_content()
    assert message["From"] == rq_app.config["MAIL_FROM"]
    row = wait_until(lambda: (r := outbox_row("petrova@client.example")) and r.status == "sent" and r,
                     message="the row to be marked sent")
    assert row.sent_at is not None
    assert row.attempts == 1
    assert row.last_error is None
    assert row.message_id == message["Message-ID"]


def test_email_waits_and_is_sent_exactly_once_when_redis_was_down(rq_app, rq_worker, redis_server, mailbox):
    redis_server.stop()
    started = time.monotonic()
    open_account_with_welcome_email("during-outage@client.example")  # must not raise

    assert time.monotonic() - started < 3, "a dead Redis must not hold the request up"
    assert count(Counterparty) == 1
    assert row_status("during-outage@client.example") == "pending"

    redis_server.start()
    # The sweeper takes rows that have been due for OUTBOX_SWEEP_AFTER_SECONDS; run it twice, as
    # two overlapping cron runs would: the row is enqueued twice and must still go out once.
    clock.advance(timedelta(seconds=rq_app.config["OUTBOX_SWEEP_AFTER_SECONDS"] + 1))
    from workflows.jobs import sweep_outbox_job

    assert sweep_outbox_job() == 1
    assert sweep_outbox_job() == 1
    queue = get_rq_queue()
    wait_until(lambda: queue.finished_job_registry.count == 2, timeout=30,
               message="the worker to run both delivery jobs")

    assert [m["To"] for m in mailbox.messages] == ["during-outage@client.example"]
    row = outbox_row("during-outage@client.example")
    assert (row.status, row.attempts) == ("sent", 1)


def test_email_goes_back_to_pending_with_backoff_when_smtp_is_down(rq_app, start_worker):
    start_worker(smtp_url=closed_port_url())
    before = clock.now()
    open_account_with_welcome_email("smtp-down@client.example")

    row = wait_until(lambda: (r := outbox_row("smtp-down@client.example")) and r.attempts == 1
                     and r.status == "pending" and r, message="the failed attempt to be recorded")
    assert "ConnectionRefusedError" in row.last_error
    assert row.next_attempt_at >= before + outbox.backoff(1)
    assert row.sent_at is None
    # The retry is scheduled in RQ for when the backoff ends.
    scheduled = get_rq_queue().scheduled_job_registry
    wait_until(lambda: scheduled.count == 1, timeout=5, message="the retry to be scheduled")


# --- retries, in-process (the clock drives them) -----------------------------------------------

def test_retry_delivers_once_the_clock_passes_the_backoff_when_smtp_comes_back(app, db, mailbox, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_URL", closed_port_url())
    clock.set_now(clock.now())
    open_account_with_welcome_email("retry@client.example")
    row = outbox_row("retry@client.example")
    assert (row.status, row.attempts) == ("pending", 1)

    monkeypatch.setitem(app.config, "SMTP_URL", mailbox.url)  # the mail server is back
    assert run_due() == 0, "nothing runs before the backoff ends"
    clock.set_now(row.next_attempt_at - timedelta(seconds=1))
    assert run_due() == 0
    clock.set_now(row.next_attempt_at)
    assert run_due() == 1

    row = outbox_row("retry@client.example")
    assert (row.status, row.attempts) == ("sent", 2)
    assert row.last_error is None
    assert [m["To"] for m in mailbox.messages] == ["retry@client.example"]


def test_email_fails_after_the_last_attempt_when_smtp_stays_down(app, db, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_URL", closed_port_url())
    monkeypatch.setitem(app.config, "OUTBOX_MAX_ATTEMPTS", 3)
    clock.set_now(clock.now())
    open_account_with_welcome_email("never@client.example")

    for attempt in (1, 2):
        row = outbox_row("never@client.example")
        assert (row.status, row.attempts) == ("pending", attempt)
        assert row.next_attempt_at == clock.now() + outbox.backoff(attempt)
        clock.set_now(row.next_attempt_at)
        assert run_due() == 1

    row = outbox_row("never@client.example")
    assert (row.status, row.attempts) == ("failed", 3)
    assert "ConnectionRefusedError" in row.last_error
    clock.advance(timedelta(days=1))
    assert run_due() == 0, "a failed row is not retried by itself"
    assert outbox.sweep() == 0


def test_email_fails_at_once_when_the_server_refuses_the_recipient(app, db, smtp):
    open_account_with_welcome_email(f"nobody@{REJECTED_DOMAIN}")

    row = outbox_row(f"nobody@{REJECTED_DOMAIN}")
    assert (row.status, row.attempts) == ("failed", 1)
    assert "550" in row.last_error
    clock.advance(timedelta(hours=2))
    assert run_due() == 0


def test_email_is_held_in_the_outbox_when_no_smtp_is_configured(app, db):
    assert not app.config["SMTP_URL"]
    open_account_with_welcome_email("held@client.example")

    row = outbox_row("held@client.example")
    assert row.status == "held"
    assert row.attempts == 0, "no delivery was attempted"
    assert "SMTP_URL" in row.last_error
    clock.advance(timedelta(hours=1))
    assert outbox.sweep() == 0, "held rows wait for an operator, not for the sweeper"


def test_held_email_is_sent_when_an_operator_retries_after_smtp_is_configured(app, db, mailbox, monkeypatch):
    open_account_with_welcome_email("held@client.example")
    row = outbox_row("held@client.example")
    assert row.status == "held"

    monkeypatch.setitem(app.config, "SMTP_URL", mailbox.url)
    assert outbox.retry(row.id) is True

    row = outbox_row("held@client.example")
    assert (row.status, row.attempts) == ("sent", 1)
    assert [m["To"] for m in mailbox.messages] == ["held@client.example"]


def test_sent_email_is_not_sent_again_when_an_operator_retries_it(db, smtp):
    open_account_with_welcome_email("once@client.example")
    row = outbox_row("once@client.example")

    assert outbox.retry(row.id) is False
    assert outbox.deliver(row.id) == "sent"
    assert len(smtp.messages) == 1


# --- the sweeper --------------------------------------------------------------------------------

def test_sweeper_sends_email_left_sending_when_a_worker_died_mid_delivery(app, db, smtp):
    row = outbox.queue_email("orphan@client.example", "Счёт за март", "Счёт во вложении.")
    row.status, row.attempts = "sending", 1  # what a worker that died after its claim leaves
    db.session.commit()
    assert smtp.messages == [], "the after-commit job sees the claim and leaves the row alone"
    stuck_after = timedelta(seconds=app.config["OUTBOX_SWEEP_AFTER_SECONDS"])

    clock.advance(stuck_after - timedelta(seconds=1))
    assert outbox.sweep() == 0, "a delivery in progress is left alone"
    clock.advance(timedelta(seconds=2))
    assert outbox.sweep() == 1

    row = outbox_row("orphan@client.example")
    assert (row.status, row.attempts) == ("sent", 2)
    assert [m["To"] for m in smtp.messages] == ["orphan@client.example"]


def test_sweeper_leaves_fresh_pending_email_to_its_own_job_when_the_queue_is_busy(rq_app, redis_server):
    open_account_with_welcome_email("fresh@client.example")
    assert get_rq_queue().count == 1  # its own job, not yet run (no worker)

    assert outbox.sweep() == 0
    clock.advance(timedelta(seconds=rq_app.config["OUTBOX_SWEEP_AFTER_SECONDS"] + 1))
    assert outbox.sweep() == 1
    assert get_rq_queue().count == 2
