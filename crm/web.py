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
        status = {"db": "ok"}
        code = 200
        try:
            db.session.execute(text("SELECT 1"))
        except Exception as exc:  # the point of a health check is to report, not raise
            status["db"] = f"error: {exc.__class__.__name__}"
            code = 503
        finally:
            db.session.rollback()
        from workflows.queue import queue_health

        status["queue"] = queue_health()
        if status["queue"].get("state") == "error":
            code = 503
        return jsonify(status), code

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if app.config.get("HSTS"):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response
