"""Sign-in (C2), throttling, password recovery, the "must change password" gate, 2FA and CSRF."""
from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crm import clock
from crm.extensions import db
from crm.models import CrmUser, EmailOutbox
from crm.models.audit import AuditLog
from crm.services import codes
from tests import factories as f

WRONG_LOGIN_RU = "Неверный логин или пароль."
TOO_MANY_RU = "Слишком много попыток"
NEW_PASSWORD = "Brand5NewPass"


@contextmanager
def data(app):
    with app.app_context():
        yield
        db.session.commit()


def _text(response) -> str:
    return response.get_data(as_text=True)


def _count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _user(app, user_id: int) -> CrmUser:
    with app.app_context():
        user = db.session.get(CrmUser, user_id)
        db.session.expunge(user)
        return user


@pytest.fixture()
def throttled(app):
    """Throttling on, with fresh in-memory counters."""
    saved = app.config["RATELIMIT_ENABLED"], app.config.get("CRM_THROTTLE_LIMITS")
    app.config["RATELIMIT_ENABLED"] = True
    app.extensions.pop("crm_throttle", None)
    yield app
    app.config["RATELIMIT_ENABLED"] = saved[0]
    if saved[1] is None:
        app.config.pop("CRM_THROTTLE_LIMITS", None)
    else:
        app.config["CRM_THROTTLE_LIMITS"] = saved[1]
    app.extensions.pop("crm_throttle", None)


@pytest.fixture()
def smtp(app, mailbox):
    """Mail is delivered in-process to the real SMTP sink on loopback."""
    saved = app.config.get("SMTP_URL")
    app.config["SMTP_URL"] = mailbox.url
    yield mailbox
    app.config["SMTP_URL"] = saved


def _body(message) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content()


# --- sign-in ---------------------------------------------------------------------------------------

def test_sign_in_succeeds_when_login_is_username_email_or_inn(app):
    with data(app):
        f.user("inn@test.example", username="7700000001", inn="7707083893")
    for login in ("7700000001", "INN@test.example", "7707083893"):
        client = app.test_client()
        response = f.login(client, login)
        assert response.status_code == 302, login
        assert client.get("/portal/contracts/").status_code == 200


@pytest.mark.parametrize("state", ["inactive", "blocked", "deleted", "wrong_password", "unknown"])
def test_sign_in_is_refused_with_one_generic_message_when_account_may_not_sign_in(app, state):
    with data(app):
        user = f.user("who@test.example")
        if state == "inactive":
            user.active = False
        elif state == "blocked":
            user.blocked_reason = "not activated in time"
        elif state == "deleted":
            user.deleted_at = clock.now()
    client = app.test_client()
    login = "nobody@test.example" if state == "unknown" else "who@test.example"
    password = "Wrong1pass" if state == "wrong_password" else f.PASSWORD
    response = f.login(client, login, password)
    assert response.status_code == 400
    assert WRONG_LOGIN_RU in _text(response)
    assert client.get("/portal/contracts/").status_code == 302
    assert _count(app, AuditLog, AuditLog.action == "signin.failure") == 1


def test_sign_in_and_sign_out_are_audited_with_address(app):
    with data(app):
        f.user("audit@test.example")
    client = app.test_client()
    assert f.login(client, "audit@test.example").status_code == 302
    client.post("/portal/logout")
    with app.app_context():
        rows = db.session.scalars(select(AuditLog).order_by(AuditLog.id)).all()
        assert [row.action for row in rows] == ["signin.success", "signout"]
        assert all(row.ip_address == "127.0.0.1" and row.actor_label == "audit@test.example" for row in rows)


def test_sign_in_answers_429_in_russian_when_one_account_fails_too_often(throttled):
    app = throttled
    with data(app):
        f.user("target@test.example")
    for _attempt in range(5):
        assert f.login(app.test_client(), "target@test.example", "Wrong1pass").status_code == 400
    response = f.login(app.test_client(), "target@test.example")  # even the right password
    assert response.status_code == 429
    assert TOO_MANY_RU in _text(response)
    assert response.headers["Retry-After"]
    # Another account from the same address is not affected by this account's limit.
    with data(app):
        f.user("other@test.example")
    assert f.login(app.test_client(), "other@test.example").status_code == 302


