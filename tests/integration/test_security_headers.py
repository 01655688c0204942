"""Security headers on every response (issue 3 item 9): portal, back office, sign-in pages."""
from __future__ import annotations

from tests import factories as f
from tests.integration.test_signin import data


def test_portal_pages_get_a_strict_policy_without_inline_script(client):
    response = client.get("/portal/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response.headers  # only in production config


def test_back_office_pages_get_headers_and_a_same_origin_policy(app):
    with data(app):
        f.user("admin@test.example", roles=("Admin",), username="admin1")
    client = app.test_client()
    for path in ("/login/", "/healthz"):
        response = client.get(path)
        assert "default-src 'self'" in response.headers["Content-Security-Policy"], path
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert f.staff_login(client, "admin1").status_code == 302
    response = client.get("/admin/staff/list/")
    assert response.status_code == 200
    assert "frame-ancestors 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


def test_signed_in_portal_pages_are_not_cached(app):
    with data(app):
        f.user("me@test.example")
    client = app.test_client()
    f.login(client, "me@test.example")
    assert client.get("/portal/profile/").headers["Cache-Control"] == "no-store"


def test_hsts_is_sent_when_configured_for_production(app, client):
    app.config["HSTS"] = True
    try:
        assert "max-age=" in client.get("/portal/login").headers["Strict-Transport-Security"]
    finally:
        app.config.pop("HSTS", None)


def test_production_config_has_secure_cookies_and_hsts():
    import config

    prod = config.ProdConfig
    assert prod.SESSION_COOKIE_SECURE and prod.REMEMBER_COOKIE_SECURE and prod.HSTS
    assert config.Config.SESSION_COOKIE_HTTPONLY and config.Config.SESSION_COOKIE_SAMESITE == "Lax"
