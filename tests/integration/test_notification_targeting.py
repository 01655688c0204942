"""Who a notification reaches (issue 7 acceptance 1, SPEC B6, W4, C4): each audience kind reaches exactly
its customers and never another counterparty's; pending bindings, blocked and deleted accounts and staff
are left out; the fan-out is set-based and idempotent; e-mail copies honour the preferences except for
mandatory categories; scheduled sending follows the clock."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from crm import clock
from crm.models import CrmUser, EmailOutbox, Notification, NotificationDelivery
from tests import factories as f
from workflows import notifications
from workflows.jobs import send_scheduled_notifications_job

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture()
def world(db):
    """Two branches; counterparty A (legal, branch north) with two contracts, B (legal, branch south),
    a household H (south); users with every role, plus accounts that must never be reached."""
    clock.set_now(NOW)
    north, south = f.branch(name="Северный"), f.branch(name="Южный")
    cp_a, cp_b = f.counterparty(), f.counterparty()
    cp_h = f.counterparty(person_type="individual", full_name="Иванов Иван", short_name="Иванов И.")
    a1, a2 = f.contract(cp_a, north), f.contract(cp_a, north)
    b1 = f.contract(cp_b, south)
    h1 = f.contract(cp_h, south)
    u = {name: f.user(f"{name}@client.example") for name in
         ("a_admin", "a_manager", "a2_accountant", "b_admin", "b_engineer", "household", "pending", "blocked",
          "deleted", "no_contract")}
    f.grant(u["a_admin"], a1, "administrator")
    f.grant(u["a_admin"], a2, "administrator")
    f.grant(u["a_manager"], a1, "manager")
    f.grant(u["a2_accountant"], a2, "accountant")
    f.grant(u["b_admin"], b1, "administrator")
    f.grant(u["b_engineer"], b1, "power_engineer")
    f.grant(u["household"], h1, "manager")
    pending = f.grant(u["pending"], a1, "manager")
    pending.confirmed_at = None
    f.grant(u["blocked"], a1, "accountant")
    u["blocked"].active = False
    f.grant(u["deleted"], b1, "manager")
    u["deleted"].deleted_at = NOW
    staff = f.user("curator@energo.example", roles=("Curator",))
    f.grant(staff, a1, "power_engineer")  # even a stray role row must not make staff a recipient
    db.session.commit()
    return {"users": u, "branches": (north, south), "contracts": {"a1": a1, "a2": a2, "b1": b1, "h1": h1},
            "staff": staff}


def fields(audience_, **kw):
    values = {"kind": "bell", "category": "general", "subject": "Плановое отключение",
              "body_markdown": "Отключение **10 марта** с 10:00 до 14:00.", "audience": audience_}
    values.update(kw)
    return values


def reached(db, notification) -> set[str]:
    emails = db.session.scalars(select(CrmUser.email)
                                .join(NotificationDelivery, NotificationDelivery.user_id == CrmUser.id)
                                .where(NotificationDelivery.notification_id == notification.id)).all()
    return {email.split("@")[0] for email in emails}


def send(db, audience, **kw):
    notification = notifications.create_notification(None, **fields(audience, **kw))
    count = notifications.send_now(notification)
    db.session.expire_all()
    return notification, count


def test_everyone_reaches_every_active_customer_when_broadcast(db, world):
    notification, count = send(db, {"type": "everyone"})
    assert reached(db, notification) == {"a_admin", "a_manager", "a2_accountant", "b_admin", "b_engineer",
                                         "household", "pending", "no_contract"}
    assert count == 8 and notification.recipients_count == 8 and notification.sent_at == NOW


def test_branch_reaches_only_confirmed_users_of_its_contracts_when_targeted(db, world):
    north, south = world["branches"]
    notification, _ = send(db, {"type": "branch", "ids": [north.id]})
    assert reached(db, notification) == {"a_admin", "a_manager", "a2_accountant"}
    notification, _ = send(db, {"type": "branch", "ids": [south.id]})
    assert reached(db, notification) == {"b_admin", "b_engineer", "household"}


def test_contracts_reach_their_users_and_no_other_counterparty_when_listed(db, world):
    contracts = world["contracts"]
    notification, _ = send(db, {"type": "contracts", "ids": [contracts["a2"].id]})
    assert reached(db, notification) == {"a_admin", "a2_accountant"}
    notification, _ = send(db, {"type": "contracts", "ids": [contracts["a1"].id, contracts["b1"].id]})
    assert reached(db, notification) == {"a_admin", "a_manager", "b_admin", "b_engineer"}


def test_contract_role_reaches_holders_of_that_role_when_targeted(db, world):
    notification, _ = send(db, {"type": "contract_role", "role": "administrator"})
    assert reached(db, notification) == {"a_admin", "b_admin"}
    notification, _ = send(db, {"type": "contract_role", "role": "manager", "ids": [world["contracts"]["a1"].id]})
    assert reached(db, notification) == {"a_manager"}


def test_one_user_is_reached_alone_when_targeted(db, world):
    notification, _ = send(db, {"type": "user", "ids": [world["users"]["b_engineer"].id]})
    assert reached(db, notification) == {"b_engineer"}


def test_person_type_splits_households_from_legal_entities_when_targeted(db, world):
    notification, _ = send(db, {"type": "person_type", "value": "individual"})
    assert reached(db, notification) == {"household"}
    notification, _ = send(db, {"type": "person_type", "value": "legal"})
    assert reached(db, notification) == {"a_admin", "a_manager", "a2_accountant", "b_admin", "b_engineer"}


def test_staff_blocked_and_deleted_accounts_are_refused_when_named_as_the_user(db, world):
    for name in ("blocked", "deleted"):
        with pytest.raises(notifications.NotificationError) as error:
            notifications.create_notification(None, **fields({"type": "user", "ids": [world["users"][name].id]}))
        assert "user_emails" in error.value.problems
    with pytest.raises(notifications.NotificationError):
        notifications.create_notification(None, **fields({"type": "user", "ids": [world["staff"].id]}))
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0


def test_fan_out_is_set_based_when_the_audience_is_large(db, world, query_counter, monkeypatch):
    notification = notifications.create_notification(None, **fields({"type": "everyone"}, send_email=True))
    for n in range(40):
        f.user(f"bulk{n}@client.example")
    db.session.commit()
    kicked = []
    monkeypatch.setattr(notifications, "_kick_outbox", kicked.extend)  # the delivery jobs are the outbox's
    with query_counter() as counted:
        assert notifications.fan_out(notification.id) == 48
    # claim, notification row, insert…select, count, mark e-mails, insert outbox…select, update
    assert counted.count <= 10, counted.statements
    inserts = [s.split("(")[0].strip() for s in counted.statements if s.lstrip().upper().startswith("INSERT")]
    assert len(inserts) == 2 and "notification_delivery" in inserts[0] and "email_outbox" in inserts[1]
    assert len(kicked) == 48


def test_fan_out_adds_and_sends_nothing_when_run_again(db, world):
    notification, count = send(db, {"type": "everyone"}, send_email=True)
    emails = db.session.scalar(select(func.count()).select_from(EmailOutbox))
    assert notifications.fan_out(notification.id) == 0
    with pytest.raises(notifications.NotificationError):
        notifications.send_now(db.session.get(Notification, notification.id))
    assert db.session.scalar(select(func.count()).select_from(NotificationDelivery)) == count
    assert db.session.scalar(select(func.count()).select_from(EmailOutbox)) == emails > 0


def outbox_recipients(db) -> set[str]:
    return {email.split("@")[0] for email in db.session.scalars(select(EmailOutbox.to_address))}


def set_settings(user, **values):
    user.notification_settings = {"email": True, "marketing": False, "contracts": {}, **values}


def test_email_copies_follow_the_master_switch_and_marketing_consent_when_sent(db, world):
    u = world["users"]
    set_settings(u["a_admin"], email=False)
    set_settings(u["a_manager"], marketing=True)
    set_settings(u["b_admin"], email=False, marketing=True)
    db.session.commit()
    send(db, {"type": "contracts", "ids": [world["contracts"]["a1"].id, world["contracts"]["b1"].id]},
         category="general", send_email=True)
    assert outbox_recipients(db) == {"a_manager", "b_engineer"}
    db.session.execute(EmailOutbox.__table__.delete())
    db.session.commit()
    notification, _ = send(db, {"type": "everyone"}, category="marketing", kind="email")
    assert outbox_recipients(db) == {"a_manager"}
    stats = notifications.delivery_stats(notification)
    assert stats["emailed"] == 1 and stats["delivered"] == 8


def test_invoice_emails_need_the_switch_of_that_contract_when_category_is_invoices(db, world):
    u, contracts = world["users"], world["contracts"]
    set_settings(u["a_admin"], contracts={str(contracts["a2"].id): {"invoices": True, "payments": False}})
    set_settings(u["a_manager"], contracts={str(contracts["a1"].id): {"invoices": False, "payments": True}})
    set_settings(u["a2_accountant"], contracts={str(contracts["a2"].id): {"invoices": True}})
    db.session.commit()
    send(db, {"type": "contracts", "ids": [contracts["a1"].id]}, category="invoices", send_email=True)
    assert outbox_recipients(db) == set(), "a_admin opted in for a2 only, the notification is about a1"
    send(db, {"type": "branch", "ids": [world["branches"][0].id]}, category="invoices", send_email=True)
    assert outbox_recipients(db) == {"a_admin", "a2_accountant"}


def test_mandatory_categories_ignore_the_switches_when_emailed(db, world):
    for user in world["users"].values():
        set_settings(user, email=False)
    db.session.commit()
    notification, _ = send(db, {"type": "branch", "ids": [world["branches"][1].id]}, category="outage",
                           send_email=True)
    assert outbox_recipients(db) == {"b_admin", "b_engineer", "household"}
    row = db.session.scalars(select(EmailOutbox)).first()
    assert row.subject == "Плановое отключение" and "<strong>10 марта</strong>" in row.body_html
    assert "10 марта" in row.body_text and "**" not in row.body_text
    assert row.status in ("pending", "held")


def test_scheduled_notification_is_sent_when_its_time_comes(db, world):
    notification = notifications.create_notification(None, **fields({"type": "contract_role", "role": "manager"}))
    notifications.schedule(notification, NOW + timedelta(hours=2))
    notification_id = notification.id
    assert send_scheduled_notifications_job() == 0
    assert db.session.scalar(select(func.count()).select_from(NotificationDelivery)) == 0
    clock.set_now(NOW + timedelta(hours=2, seconds=30))
    assert send_scheduled_notifications_job() == 1
    notification = db.session.get(Notification, notification_id)
    assert reached(db, notification) == {"a_manager", "household"}
    assert notification.sent_at == NOW + timedelta(hours=2, seconds=30) and notification.scheduled_at is None
    assert send_scheduled_notifications_job() == 0


def test_scheduling_is_refused_when_the_time_is_past_or_after_the_display_window(db, world):
    notification = notifications.create_notification(None, **fields(
        {"type": "everyone"}, display_until=NOW + timedelta(hours=1)))
    with pytest.raises(notifications.NotificationError) as error:
        notifications.schedule(notification, NOW - timedelta(minutes=1))
    assert "scheduled_at" in error.value.problems
    with pytest.raises(notifications.NotificationError) as error:
        notifications.schedule(notification, NOW + timedelta(hours=3))
    assert "display_until" in error.value.problems
    assert db.session.get(Notification, notification.id).scheduled_at is None


@pytest.mark.parametrize("bad, field", [
    ({"subject": ""}, "subject"), ({"body_markdown": "  "}, "body_markdown"), ({"kind": "sms"}, "kind"),
    ({"category": "spam"}, "category"), ({"goto_url": "javascript:alert(1)"}, "goto_url"),
    ({"goto_url": "//evil.example/x"}, "goto_url"), ({"audience": {"type": "planet"}}, "audience"),
    ({"audience": {"type": "branch", "ids": []}}, "branch_ids"),
    ({"audience": {"type": "contract_role", "role": "owner"}}, "role"),
    ({"audience": {"type": "contracts", "ids": [999999]}}, "contract_numbers"),
    ({"display_from": "2026-03-05T10:00", "display_until": "2026-03-04T10:00"}, "display_until"),
])
def test_notification_is_refused_with_the_field_named_when_input_is_bad(db, world, bad, field):
    with pytest.raises(notifications.NotificationError) as error:
        notifications.create_notification(None, **fields({"type": "everyone"}, **bad))
    assert field in error.value.problems
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0


def test_role_granted_and_removed_appear_in_the_users_notifications_when_staff_change_roles(db, world):
    from crm.services import contract_access

    contract = world["contracts"]["b1"]
    user = world["users"]["no_contract"]
    contract_access.grant_role(contract, user.email, "accountant", actor=None, by_staff=True)
    rows = db.session.scalars(select(Notification).join(NotificationDelivery)
                              .where(NotificationDelivery.user_id == user.id)).all()
    assert [n.event for n in rows] == ["contract.role_granted"]
    assert rows[0].subject == f"Договор {contract.number} добавлен с ролью Бухгалтер"
    assert rows[0].goto_url.endswith(f"/contracts/{contract.id}/")
    row = next(r for r in contract_access.contract_users(contract.id) if r.user.id == user.id)
    contract_access.revoke_role(contract, row.access.id, actor=None, by_staff=True)
    events = db.session.scalars(select(Notification.event).join(NotificationDelivery)
                                .where(NotificationDelivery.user_id == user.id).order_by(Notification.id)).all()
    assert events == ["contract.role_granted", "contract.role_revoked"]


def test_contracts_bound_by_inn_appear_in_the_users_notifications_when_bound(db, world):
    from crm.services import signup

    contract = world["contracts"]["b1"]
    user = world["users"]["no_contract"]
    user.inn = contract.counterparty.inn
    db.session.commit()
    signup.bind_contracts_by_inn(user)
    subjects = db.session.scalars(select(Notification.subject).join(NotificationDelivery)
                                  .where(NotificationDelivery.user_id == user.id)).all()
    assert subjects == [f"Договор {contract.number} добавлен с ролью Руководитель"]
