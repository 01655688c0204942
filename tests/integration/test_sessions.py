"""Server-side sessions (C3): the list, ending one or all, lifetimes, blocking and deletion."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from crm import clock
from crm.extensions import db
from crm.models import CrmUser, UserSession
from crm.services import sessions
from tests import factories as f
from tests.integration.test_signin import NEW_PASSWORD, _text, data

CHROME_LINUX = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
                "Chrome/126.0.0.0 Safari/537.36")
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"


def _signed_in(app, login="s@test.example", agent=CHROME_LINUX, remember=False):
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = agent
    form = {"login": login, "password": f.PASSWORD}
    if remember:
        form["remember_me"] = "y"
    response = client.post("/portal/login", data=form)
    assert response.status_code == 302, _text(response)
    return client


def _is_signed_in(client) -> bool:
    return client.get("/portal/contracts/").status_code == 200


def _open_count(app, user_id) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(UserSession)
                                 .where(UserSession.user_id == user_id, UserSession.ended_at.is_(None)))


def _make_user(app, email="s@test.example", **kw) -> int:
    with data(app):
        return f.user(email, **kw).id


def test_sign_in_records_a_session_with_browser_and_system(app):
    user_id = _make_user(app)
    client = _signed_in(app)
    _signed_in(app, agent=FIREFOX_WINDOWS)
    page = _text(client.get("/portal/profile/sessions"))
    assert "Chrome 126" in page and "Linux" in page and "Firefox 128" in page and "Windows 10" in page
    assert page.count("Этот сеанс") == 1
    assert _open_count(app, user_id) == 2


def test_ended_session_is_signed_out_on_its_next_request(app):
    user_id = _make_user(app)
    mine, other = _signed_in(app), _signed_in(app, agent=FIREFOX_WINDOWS)
    with app.app_context():
        other_id = db.session.scalar(select(UserSession.id).where(UserSession.browser.like("Firefox%")))
    assert mine.post(f"/portal/profile/sessions/{other_id}/end").status_code == 302
    response = other.get("/portal/contracts/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/portal/login")
    assert "Сеанс был завершён" in _text(other.get("/portal/login"))
    assert _is_signed_in(mine)
    assert _open_count(app, user_id) == 1


def test_ending_the_current_session_signs_out(app):
    _make_user(app)
    client = _signed_in(app)
    page = _text(client.get("/portal/profile/sessions"))
    session_id = re.search(r"/portal/profile/sessions/(\d+)/end", page).group(1)
    response = client.post(f"/portal/profile/sessions/{session_id}/end")
    assert response.headers["Location"] == "/portal/login"
    assert not _is_signed_in(client)


def test_ending_another_users_session_is_404(app):
    _make_user(app)
    _make_user(app, "victim@test.example")
    victim = _signed_in(app, "victim@test.example")
    with app.app_context():
        victim_session = db.session.scalar(select(UserSession.id).join(CrmUser)
                                           .where(CrmUser.email == "victim@test.example"))
    assert _signed_in(app).post(f"/portal/profile/sessions/{victim_session}/end").status_code == 404
    assert _is_signed_in(victim)


def test_end_all_others_keeps_only_the_current_one(app):
    user_id = _make_user(app)
    mine, a, b = _signed_in(app), _signed_in(app), _signed_in(app)
    mine.post("/portal/profile/sessions/end-others")
    assert _is_signed_in(mine) and not _is_signed_in(a) and not _is_signed_in(b)
    assert _open_count(app, user_id) == 1


def test_session_ends_after_idle_lifetime_and_not_before(app):
    _make_user(app)
    clock.set_now(clock.now())
    client = _signed_in(app)
    clock.advance(timedelta(minutes=29))
    assert _is_signed_in(client)
    clock.advance(timedelta(minutes=29))  # last seen was refreshed 29 min ago
    assert _is_signed_in(client)
    clock.advance(timedelta(minutes=30))
    assert not _is_signed_in(client)
    assert "бездействия" in _text(client.get("/portal/login"))


def test_remember_me_extends_the_idle_lifetime(app):
    _make_user(app)
    clock.set_now(clock.now())
    client = _signed_in(app, remember=True)
    clock.advance(timedelta(hours=5))
    assert _is_signed_in(client)


def test_session_ends_at_absolute_lifetime_even_when_active(app):
    _make_user(app)
    clock.set_now(clock.now())
    client = _signed_in(app)
    for _step in range(35):  # 11 h 40 min of activity every 20 min
        clock.advance(timedelta(minutes=20))
        assert _is_signed_in(client)
    clock.advance(timedelta(minutes=20))
    assert not _is_signed_in(client)
    assert "Срок действия сеанса истёк" in _text(client.get("/portal/login"))


def test_blocking_an_account_ends_all_its_sessions(app):
    user_id = _make_user(app)
    a, b = _signed_in(app), _signed_in(app)
    with app.app_context():
        db.session.get(CrmUser, user_id).blocked_reason = "test"
        assert sessions.end_all(user_id, sessions.ACCOUNT_BLOCKED) == 2
    assert not _is_signed_in(a) and not _is_signed_in(b)


def test_deleting_the_account_ends_all_its_sessions(app):
    user_id = _make_user(app)
    a, b = _signed_in(app), _signed_in(app)
    response = a.post("/portal/profile/delete", data={"password": f.PASSWORD, "confirm": "y"})
    assert response.status_code == 302
    assert not _is_signed_in(a) and not _is_signed_in(b)
    assert _open_count(app, user_id) == 0


def test_password_change_ends_other_sessions_when_asked_and_keeps_them_when_not(app):
    _make_user(app)
    mine, other = _signed_in(app), _signed_in(app)
    response = mine.post("/portal/profile/password", data={
        "old_password": f.PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD,
        "end_other_sessions": "y"})
    assert response.status_code == 302
    assert _is_signed_in(mine) and not _is_signed_in(other)
    third = _signed_in_with(app, NEW_PASSWORD)
    assert "checked" in re.search(r'<input[^>]*name="end_other_sessions"[^>]*>',
                                  _text(mine.get("/portal/profile/password"))).group(0)
    mine.post("/portal/profile/password", data={"old_password": NEW_PASSWORD, "new_password": "Third3Pass",
                                                "confirm": "Third3Pass"})
    assert _is_signed_in(third)


def _signed_in_with(app, password):
    client = app.test_client()
    assert f.login(client, "s@test.example", password).status_code == 302
    return client


def test_admin_ends_a_users_sessions_from_the_back_office(app):
    with data(app):
        f.user("admin@test.example", roles=("Admin",), username="admin1")
        staff_id = f.user("curator@test.example", roles=("Curator",), username="curator1").id
    staff = app.test_client()
    assert f.staff_login(staff, "curator1").status_code == 302
    admin = app.test_client()
    assert f.staff_login(admin, "admin1").status_code == 302
    response = admin.post("/admin/staff/action_post", data={"action": "end_sessions", "rowid": [str(staff_id)]})
    assert response.status_code == 302
    assert _open_count(app, staff_id) == 0
    assert staff.get("/admin/contracts/list/").status_code in {302, 401}