def test_sign_in_answers_429_when_one_address_tries_many_accounts(throttled):
    app = throttled
    app.config["CRM_THROTTLE_LIMITS"] = {"signin": ("5 per 15 minutes", "4 per 15 minutes")}
    for n in range(4):
        assert f.login(app.test_client(), f"guess{n}@test.example", "Wrong1pass").status_code == 400
    response = f.login(app.test_client(), "guess9@test.example", "Wrong1pass")
    assert response.status_code == 429
    assert TOO_MANY_RU in _text(response)


def test_portal_post_without_csrf_token_is_refused_when_csrf_is_on(app):
    with data(app):
        f.user("csrf@test.example")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        client = app.test_client()
        assert f.login(client, "csrf@test.example").status_code == 400
        page = _text(client.get("/portal/login"))
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        response = client.post("/portal/login", data={"login": "csrf@test.example", "password": f.PASSWORD,
                                                      "csrf_token": token})
        assert response.status_code == 302
        assert client.post("/portal/logout").status_code == 400  # no token
        assert client.post("/portal/profile/sessions/end-others").status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


#: the only portal view without CSRF: the payment provider's server-to-server callback, which carries no
#: session or form at all and is authenticated by its HMAC signature (tests/integration/test_pay.py)
CSRF_EXEMPT_PORTAL_VIEWS = {"customer_portal.pay.payment_callback"}


def test_no_portal_view_is_exempt_from_csrf_but_the_signed_payment_callback(app):
    exempt = {name for name in getattr(app.extensions["csrf"], "_exempt_views", set())}
    assert {name for name in exempt if name.startswith("customer_portal.")} <= CSRF_EXEMPT_PORTAL_VIEWS


# --- must change password ------------------------------------------------------------------------------

