"""Sign-up and binding, the four methods of SPEC C1, end to end over HTTP with the real SMTP sink
on loopback: codes and links are read from the delivered mail; expiries are proven with the
controllable clock and the scheduled job functions (issue 3, acceptance 1 and 4)."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from crm import clock
from crm.models import AuditLog, ContractAccess, ContractEmail, CrmUser
from crm.models.user import OneTimeCode
from tests import factories as f

PASSWORD = "Signup2026ok"
MOSCOW_NOON = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)  # 12:00 in Moscow


@pytest.fixture()
def mail(app, mailbox):
    """The session app delivering its outbox (in-process) to the SMTP sink for this test."""
    previous = app.config.get("SMTP_URL")
    app.config["SMTP_URL"] = mailbox.url
    yield mailbox
    app.config["SMTP_URL"] = previous


def last_mail_to(sink, address: str, count: int = 1):
    messages = [m for m in sink.wait_for(count) if address.lower() in m["To"].lower()]
    assert messages, f"no mail to {address}"
    return messages[-1]


def mail_to(sink, address: str, timeout: float = 10.0):
    """Wait for (at least) one more message to `address` and return the newest one."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [m for m in list(sink.messages) if address.lower() in m["To"].lower()]
        if found:
            return found[-1]
        time.sleep(0.05)
    pytest.fail(f"no mail to {address}")


def code_from(message) -> str:
    return re.search(r"\b(\d{6})\b", message.get_content()).group(1)


def link_path_from(message) -> str:
    url = re.search(r"https?://\S+", message.get_content()).group(0)
    return urlsplit(url).path


def counts(db) -> dict[str, int]:
    db.session.expire_all()
    return {name: db.session.scalar(select(func.count()).select_from(model))
            for name, model in (("users", CrmUser), ("access", ContractAccess), ("codes", OneTimeCode))}


def sign_up(client, email="new.user@customer.example", password=PASSWORD, **extra):
    data = {"email": email, "password": password, "password_repeat": password, "agreement": "y", **extra}
    return client.post("/portal/signup", data=data)


def contract_with_email(db, email="office@customer.example", **kw):
    contract = f.contract(**kw)
    db.session.add(ContractEmail(contract_id=contract.id, email=email))
    db.session.commit()
    return contract


# --- (a) e-mail + password ------------------------------------------------------------------------

def test_self_signup_binds_contract_when_code_and_contract_link_are_confirmed(app, db, mail):
    contract = contract_with_email(db)
    client = app.test_client()

    response = sign_up(client, marketing="y")
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/signup/confirm")
    user = db.session.scalar(select(CrmUser).where(CrmUser.email == "new.user@customer.example"))
    assert user.agreement_accepted_at is not None and user.marketing_consent is True
    assert user.email_confirmed_at is None

    code = code_from(mail_to(mail, "new.user@customer.example"))
    response = client.post("/portal/signup/confirm", data={"code": code})
    assert response.headers["Location"].endswith("/portal/signup/about")
    # "Without these fields you cannot continue": every other page leads back to the form.
    assert client.get("/portal/").headers["Location"].endswith("/portal/signup/about")
    response = client.post("/portal/signup/about", data={"last_name": "Иванов", "first_name": "Иван",
                                                         "patronymic": "Иванович", "organisation": "ООО «Рога»",
                                                         "position": "Инженер", "address": "ул. Пушкина, д. 3"})
    assert response.headers["Location"].endswith("/portal/signup/phone")
    assert client.get("/portal/").headers["Location"].endswith("/portal/signup/phone")
    response = client.post("/portal/signup/phone", data={"phone": "+7 912 345-67-89"})
    assert response.headers["Location"].endswith("/portal/contracts/bind")

    mail.clear()
    response = client.post("/portal/contracts/bind", data={"contract_number": contract.number,
                                                           "contract_email": "Office@Customer.example"})
    assert response.status_code == 200
    access = db.session.scalar(select(ContractAccess).where(ContractAccess.user_id == user.id))
    assert access.role == "manager" and access.confirmed_at is None
    assert client.get(f"/portal/contracts/{contract.id}/").status_code == 404  # not before the link

    link = link_path_from(mail_to(mail, "office@customer.example"))
    anonymous = app.test_client()
    assert anonymous.get(link).status_code == 200
    db.session.expire_all()
    assert db.session.get(ContractAccess, access.id).confirmed_at is not None
    assert client.get(f"/portal/contracts/{contract.id}/").status_code == 200
    actions = set(db.session.scalars(select(AuditLog.action)))
    assert {"signup.create", "signup.email_confirmed", "binding.requested", "binding.confirmed"} <= actions
    # The link is single-use.
    assert anonymous.get(link).status_code == 400


