"""Redis stopped while customers keep using the portal (issue 8 item 5): every page answers, every e-mail
the customers' actions cause is kept in the outbox; once Redis is back the outbox drains by itself (the
sweeper re-enqueues what Redis could not take) and each e-mail reaches the SMTP server exactly once.

Real parts: a private redis-server (stopped for RELIABILITY_SECONDS, default 5; `make test-reliability`
sets 60, and restarted empty, like a Redis without persistence), a `python -m workflows.worker` process
and the `--cron` scheduler (outbox sweep every 2 s instead of every minute) running throughout, the test
database, the aiosmtpd sink; the portal through the test client of an app configured for RQ.

Actions that send e-mail during the outage: password recovery (anonymous), "Ask a question" (signed in;
e-mailed to the branch), and a broadcast notification with e-mail copies (a staff action; the fan-out's
batch hand-off to the queue fails and the rows wait).
"""
from __future__ import annotations

import itertools
import os
import sys
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from crm.models import ContactQuestion, EmailOutbox
from tests import factories as f
from tests.conftest import IsolatedClient
from tests.services import WorkerProcess, stop_workers, wait_until
from workflows import notifications

OUTAGE_SECONDS = float(os.environ.get("RELIABILITY_SECONDS", "5"))
CUSTOMERS = 4
PAGES = ["/portal/", "/portal/contracts/", "/portal/notifications", "/portal/help/", "/portal/profile/"]
SWEEP_AFTER_SECONDS = 3
CRON_SWEEP_EVERY_2_SECONDS = ("import workflows.schedule as s; s.PERIODIC_JOBS[:] = [(s.jobs.sweep_outbox_job, 2)]; "
                              "from workflows.worker import main; main(['--cron'])")


@pytest.fixture()
def services(rq_app, database_url, redis_server, mailbox):
    """A worker and the cron scheduler (sweep every 2 s, OUTBOX_SWEEP_AFTER_SECONDS=3) on this test's
    Redis and the SMTP sink; stopped after the test, their logs printed."""
    started = []
    for cron in (False, True):
        process = WorkerProcess(database_url, redis_server.url, mailbox.url, cron=cron,
                                command=[sys.executable, "-c", CRON_SWEEP_EVERY_2_SECONDS] if cron else None,
                                env={"OUTBOX_SWEEP_AFTER_SECONDS": str(SWEEP_AFTER_SECONDS)})
        started.append(process)
        process.start()
        process.wait_ready()
    yield started
    stop_workers(started)


def _customers(db):
    branch = f.branch(email="branch-desk@energo.example")
    contract = f.contract(branch_=branch)
    users = []
    for n in range(CUSTOMERS):
        user = f.user(f"outage{n}@client.example")
        f.grant(user, contract, "administrator" if n == 0 else "manager")
        users.append(user)
    db.session.commit()
    return branch, contract, users


def _signed_in(rq_app, user):
    rq_app.test_client_class = IsolatedClient
    client = rq_app.test_client()
    response = f.login(client, user.email)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return client


def _outbox_count(db) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(EmailOutbox))


def _statuses(db) -> Counter:
    db.session.rollback()
    return Counter(db.session.scalars(select(EmailOutbox.status)))


def test_portal_answers_and_every_email_goes_out_once_when_redis_was_down(
        rq_app, services, redis_server, mailbox):
    from crm.extensions import db

    branch, contract, users = _customers(db)
    clients = [_signed_in(rq_app, user) for user in users]
    anonymous = rq_app.test_client()
    for client in clients:  # the pages answer before the outage
        for page in PAGES:
            assert client.get(page, follow_redirects=True).status_code == 200, page

    redis_server.stop()
    outage_started = time.monotonic()
    recoveries = questions = views = 0
    slowest = 0.0
    rotation = itertools.cycle(range(CUSTOMERS))
    while time.monotonic() - outage_started < OUTAGE_SECONDS:
        n = next(rotation)
        for page in PAGES:
            started = time.monotonic()
            response = clients[n].get(page, follow_redirects=True)
            slowest = max(slowest, time.monotonic() - started)
            assert response.status_code == 200, f"{page} answered {response.status_code} while Redis was down"
            views += 1
        started = time.monotonic()
        response = anonymous.post("/portal/password/recover", data={"email": users[n].email})
        slowest = max(slowest, time.monotonic() - started)
        assert response.status_code == 200, "password recovery answers while Redis is down"
        recoveries += 1
        response = clients[n].post("/portal/help/ask", data={
            "name": "Иван Петров", "email": users[n].email, "phone": "", "contract_id": str(contract.id),
            "text": f"Когда будет подключение после плановых работ? Вопрос {questions + 1}."})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        questions += 1
        if recoveries == 1:  # a staff broadcast with e-mail copies, once, in the middle of the outage
            notification = notifications.create_notification(
                None, kind="banner", category="outage", send_email=True, subject="Плановые работы",
                body_markdown="Отключение **12 марта** с 09:00 до 17:00.",
                audience={"type": "branch", "ids": [branch.id]})
            assert notifications.send_now(notification) == CUSTOMERS

    assert slowest < 3, f"a request took {slowest:.1f} s: a dead Redis must not hold requests up"
    expected = recoveries + questions + CUSTOMERS
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(ContactQuestion)) == questions
    assert _outbox_count(db) == expected, "every e-mail is in the outbox"
    assert _statuses(db) == Counter({"pending": expected}), "nothing could be handed to the queue"
    assert mailbox.messages == []
    assert views >= len(PAGES)

    outage = time.monotonic() - outage_started
    redis_server.start()  # empty: the jobs enqueued before the outage are gone too
    restarted = time.monotonic()
    wait_until(lambda: _statuses(db) == Counter({"sent": expected}), timeout=60 + expected / 5,
               message=f"the outbox to drain ({expected} e-mails)")
    drained = time.monotonic() - restarted
    time.sleep(2.5)  # one more sweep period: a duplicate, if any, would arrive now

    db.session.rollback()
    rows = db.session.scalars(select(EmailOutbox)).all()
    received = Counter(message["Message-ID"] for message in mailbox.messages)
    assert received == Counter({row.message_id: 1 for row in rows}), "each e-mail arrived exactly once"
    assert all(row.attempts == 1 for row in rows)
    by_category = Counter(row.category for row in rows)
    assert by_category == Counter({"password_reset": recoveries, "contact_question": questions,
                                   "notification:outage": CUSTOMERS})
    for client in clients:  # and the portal still answers
        assert client.get("/portal/", follow_redirects=True).status_code == 200
    print(f"\nRedis outage: {outage:.1f} s, {views} page views (all 200, slowest request {1000 * slowest:.0f} ms), "
          f"{expected} e-mails kept in the outbox; Redis back → all sent in {drained:.1f} s, "
          f"{len(received)} Message-IDs received once each, 0 duplicates")
