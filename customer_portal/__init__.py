"""The customer portal: a Flask blueprint at /portal/ sharing the CRM's models and database."""
from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("portal", __name__, url_prefix="/portal", template_folder="templates",
               static_folder="static", static_url_path="/static")


def register_portal(app: Flask, appbuilder) -> None:
    """Register the blueprint and point Flask-Login's redirects at the portal sign-in page."""
    from customer_portal import auth, contracts, home  # noqa: F401  (routes attach to bp)

    app.register_blueprint(bp)
    login_manager = appbuilder.sm.lm
    login_manager.blueprint_login_views = {"portal": "portal.login"}
    login_manager.login_message = None