def test_contract_binding_disappears_when_link_not_followed_within_24_hours(app, db, mail):
    from workflows.jobs import remove_expired_bindings_job

    contract = contract_with_email(db)
    person_id = f.user("binder@test.example", phone="+7 900 000-00-00").id
    db.session.commit()
    client = app.test_client()
    f.login(client, "binder@test.example")
    clock.set_now(MOSCOW_NOON)
    client.post("/portal/contracts/bind", data={"contract_number": contract.number,
                                                "contract_email": "office@customer.example"})
    link = link_path_from(mail_to(mail, "office@customer.example"))
    assert db.session.scalar(select(func.count()).select_from(ContractAccess)) == 1

    clock.advance(timedelta(hours=23, minutes=59))
    assert remove_expired_bindings_job() == 0
    clock.advance(timedelta(minutes=2))
    assert remove_expired_bindings_job() == 1
    assert db.session.scalar(select(func.count()).select_from(ContractAccess)
                             .where(ContractAccess.user_id == person_id)) == 0
    response = app.test_client().get(link)
    assert response.status_code == 400


def test_resend_is_refused_with_seconds_to_wait_when_asked_within_a_minute(app, db, mail):
    clock.set_now(MOSCOW_NOON)
    client = app.test_client()
    sign_up(client)
    first = code_from(mail_to(mail, "new.user@customer.example"))
    clock.advance(timedelta(seconds=20))
    response = client.post("/portal/signup/confirm/resend", follow_redirects=True)
    assert "40" in response.get_data(as_text=True)
    assert len(mail.messages) == 1
    clock.advance(timedelta(seconds=41))
    mail.clear()
    client.post("/portal/signup/confirm/resend")
    second = code_from(mail_to(mail, "new.user@customer.example"))
    # The first code stopped working when the second was sent.
    if first != second:
        response = client.post("/portal/signup/confirm", data={"code": first})
        assert response.status_code == 400
    assert client.post("/portal/signup/confirm", data={"code": second}).status_code == 302


def test_code_is_refused_and_nothing_changes_when_code_expired(app, db, mail):
    clock.set_now(MOSCOW_NOON)
    client = app.test_client()
    sign_up(client)
    code = code_from(mail_to(mail, "new.user@customer.example"))
    clock.advance(timedelta(minutes=16))
    before = counts(db)
    response = client.post("/portal/signup/confirm", data={"code": code})
    assert response.status_code == 400
    assert "Срок действия кода истёк" in response.get_data(as_text=True)
    assert counts(db) == before
    assert db.session.scalar(select(CrmUser.email_confirmed_at).where(CrmUser.email == "new.user@customer.example")) \
        is None


def test_code_is_refused_when_reused(app, db, mail):
    client = app.test_client()
    sign_up(client)
    code = code_from(mail_to(mail, "new.user@customer.example"))
    assert client.post("/portal/signup/confirm", data={"code": code}).status_code == 302
    user = db.session.scalar(select(CrmUser).where(CrmUser.email == "new.user@customer.example"))
    user.email_confirmed_at = None  # pretend the address must be confirmed again
    db.session.commit()
    before = counts(db)
    response = client.post("/portal/signup/confirm", data={"code": code})
    assert response.status_code == 400
    assert "уже использован" in response.get_data(as_text=True)
    assert counts(db) == before


