"""Cross-cutting HTTP concerns: health check and security headers."""
from __future__ import annotations

from flask import Flask, jsonify
from sqlalchemy import text

from crm.extensions import csrf, db


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

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if app.config.get("HSTS"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
