"""A broadcast while Redis is down (issue 7 acceptance 3): the in-app deliveries appear at once (the
fan-out needs only the database); the e-mail copies wait in the outbox and, once Redis is back, a real
RQ worker sends them to the SMTP server — each exactly once, even when the sweeper runs twice."""
from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select

from crm import clock
from crm.models import EmailOutbox, NotificationDelivery
from tests import factories as f
from tests.services import wait_until
from workflows import notifications
from workflows.jobs import sweep_outbox_job

RECIPIENTS = 12


def _customers(db) -> list[str]:
    branch = f.branch()
    contract = f.contract(branch_=branch)
    emails = []
    for n in range(RECIPIENTS):
        user = f.user(f"outage{n}@client.example")
        f.grant(user, contract, "manager" if n else "administrator")
        emails.append(user.email)
    other = f.user("other-branch@client.example")  # another branch's customer: never reached
    f.grant(other, f.contract(), "manager")
    db.session.commit()
    return emails, branch


def _statuses(db) -> Counter:
    db.session.rollback()
    return Counter(db.session.scalars(select(EmailOutbox.status)))


def test_deliveries_appear_and_emails_go_out_once_when_redis_was_down_during_a_broadcast(
        rq_app, rq_worker, redis_server, mailbox):
    from crm.extensions import db

    emails, branch = _customers(db)
    notification = notifications.create_notification(
        None, kind="banner", category="outage", send_email=True, subject="Отключение электроэнергии",
        body_markdown="Плановые работы **12 марта** с 09:00 до 17:00.", audience={"type": "branch", "ids": [branch.id]})

    notification_id = notification.id
    redis_server.stop()
    started = time.monotonic()
    assert notifications.send_now(notification) == RECIPIENTS  # must not raise with Redis down
    assert time.monotonic() - started < 10, "a dead Redis must not hold the fan-out up"

    db.session.rollback()
    delivered = db.session.scalar(select(func.count()).select_from(NotificationDelivery)
                                  .where(NotificationDelivery.notification_id == notification_id))
    assert delivered == RECIPIENTS, "the in-app notifications are there while Redis is down"
    assert _statuses(db) == Counter({"pending": RECIPIENTS})
    time.sleep(1)
    assert mailbox.messages == []

    redis_server.start()
    # The sweeper takes rows due for OUTBOX_SWEEP_AFTER_SECONDS; two overlapping runs enqueue every
    # row twice, and each must still be sent once.
    clock.advance(timedelta(seconds=rq_app.config["OUTBOX_SWEEP_AFTER_SECONDS"] + 1))
    assert sweep_outbox_job() == RECIPIENTS
    assert sweep_outbox_job() in (0, RECIPIENTS)
    assert notifications.fan_out(notification_id) == 0, "sending again adds nothing"

    messages = mailbox.wait_for(RECIPIENTS, timeout=60)
    wait_until(lambda: _statuses(db) == Counter({"sent": RECIPIENTS}), timeout=60, message="every row sent")
    time.sleep(1.5)  # a duplicate, if any, would arrive now
    received = Counter(message["To"] for message in mailbox.messages)
    assert received == Counter({email: 1 for email in emails})
    assert "other-branch@client.example" not in received
    assert messages[0]["Subject"] == "Отключение электроэнергии"
    assert "12 марта" in messages[0].get_body(("plain",)).get_content()