@pytest.mark.parametrize(("email", "message"), [
    ("not-an-email", "не является правильным адресом"),
    ("user@@customer.example", "не является правильным адресом"),
    ("user@customer", "не является правильным адресом"),
])
def test_signup_is_refused_and_nothing_changes_when_email_malformed(app, db, mail, email, message):
    before = counts(db)
    response = sign_up(app.test_client(), email=email)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert counts(db) == before
    assert mail.messages == []


def test_signup_is_refused_when_agreement_not_accepted_or_password_weak(app, db, mail):
    client = app.test_client()
    before = counts(db)
    response = client.post("/portal/signup", data={"email": "a@customer.example", "password": PASSWORD,
                                                   "password_repeat": PASSWORD})
    assert "пользовательское соглашение" in response.get_data(as_text=True)
    response = sign_up(client, email="b@customer.example", password="Password123")
    assert response.status_code == 400
    response = client.post("/portal/signup", data={"email": "c@customer.example", "password": PASSWORD,
                                                   "password_repeat": PASSWORD + "x", "agreement": "y"})
    assert "Пароли не совпадают" in response.get_data(as_text=True)
    assert counts(db) == before


def test_binding_is_refused_and_nothing_changes_when_email_not_registered_on_contract(app, db, mail):
    contract = contract_with_email(db)
    f.user("binder@test.example", phone="+7 900 000-00-00")
    db.session.commit()
    client = app.test_client()
    f.login(client, "binder@test.example")
    before = counts(db)
    response = client.post("/portal/contracts/bind", data={"contract_number": contract.number,
                                                           "contract_email": "stranger@customer.example"})
    assert response.status_code == 400
    assert f"Договор {contract.number} с e-mail stranger@customer.example не найден" in response.get_data(as_text=True)
    response = client.post("/portal/contracts/bind", data={"contract_number": contract.number,
                                                           "contract_email": "office@@customer"})
    assert "не является правильным адресом" in response.get_data(as_text=True)
    assert counts(db) == before


# --- (b) account number + partner code -------------------------------------------------------------

def account_signup(client, account, code, email="acc.user@customer.example"):
    return client.post("/portal/signup/account", data={
        "account_number": account, "partner_code": code, "email": email, "password": PASSWORD,
        "password_repeat": PASSWORD, "agreement": "y"})


def test_account_signup_binds_contract_as_manager_when_code_confirmed(app, db, mail):
    contract = f.contract(account_number="1100220033", counterparty_=f.counterparty(partner_code="7700123"))
    db.session.commit()
    client = app.test_client()
    response = account_signup(client, "1100220033", "7700123")
    assert response.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(ContractAccess)) == 0
    code = code_from(mail_to(mail, "acc.user@customer.example"))
    client.post("/portal/signup/confirm", data={"code": code})
    db.session.expire_all()
    access = db.session.scalar(select(ContractAccess))
    assert access.contract_id == contract.id and access.role == "manager" and access.confirmed_at is not None


def test_account_number_is_the_login_when_signed_up_by_account(app, db, mail):
    f.contract(account_number="1100220034", counterparty_=f.counterparty(partner_code="7700124"))
    db.session.commit()
    client = app.test_client()
    account_signup(client, "1100220034", "7700124")
    code = code_from(mail_to(mail, "acc.user@customer.example"))
    client.post("/portal/signup/confirm", data={"code": code})
    client.post("/portal/logout")
    fresh = app.test_client()
    response = fresh.post("/portal/login", data={"login": "1100220034", "password": PASSWORD})
    assert response.status_code == 302 and "/portal/login" not in response.headers["Location"]


@pytest.mark.parametrize(("account", "code", "message"), [
    ("1100220033", "999", "Код ДП 999 не найден"),
    ("555", "7700123", "Лицевой счёт 555 не найден"),
    ("2200330044", "7700123", "Лицевой счёт 2200330044 не принадлежит коду ДП 7700123"),
])
def test_account_signup_shows_exact_message_and_changes_nothing_when_codes_do_not_match(
        app, db, mail, account, code, message):
    f.contract(account_number="1100220033", counterparty_=f.counterparty(partner_code="7700123"))
    f.contract(account_number="2200330044", counterparty_=f.counterparty(partner_code="7700456"))
    db.session.commit()
    before = counts(db)
    response = account_signup(app.test_client(), account, code)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert counts(db) == before
    assert mail.messages == []


