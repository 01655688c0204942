"""The customer portal: a Flask blueprint at /portal/ sharing the CRM's models and database."""
from __future__ import annotations

from flask import Blueprint, Flask, current_app, render_template, request
from flask_babel import get_locale
from flask_login import current_user

bp = Blueprint("portal", __name__, url_prefix="/portal", template_folder="templates",
               static_folder="static", static_url_path="/static")

from customer_portal.guards import ROUTE_RULES, account_route, contract_route, public_route  # noqa: E402,F401

#: Everything the portal loads comes from this origin (no CDN); Bootstrap's own CSS uses data: SVGs.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "img-src 'self' data:",
    "style-src 'self'",
    "script-src 'self'",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'self'",
])


def register_portal(app: Flask, appbuilder) -> None:
    """Register the blueprint and point Flask-Login's redirects at the portal sign-in page."""
    # Each section's routes attach to `bp` when its module is imported.
    from customer_portal import (  # noqa: F401
        appeals,
        auth,
        contracts,
        documents,
        help,
        home,
        households,
        interval_profiles,
        language,
        meters,
        notifications,
        pay,
        payments,
        profile,
        readings,
        readings_entry,
        readings_files,
        services,
        settlements,
        signup,
        tasks,
    )

    app.register_blueprint(bp)
    sm = appbuilder.sm
    login_manager = sm.lm
    login_manager.blueprint_login_views = {"portal": "portal.login"}
    login_manager.login_message = None
    if sm.is_auth_limited:
        # The same throttle FAB puts on its own sign-in view (AUTH_RATE_LIMIT per client address,
        # active when RATELIMIT_ENABLED). Flask-Limiter checks a decorated limit in the wrapper it
        # returns, so the wrapper replaces the registered view.
        endpoint = "portal.login"
        app.view_functions[endpoint] = sm.limiter.limit(sm.auth_rate_limit, methods=["POST"])(
            app.view_functions[endpoint])


@bp.context_processor
def _portal_context():
    from crm import clock
    from customer_portal import context, labels, navigation

    locale = str(get_locale() or current_app.config.get("BABEL_DEFAULT_LOCALE", "ru"))
    values = {
        **_request_gettext(),
        "portal_locale": locale,
        "portal_languages": current_app.config.get("LANGUAGES", {}),
        "portal_current_path": context.current_path(),
        "portal_year": clock.now().year,
        "label": labels.label,
        "badge": labels.badge,
        "kind_icon": labels.kind_icon,
        "phone_href": context.phone_href,
    }
    if current_user.is_authenticated:
        selected = context.selected_grant()
        values.update(
            selected_grant=selected,
            selector_grants=context.selector_grants(),
            menu=navigation.menu_for(selected),
        )
        from customer_portal.notifications import layout_state

        values.update(layout_state())  # the bell, modals and banners: two statements, cached per request
    return values


def _request_gettext() -> dict:
    """`gettext`/`ngettext` for portal templates bound to this request's catalogue.

    Flask-Babel's template callables look the locale and catalogue up again on every `_()` (≈ 18 µs
    each; the contract card calls it ≈ 170 times). Template context variables shadow the globals, and
    Jinja's `_()` resolves `gettext` from the context, so the portal's pages get the same translation
    with the catalogue fetched once per render (same newstyle wrappers: escaping, `%` formatting).
    """
    from flask_babel import get_translations
    from jinja2.ext import _make_new_gettext, _make_new_ngettext

    translations = get_translations()
    return {"gettext": _make_new_gettext(translations.ugettext),
            "ngettext": _make_new_ngettext(translations.ungettext)}


@bp.after_request
def _content_security_policy(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    return response


@bp.errorhandler(403)
def _forbidden(error):
    return render_template("portal/error.html", code=403), 403


@bp.errorhandler(429)
def _too_many_requests(error):
    return render_template("portal/error.html", code=429), 429


@bp.errorhandler(404)
def _not_found(error):
    # Only errors raised by portal views land here (e.g. a contract the user has no role on).
    return render_template("portal/error.html", code=404, path=request.path), 404
