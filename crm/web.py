"""Cross-cutting HTTP concerns: health check, server-side sessions and security headers."""
from __future__ import annotations

from flask import Flask, flash, g, jsonify, make_response, request, session
from flask_login import current_user, logout_user, user_logged_in
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from crm.extensions import csrf, db

#: Flask-AppBuilder's pages rely on inline scripts and styles, so the back office gets a looser
#: policy than the portal (customer_portal sets its own, stricter one first); both allow only
#: this origin (no CDN).
BACK_OFFICE_CSP = "; ".join([
    "default-src 'self'",
    "img-src 'self' data:",
    "style-src 'self' 'unsafe-inline'",
    "script-src 'self' 'unsafe-inline'",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'self'",
])
#: session keys that survive signing in and out (the chosen language)
KEPT_SESSION_KEYS = ("locale",)


def reset_session() -> None:
    """Drop everything from the Flask session except the chosen language."""
    kept = {key: session[key] for key in KEPT_SESSION_KEYS if key in session}
    session.clear()
    session.update(kept)


def _is_static(endpoint: str | None) -> bool:
    return endpoint is None or endpoint == "static" or endpoint.endswith(".static") or endpoint == "healthz"


def register_web(app: Flask) -> None:
    """Add /healthz and the response headers every page gets."""

    @app.route("/healthz")
    @csrf.exempt
    def healthz():
        """Health of this web process: 200 when it can serve pages, 503 when it cannot.

        Only the database decides the status code: without it no page works, so a load balancer
        should stop sending traffic here (503). The job queue is reported, not judged: with Redis
        down the site keeps working — e-mail waits in the outbox and the sweeper sends it once
        Redis is back (SPEC W1) — and answering 503 would make a load balancer or orchestrator
        take every web process out of service over a background outage, turning a delay into a
        full outage. So a queue error answers 200 with "status": "degraded" and
        "queue": {"state": "error", ...}; monitoring alerts on that body, not on the code.
        """
        status = {"status": "ok", "db": "ok"}
        code = 200
        try:
            db.session.execute(text("SELECT 1"))
        except Exception as exc:  # the point of a health check is to report, not raise
            status["db"] = f"error: {exc.__class__.__name__}"
            status["status"] = "error"
            code = 503
        finally:
            db.session.rollback()
        from workflows.queue import queue_health

        status["queue"] = queue_health()
        if status["queue"].get("state") != "ok" and code == 200:
            status["status"] = "degraded"
        response = jsonify(status)
        response.headers["Cache-Control"] = "no-store"
        return response, code

    @app.errorhandler(OperationalError)
    def database_unavailable(error):
        """The database is unreachable (a restart, a failover, the network) or refused the statement for
        a transient reason: a clean 503 with Retry-After instead of a 500 and a traceback. Nothing is
        needed to recover: the pool's pre-ping (config.py) replaces dead connections on the next
        request. The page reads nothing from the database (tests/reliability/test_postgres_restart.py)."""
        app.logger.warning("database unavailable on %s %s: %s", request.method, request.path,
                           str(getattr(error, "orig", error)).strip()[:200])
        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001 - the connection is gone; the pool discards it
            pass
        if "_login_user" not in g:
            # The after-request hooks ask current_user; loading it would hit the database again and turn
            # this answer into a 500.
            g._login_user = app.login_manager.anonymous_user()
        if request.path.startswith("/api/") or request.path == "/healthz":
            response = jsonify({"status": "error", "db": "unavailable"})
        else:
            # Straight from the Jinja environment: render_template would run the blueprints' context
            # processors (the portal's reads the user and their contracts) and fail the same way again.
            page = app.jinja_env.get_template("service_unavailable.html").render(request=request, session=session)
            response = make_response(page)
        response.status_code = 503
        response.headers["Retry-After"] = "30"
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
        return response

    _register_sessions(app)

    @app.after_request
    def security_headers(response):
        from crm.services import sessions

        sessions.set_device_cookie(response)
        headers = response.headers
        headers.setdefault("Content-Security-Policy", BACK_OFFICE_CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
        if not _is_static(request.endpoint) and current_user and current_user.is_authenticated:
            # Pages with personal data must not be kept by shared caches or the back button.
            headers.setdefault("Cache-Control", "no-store")
        if app.config.get("HSTS"):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response


def _register_sessions(app: Flask) -> None:
    """Track every sign-in as a UserSession row and sign out browsers whose row no longer works."""
    from crm.services import sessions

    @user_logged_in.connect_via(app)
    def _record_session(sender, user, **extra):
        # The portal starts the row itself (it knows "remember me"); FAB's /login/ lands here.
        if not g.get("crm_session_started"):
            sessions.start(user, remember=False)
            from crm.services import audit

            audit.record("signin.success", actor=user, subject_type="user", subject_id=user.id,
                         detail={"via": request.blueprint or "back_office"})
            db.session.commit()

    @app.before_request
    def _check_session():
        if _is_static(request.endpoint) or not current_user.is_authenticated:
            return None
        reason = sessions.check_request(current_user)
        if reason is not None:
            reset_session()
            logout_user()
            g.user = current_user
            flash(sessions.sign_out_message(reason), "warning")
        return None