# --- (c) paper application ----------------------------------------------------------------------

def test_paper_account_activates_from_next_day_and_binds_contracts_when_link_followed(app, db, mail):
    counterparty = f.counterparty(short_name="ООО «Бумага»")
    contract = f.contract(counterparty_=counterparty)
    f.user("curator7", roles=("Curator",))
    db.session.commit()
    staff = app.test_client()
    f.staff_login(staff, "curator7")
    clock.set_now(MOSCOW_NOON)
    response = staff.post("/admin/signup/application/", data={
        "inn": counterparty.inn, "organisation": counterparty.full_name, "email": "boss@paper.example",
        "last_name": "Петров", "first_name": "Пётр", "contracts": contract.number})
    assert response.status_code == 200, response.get_data(as_text=True)
    user = db.session.scalar(select(CrmUser).where(CrmUser.username == counterparty.inn))
    assert user is not None and user.email == "boss@paper.example"
    link = link_path_from(mail_to(mail, "boss@paper.example"))

    portal = app.test_client()
    page = portal.get(link).get_data(as_text=True)
    assert "Ссылка ещё не действует. Воспользуйтесь ею с 11.03.2026" in page
    assert portal.post(link, data={"password": PASSWORD, "password_repeat": PASSWORD}).status_code == 200
    assert f.login(portal, counterparty.inn, PASSWORD).status_code == 400

    clock.set_now(datetime(2026, 3, 10, 21, 0, 1, tzinfo=UTC))  # 00:00:01 on 11.03 in Moscow
    response = portal.post(link, data={"password": PASSWORD, "password_repeat": PASSWORD})
    assert response.status_code == 302
    db.session.expire_all()
    access = db.session.scalar(select(ContractAccess).where(ContractAccess.user_id == user.id))
    assert access.contract_id == contract.id and access.confirmed_at is not None
    assert f.login(portal, counterparty.inn, PASSWORD).status_code == 302
    assert portal.get(link).status_code == 400  # single use


def test_paper_account_is_blocked_when_not_activated_within_five_days(app, db, mail):
    from workflows.jobs import block_unactivated_accounts_job

    inn = f.counterparty().inn
    f.user("curator8", roles=("Curator",))
    db.session.commit()
    staff = app.test_client()
    f.staff_login(staff, "curator8")
    clock.set_now(MOSCOW_NOON)
    staff.post("/admin/signup/application/", data={"inn": inn, "organisation": "ООО «Поздно»",
                                                   "email": "late@paper.example"})
    link = link_path_from(mail_to(mail, "late@paper.example"))
    # The window is 11.03 00:00 – 16.03 00:00 Moscow time.
    clock.set_now(datetime(2026, 3, 15, 20, 59, tzinfo=UTC))
    assert block_unactivated_accounts_job() == 0
    clock.set_now(datetime(2026, 3, 15, 21, 0, 1, tzinfo=UTC))
    assert block_unactivated_accounts_job() == 1
    user = db.session.scalar(select(CrmUser).where(CrmUser.username == inn))
    assert user.active is False and user.blocked_reason == "not_activated"
    response = app.test_client().post(link, data={"password": PASSWORD, "password_repeat": PASSWORD})
    assert response.status_code == 400
    assert "заблокирована" in response.get_data(as_text=True)


def test_paper_application_is_refused_and_nothing_changes_when_inn_check_digit_wrong(app, db, mail):
    f.user("curator9", roles=("Curator",))
    db.session.commit()
    staff = app.test_client()
    f.staff_login(staff, "curator9")
    before = counts(db)
    response = staff.post("/admin/signup/application/", data={"inn": "7707083894", "organisation": "ООО «Ошибка»",
                                                              "email": "x@paper.example"})
    assert "неверное контрольное число" in response.get_data(as_text=True)
    response = staff.post("/admin/signup/application/", data={"inn": "7707083893", "organisation": "ООО «Ошибка»",
                                                              "email": "x@@paper"})
    assert "не является правильным адресом" in response.get_data(as_text=True)
    assert counts(db) == before
    assert mail.messages == []


