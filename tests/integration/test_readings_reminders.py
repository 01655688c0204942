"""Readings-window reminders (SPEC W2 with the C4 settings; issue 4 item 8), delivered through the
outbox to the real SMTP sink, with the clock moved day by day."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from crm import clock
from crm.extensions import db
from crm.models import ReadingsReminder, ReadingsWindow
from crm.services import readings_reminders
from tests import factories as f
from workflows import jobs

FEB = date(2024, 2, 1)


def at(day: date) -> None:
    clock.set_now(datetime(day.year, day.month, day.day, 7, 0, tzinfo=UTC))


@contextmanager
def data(app):
    with app.app_context():
        yield
        db.session.commit()


@pytest.fixture()
def mail(app, mailbox):
    previous = app.config.get("SMTP_URL")
    app.config["SMTP_URL"] = mailbox.url
    yield mailbox
    app.config["SMTP_URL"] = previous


def settings(**kw):
    return {"email": True, "remind_open": True, "remind_open_days": 3, "remind_close": True,
            "remind_close_days": 2, **kw}


@pytest.fixture()
def site(app):
    """General window for February: 25.02–05.03. Branch S1 has its own: 01.03–10.03.
    Contract N (branch N1): engineer (open 3 days), manager (open 5 days), accountant, an administrator
    with e-mail off, a manager with the opening reminder off. Contract S (branch S1): engineer."""
    at(date(2024, 2, 1))
    with data(app):
        north, south = f.branch(code="N1"), f.branch(code="S1")
        contract_n = f.contract(branch_=north, number="77000000000101")
        contract_s = f.contract(branch_=south, number="77000000000202")
        general = ReadingsWindow(period=FEB, opens_on=date(2024, 2, 25), closes_on=date(2024, 3, 5))
        own = ReadingsWindow(period=FEB, branch_id=south.id, opens_on=date(2024, 3, 1), closes_on=date(2024, 3, 10))
        db.session.add_all([general, own])
        people = {
            "engineer": ("engineer@n.example", "power_engineer", settings()),
            "manager": ("manager@n.example", "manager", settings(remind_open_days=5)),
            "accountant": ("accountant@n.example", "accountant", settings()),
            "silent": ("silent@n.example", "administrator", settings(email=False)),
            "no_open": ("noopen@n.example", "manager", settings(remind_open=False)),
        }
        for email, role, values in people.values():
            f.grant(f.user(email, notification_settings=values), contract_n, role)
        f.grant(f.user("engineer@s.example", notification_settings=settings()), contract_s, "power_engineer")
        db.session.flush()
        ids = SimpleNamespace(general=general.id, own=own.id, contract_n=contract_n.id, contract_s=contract_s.id)
    return ids


def _run(app, day: date) -> int:
    at(day)
    with app.app_context():
        return jobs.readings_reminders_job()


def _recipients(messages) -> list[str]:
    return sorted(message["To"] for message in messages)


def test_nothing_is_sent_before_anyones_number_of_days(app, site, mail):
    assert _run(app, date(2024, 2, 19)) == 0          # 6 days before the general window opens
    assert mail.messages == []


def test_each_user_is_reminded_of_the_opening_on_their_own_day_and_only_once(app, site, mail):
    assert _run(app, date(2024, 2, 20)) == 1          # 5 days before: the manager who asked for 5
    assert _recipients(mail.wait_for(1)) == ["manager@n.example"]
    message = mail.messages[0]
    assert message["Subject"] == "Показания за Февраль 2024: приём с 25.02.2024"
    body = message.get_content()
    assert "Показания за Февраль 2024 принимаются с 25.02.2024 по 05.03.2024." in body
    assert f"Договор 77000000000101: http://127.0.0.1:5000/portal/contracts/{site.contract_n}/readings" in body

    assert _run(app, date(2024, 2, 20)) == 0          # the hourly rerun: nothing twice
    assert _run(app, date(2024, 2, 21)) == 0
    assert _run(app, date(2024, 2, 22)) == 1          # 3 days before: the engineer (default setting)
    assert _recipients(mail.wait_for(2)) == ["engineer@n.example", "manager@n.example"]
    assert _run(app, date(2024, 2, 22)) == 0
    with app.app_context():
        assert db.session.query(ReadingsReminder).filter_by(kind="opens").count() == 2


def test_accountant_and_users_with_the_switches_off_get_no_reminder(app, site, mail):
    for day in range(19, 30):
        _run(app, date(2024, 2, day))
    for day in range(1, 6):
        _run(app, date(2024, 3, day))
    addresses = set(_recipients(mail.wait_for(5)))
    assert "accountant@n.example" not in addresses and "silent@n.example" not in addresses
    with app.app_context():
        reminders = {(row.kind, row.window_id) for row in db.session.query(ReadingsReminder)}
    opened = [m["To"] for m in mail.messages if "приём с" in m["Subject"]]
    assert sorted(opened) == ["engineer@n.example", "engineer@s.example", "manager@n.example"]
    closing = [m["To"] for m in mail.messages if "приём до" in m["Subject"]]
    assert sorted(closing) == ["engineer@n.example", "manager@n.example", "noopen@n.example"]
    assert ("opens", site.own) in reminders and ("opens", site.general) in reminders


def test_the_branch_window_overrides_the_general_one_for_its_contracts(app, site, mail):
    # The general window opens in 3 days: N's engineer and manager (a missed day is caught up), not S's.
    assert _run(app, date(2024, 2, 22)) == 2
    assert _recipients(mail.wait_for(2)) == ["engineer@n.example", "manager@n.example"]
    assert _run(app, date(2024, 2, 27)) == 1          # S1's own window opens 01.03: 3 days before
    assert _recipients(mail.wait_for(3)) == ["engineer@n.example", "engineer@s.example", "manager@n.example"]
    assert "приём с 01.03.2024" in mail.messages[2]["Subject"]


def test_closing_reminder_comes_the_chosen_number_of_days_before_the_window_closes(app, site, mail):
    with data(app):
        from crm.models import CrmUser

        user = db.session.query(CrmUser).filter_by(email="engineer@n.example").one()
        user.notification_settings = settings(remind_open=False, remind_close_days=4)
    _run(app, date(2024, 2, 29))                      # 5 days before 05.03: nobody yet for closing
    assert not [m for m in mail.messages if "приём до" in m["Subject"]]
    assert _run(app, date(2024, 3, 1)) == 1           # 4 days before: the engineer who asked for 4
    closing = [m for m in mail.wait_for(1) if "приём до" in m["Subject"]]
    assert [m["To"] for m in closing] == ["engineer@n.example"]
    assert closing[0]["Subject"] == "Показания за Февраль 2024: приём до 05.03.2024"
    assert "принимаются до 05.03.2024 включительно" in closing[0].get_content()


def test_finding_due_reminders_takes_the_same_statements_for_more_users(app, site, query_counter):
    at(date(2024, 2, 22))

    def count():
        with app.app_context():
            with query_counter() as counter:
                readings_reminders.due_reminders()
            db.session.rollback()
        return counter.count

    few = count()
    with data(app):
        from crm.models import Contract

        contract = db.session.get(Contract, site.contract_n)
        for number in range(12):
            f.grant(f.user(f"extra{number}@n.example", notification_settings=settings()), contract, "manager")
    assert count() == few == 4


def test_the_job_is_registered_hourly(app):
    from workflows.schedule import PERIODIC_JOBS

    assert (jobs.readings_reminders_job, 3600) in PERIODIC_JOBS
