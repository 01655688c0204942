"""Profile (C4): e-mail confirmation banner, e-mail change by code, personal data, phone, password,
notification settings and deletion; bad input changes nothing."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from crm import clock
from crm.extensions import db
from crm.models import CrmUser, OneTimeCode
from crm.models.audit import AuditLog
from tests import factories as f
from tests.integration.test_signin import _body, _text, data, smtp  # noqa: F401  (fixture)

BANNER = 'id="confirm-email-banner"'


def _make(app, email="me@test.example", **kw) -> int:
    with data(app):
        return f.user(email, **kw).id


def _client(app, login="me@test.example", password=f.PASSWORD):
    client = app.test_client()
    assert f.login(client, login, password).status_code == 302
    return client


def _row(app, user_id) -> dict:
    with app.app_context():
        user = db.session.get(CrmUser, user_id)
        return {c: getattr(user, c) for c in ("email", "username", "email_confirmed_at", "password", "phone",
                                              "last_name", "first_name", "notification_settings", "deleted_at",
                                              "active")}


def _code(message) -> str:
    return re.search(r"\b(\d{6})\b", _body(message)).group(1)


def test_banner_shows_until_the_email_is_confirmed_by_code(app, smtp):  # noqa: F811
    user_id = _make(app, email_confirmed_at=None)
    with data(app):
        db.session.get(CrmUser, user_id).email_confirmed_at = None
    client = _client(app)
    for path in ("/portal/contracts/", "/portal/profile/", "/portal/profile/sessions"):
        assert BANNER in _text(client.get(path)), path
    assert "Подтвердите адрес электронной почты" in _text(client.get("/portal/contracts/"))
    client.post("/portal/profile/email/confirm/send")
    code = _code(smtp.wait_for(1)[0])
    assert smtp.messages[0]["To"] == "me@test.example"
    # A second code within a minute is refused.
    response = client.post("/portal/profile/email/confirm/send", follow_redirects=True)
    assert "Новый код можно отправить через" in _text(response)
    assert len(smtp.messages) == 1
    bad = client.post("/portal/profile/email/confirm", data={"confirm-code": "12345x"})
    assert bad.status_code == 400 and _row(app, user_id)["email_confirmed_at"] is None
    assert client.post("/portal/profile/email/confirm", data={"confirm-code": code}).status_code == 302
    assert _row(app, user_id)["email_confirmed_at"] is not None
    assert BANNER not in _text(client.get("/portal/contracts/"))


def test_email_changes_only_after_the_code_sent_to_the_new_address(app, smtp):  # noqa: F811
    user_id = _make(app)
    client = _client(app)
    response = client.post("/portal/profile/email", data={"email": "New@Test.example"})
    assert response.status_code == 302
    message = smtp.wait_for(1)[0]
    assert message["To"] == "new@test.example"
    assert _row(app, user_id)["email"] == "me@test.example"  # not yet
    assert "new@test.example" in _text(client.get("/portal/profile/"))
    wrong = "000000" if _code(message) != "000000" else "111111"
    assert client.post("/portal/profile/email/code", data={"change-code": wrong}).status_code == 400
    assert _row(app, user_id)["email"] == "me@test.example"
    assert client.post("/portal/profile/email/code", data={"change-code": _code(message)}).status_code == 302
    row = _row(app, user_id)
    assert row["email"] == row["username"] == "new@test.example"
    # The code cannot be used twice.
    response = client.post("/portal/profile/email/code", data={"change-code": _code(message)})
    assert response.status_code == 400
    client.post("/portal/logout")
    assert f.login(app.test_client(), "new@test.example").status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditLog)
                                 .where(AuditLog.action == "profile.email_change")) == 1


def test_email_change_code_expires(app, smtp):  # noqa: F811
    user_id = _make(app)
    client = _client(app)
    clock.set_now(clock.now())
    client.post("/portal/profile/email", data={"email": "later@test.example"})
    code = _code(smtp.wait_for(1)[0])
    clock.advance(timedelta(minutes=16))
    client = _client(app)  # the first session went idle
    response = client.post("/portal/profile/email/code", data={"change-code": code})
    assert response.status_code == 400
    assert _row(app, user_id)["email"] == "me@test.example"


def test_malformed_or_taken_email_is_refused_and_nothing_is_sent(app, smtp):  # noqa: F811
    user_id = _make(app)
    _make(app, "taken@test.example")
    client = _client(app)
    for value, message in (("not-an-email", "корректный адрес"), ("a@b", "корректный адрес"),
                           ("taken@test.example", "используется другой учётной записью")):
        response = client.post("/portal/profile/email", data={"email": value})
        assert response.status_code == 400 and message in _text(response), value
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OneTimeCode)) == 0
    assert smtp.messages == []
    assert _row(app, user_id)["email"] == "me@test.example"


def test_personal_data_and_phone_are_saved_and_phone_is_normalised(app):
    user_id = _make(app)
    client = _client(app)
    response = client.post("/portal/profile/personal", data={
        "last_name": "Сидорова", "first_name": "Анна", "patronymic": "Павловна", "position": "Главный энергетик",
        "organisation": "ООО «Ромашка»"})
    assert response.status_code == 302
    assert client.post("/portal/profile/phone", data={"phone": "8 912 345 67 89"}).status_code == 302
    row = _row(app, user_id)
    assert (row["last_name"], row["first_name"], row["phone"]) == ("Сидорова", "Анна", "+7 (912) 345-67-89")
    for bad in ("12345", "+1 202 555 0100", "+7 912 abc 67 89"):
        response = client.post("/portal/profile/phone", data={"phone": bad})
        assert response.status_code == 400 and "российский номер" in _text(response), bad
    assert client.post("/portal/profile/personal", data={"last_name": "", "first_name": "X"}).status_code == 400
    assert _row(app, user_id)["phone"] == "+7 (912) 345-67-89" and _row(app, user_id)["last_name"] == "Сидорова"


def test_wrong_old_password_or_weak_new_one_changes_nothing(app):
    user_id = _make(app)
    before = _row(app, user_id)["password"]
    client = _client(app)
    response = client.post("/portal/profile/password", data={
        "old_password": "Wrong1pass", "new_password": "Brand5NewPass", "confirm": "Brand5NewPass"})
    assert response.status_code == 400 and "Старый пароль указан неверно" in _text(response)
    response = client.post("/portal/profile/password", data={
        "old_password": f.PASSWORD, "new_password": "Password123", "confirm": "Password123"})
    assert response.status_code == 400 and "слишком распространён" in _text(response)
    assert _row(app, user_id)["password"] == before


def test_notification_settings_are_stored_and_out_of_range_days_refused(app):
    with data(app):
        user = f.user("me@test.example")
        contract = f.contract()
        f.grant(user, contract, "manager")
        user_id, contract_id = user.id, contract.id
    client = _client(app)
    response = client.post("/portal/profile/notifications", data={
        "email": "y", "remind_open": "y", "remind_open_days": "4", "remind_close_days": "2",
        f"payments_{contract_id}": "y", "invoices_999999": "y"})
    assert response.status_code == 302
    settings = _row(app, user_id)["notification_settings"]
    assert settings["email"] and not settings["marketing"] and settings["remind_open_days"] == 4
    assert settings["contracts"] == {str(contract_id): {"invoices": False, "payments": True}}
    for days in ("0", "16", "x"):
        response = client.post("/portal/profile/notifications", data={"remind_open_days": days,
                                                                      "remind_close_days": "2"})
        assert response.status_code == 400 and "от 1 до 15" in _text(response)
    assert _row(app, user_id)["notification_settings"] == settings


def test_account_deletion_needs_the_password_and_frees_the_email(app):
    user_id = _make(app)
    client = _client(app)
    response = client.post("/portal/profile/delete", data={"password": "Wrong1pass", "confirm": "y"})
    assert response.status_code == 400 and _row(app, user_id)["deleted_at"] is None
    assert client.post("/portal/profile/delete", data={"password": f.PASSWORD}).status_code == 400
    assert client.post("/portal/profile/delete", data={"password": f.PASSWORD, "confirm": "y"}).status_code == 302
    row = _row(app, user_id)
    assert row["deleted_at"] is not None and not row["active"]
    assert row["email"].endswith("@deleted.invalid") and row["username"] == row["email"]
    assert f.login(app.test_client(), "me@test.example").status_code == 400
    with data(app):
        f.user("me@test.example")  # the address may register again
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditLog)
                                 .where(AuditLog.action == "account.delete")) == 1


def test_second_factor_switch_is_saved(app):
    user_id = _make(app)
    client = _client(app)
    client.post("/portal/profile/second-factor", data={"enabled": "y"})
    with app.app_context():
        assert db.session.get(CrmUser, user_id).second_factor_enabled
    client.post("/portal/profile/second-factor", data={})
    with app.app_context():
        assert not db.session.get(CrmUser, user_id).second_factor_enabled


def test_settings_say_which_notices_are_mandatory_and_offer_no_switch_for_them(app):
    with data(app):
        f.user("me@test.example")
    page = _client(app).get("/portal/profile/").get_data(as_text=True)
    assert "отправляются всегда: они обязательны" in page
    assert 'name="debt_emails"' not in page          # debt notices cannot be switched off (issue 7 item 4)
    assert 'name="marketing"' in page and 'name="email"' in page