def test_user_with_issued_password_can_only_change_it_until_it_is_changed(app):
    with data(app):
        user = f.user("temp@test.example", must_change_password=True)
        user_id = user.id
    client = app.test_client()
    response = f.login(client, "temp@test.example")
    assert response.headers["Location"] == "/portal/profile/password"
    for path in ("/portal/", "/portal/contracts/", "/portal/profile/"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"] == "/portal/profile/password", path
    response = client.post("/portal/profile/password", data={
        "old_password": f.PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    assert not _user(app, user_id).must_change_password
    assert client.get("/portal/contracts/").status_code == 200


# --- recovery -------------------------------------------------------------------------------------------

def test_recovery_answer_is_identical_and_no_mail_is_sent_when_address_is_unknown(app, smtp):
    with data(app):
        f.user("known@test.example")
    unknown = app.test_client().post("/portal/password/recover", data={"email": "unknown@test.example"})
    assert unknown.status_code == 200
    assert _count(app, EmailOutbox) == 0
    known = app.test_client().post("/portal/password/recover", data={"email": "known@test.example"})
    assert known.status_code == 200

    def main(response):
        return re.search(r"<main\b.*?</main>", _text(response), re.S).group(0)

    assert main(unknown) == main(known)
    assert "Если адрес зарегистрирован" in main(known)
    assert len(smtp.wait_for(1)) == 1 and smtp.messages[0]["To"] == "known@test.example"


def _recovery_link(app, smtp, email: str) -> str:
    app.test_client().post("/portal/password/recover", data={"email": email})
    message = smtp.wait_for(1)[-1]
    match = re.search(r"https?://[^/\s]+(/portal/password/reset/[\w-]+)", _body(message))
    assert match, _body(message)
    return match.group(1)


def test_recovery_link_sets_password_once_and_then_is_refused(app, smtp):
    with data(app):
        user = f.user("lost@test.example")
        user_id, old_hash = user.id, user.password
    path = _recovery_link(app, smtp, "lost@test.example")
    client = app.test_client()
    assert client.get(path).status_code == 200
    # Every broken rule is reported, and nothing changes.
    response = client.post(path, data={"new_password": "Password123", "confirm": "Password123"})
    assert response.status_code == 400
    assert "слишком распространён" in _text(response)
    assert _user(app, user_id).password == old_hash
    response = client.post(path, data={"new_password": "short", "confirm": "other"})
    page = _text(response)
    assert "не короче 8 символов" in page and "заглавную" in page and "не совпадают" in page
    response = client.post(path, data={"new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/portal/login"
    assert f.login(app.test_client(), "lost@test.example", NEW_PASSWORD).status_code == 302
    again = app.test_client().get(path)
    assert again.status_code == 410 and "уже использована" in _text(again)
    assert app.test_client().post(path, data={"new_password": "Other5Pass1", "confirm": "Other5Pass1"}
                                  ).status_code == 410


def test_recovery_link_is_refused_when_expired(app, smtp):
    with data(app):
        f.user("late@test.example")
    path = _recovery_link(app, smtp, "late@test.example")
    clock.advance(timedelta(hours=1, seconds=1))
    response = app.test_client().get(path)
    assert response.status_code == 410 and "истёк" in _text(response)


def test_invitation_link_with_seven_day_ttl_sets_password_and_confirms_email(app):
    with data(app):
        user = f.user("invited@test.example", must_change_password=True)
        user.email_confirmed_at = None
        user_id = user.id
        token = codes.issue("password_reset", user_id=user.id, ttl=timedelta(days=7), link=True)
    clock.advance(timedelta(days=6))
    client = app.test_client()
    response = client.post(f"/portal/password/reset/{token}", data={"new_password": NEW_PASSWORD,
                                                                    "confirm": NEW_PASSWORD})
    assert response.status_code == 302
    user = _user(app, user_id)
    assert user.email_confirmed_at is not None and not user.must_change_password


def test_recovery_is_throttled_per_address(throttled):
    app = throttled
    app.config["CRM_THROTTLE_LIMITS"] = {"recovery": ("3 per hour", "2 per hour")}
    client = app.test_client()
    for n in range(2):
        assert client.post("/portal/password/recover", data={"email": f"x{n}@test.example"}).status_code == 200
    response = client.post("/portal/password/recover", data={"email": "x9@test.example"})
    assert response.status_code == 429 and TOO_MANY_RU in _text(response)


# --- second factor -------------------------------------------------------------------------------------

def test_new_device_needs_the_mailed_code_and_a_known_device_does_not(app, smtp):
    with data(app):
        user = f.user("twofa@test.example", second_factor_enabled=True)
        user_id = user.id
    client = app.test_client()
    response = f.login(client, "twofa@test.example")
    assert response.status_code == 302 and response.headers["Location"] == "/portal/login/code"
    assert client.get("/portal/contracts/").status_code == 302  # not signed in yet
    code = re.search(r"\b(\d{6})\b", _body(smtp.wait_for(1)[0])).group(1)
    wrong = "000000" if code != "000000" else "111111"
    response = client.post("/portal/login/code", data={"code": wrong})
    assert response.status_code == 400 and "Неверный код" in _text(response)
    assert client.get("/portal/contracts/").status_code == 302
    assert client.post("/portal/login/code", data={"code": code}).status_code == 302
    assert client.get("/portal/contracts/").status_code == 200
    client.post("/portal/logout")

    # The same browser (device cookie kept) is not asked again.
    response = f.login(client, "twofa@test.example")
    assert response.status_code == 302 and response.headers["Location"] == "/portal/"
    assert len(smtp.messages) == 1
    # A reused code does not sign a new browser in.
    other = app.test_client()
    f.login(other, "twofa@test.example")
    assert other.post("/portal/login/code", data={"code": code}).status_code == 400
    assert other.get("/portal/contracts/").status_code == 302
    assert _count(app, AuditLog, AuditLog.action == "signin.second_factor", AuditLog.actor_id == user_id) == 1