# --- (d) temporary password -----------------------------------------------------------------------

def test_temporary_password_binds_every_inn_contract_when_first_signed_in(app, db, mail):
    from crm.services import signup

    counterparty = f.counterparty()
    first, second = f.contract(counterparty_=counterparty), f.contract(counterparty_=counterparty)
    f.contract()  # another counterparty's
    f.user("admin1", roles=("Admin",))
    db.session.commit()
    staff = app.test_client()
    f.staff_login(staff, "admin1")
    response = staff.post("/admin/signup/temporary-password/", data={
        "inn": counterparty.inn, "email": "temp@customer.example", "last_name": "Сидоров", "first_name": "Семён",
        "send_email": "y"})
    assert response.status_code == 200
    shown = re.search(r'id="temporary-password"[^>]*>([^<]+)<', response.get_data(as_text=True)).group(1)
    message = mail_to(mail, "temp@customer.example")
    assert shown in message.get_content()

    first_id, second_id = first.id, second.id
    portal = app.test_client()
    response = f.login(portal, "temp@customer.example", shown)
    assert response.status_code == 302 and "/portal/login" not in response.headers["Location"]
    # The sign-in calls signup.complete_first_sign_in(): every contract of the INN is bound.
    db.session.expire_all()
    user = db.session.scalar(select(CrmUser).where(CrmUser.email == "temp@customer.example"))
    assert user.must_change_password is True
    bound = db.session.scalars(select(ContractAccess).where(ContractAccess.user_id == user.id)).all()
    assert {a.contract_id for a in bound} == {first_id, second_id}
    assert all(a.role == "manager" and a.confirmed_at is not None for a in bound)
    assert signup.complete_first_sign_in(user) == []  # idempotent
    # The password must be changed before anything else.
    response = portal.get("/portal/contracts/")
    assert response.status_code == 302 and "password" in response.headers["Location"]


# --- switching methods off --------------------------------------------------------------------------

def test_disabled_method_answers_404_and_loses_its_link_when_switched_off(app, db):
    f.user("admin2", roles=("Admin",))
    db.session.commit()
    staff = app.test_client()
    f.staff_login(staff, "admin2")
    response = staff.post("/admin/signup/settings/", data={"method_email": "y", "method_paper": "y"})
    assert response.status_code == 302
    client = app.test_client()
    assert client.get("/portal/signup").status_code == 200
    assert client.get("/portal/signup/account").status_code == 404
    page = client.get("/portal/signup").get_data(as_text=True)
    assert "/portal/signup/account" not in page
    staff.post("/admin/signup/settings/", data={})
    assert client.get("/portal/signup").status_code == 404
    assert client.get("/portal/contracts/bind").status_code in {302, 404}


def test_curator_cannot_change_signup_settings_when_admin_only(app, db):
    f.user("curator10", roles=("Curator",))
    db.session.commit()
    staff = app.test_client()
    f.staff_login(staff, "curator10")
    response = staff.post("/admin/signup/settings/", data={})
    assert response.status_code in {302, 403}
    assert app.test_client().get("/portal/signup").status_code == 200


def test_signup_is_throttled_with_localised_429_when_repeated_too_often(app, db):
    app.config["RATELIMIT_ENABLED"] = True
    app.config["CRM_THROTTLE_LIMITS"] = {"signup": ("2 per hour", "100 per hour")}
    try:
        client = app.test_client()
        for _ in range(2):
            sign_up(client, email="spam@customer.example", password="short")
        response = sign_up(client, email="spam@customer.example", password="short")
        assert response.status_code == 429
        assert "Слишком много попыток" in response.get_data(as_text=True)
    finally:
        app.config["RATELIMIT_ENABLED"] = False
        app.config.pop("CRM_THROTTLE_LIMITS", None)
        app.extensions.pop("crm_throttle", None)
