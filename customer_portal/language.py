"""Language switch: Russian by default, English available (SPEC: fully translatable UI)."""
from __future__ import annotations

from flask import abort, current_app, redirect, request, session, url_for

from customer_portal import bp, public_route
from customer_portal.context import safe_next

#: the languages the portal offers (FAB's locale selector reads session["locale"])
PORTAL_LANGUAGES = ("ru", "en")


@bp.route("/lang/<code>", methods=["GET", "POST"])
@public_route
def set_language(code: str):
    """Remember the language in the session and go back to a portal page (never off-site)."""
    if code not in PORTAL_LANGUAGES or code not in current_app.config.get("LANGUAGES", {}):
        abort(404)
    session["locale"] = code
    target = request.form.get("next") if request.method == "POST" else request.args.get("next")
    return redirect(safe_next(target) or url_for("portal.index"))
