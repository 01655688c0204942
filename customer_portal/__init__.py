"""The customer portal: a Flask blueprint at /portal/ sharing the CRM's models and database."""
from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("portal", __name__, url_prefix="/portal", template_folder="templates",
               static_folder="static", static_url_path="/static")

#: Portal endpoints reachable without signing in; every other portal route requires a session
#: (tests/integration/test_authz.py enumerates the routes and holds the portal to this list).
PUBLIC_ENDPOINTS: set[str] = {"portal.login", "portal.static"}


def public(view):
    """Mark a portal view as reachable without signing in."""
    PUBLIC_ENDPOINTS.add(f"portal.{view.__name__}")
    return view


def register_portal(app: Flask, appbuilder) -> None:
    """Register the blueprint and point Flask-Login's redirects at the portal sign-in page."""
    from customer_portal import auth, contracts, home  # noqa: F401  (routes attach to bp)

    app.register_blueprint(bp)
    login_manager = appbuilder.sm.lm
    login_manager.blueprint_login_views = {"portal": "portal.login"}
    login_manager.login_message = None
