"""Portal sign-in and sign-out (SPEC C2).

Passwords are checked by FAB's security manager (`auth_user_db`), so the portal and the back office
share one hashing scheme, one "active" flag and FAB's failed-login counters. What the portal adds:
e-mail and login are matched case-insensitively, deleted accounts are refused, and every refusal
reads the same ("Wrong login or password.") so nobody learns which accounts exist.
"""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import func, or_, select
from werkzeug.security import check_password_hash

from crm.extensions import db
from crm.models import CrmUser
from customer_portal import account_route, bp, public_route
from customer_portal.context import safe_next
from customer_portal.forms import SignInForm

#: session keys that survive signing in and out (the chosen language)
_KEPT_SESSION_KEYS = ("locale",)


def find_user_for_login(login: str) -> CrmUser | None:
    """The one user whose login (username) or e-mail is `login`, ignoring case; None if ambiguous."""
    key = login.strip().lower()
    if not key:
        return None
    candidates = db.session.scalars(
        select(CrmUser).where(or_(func.lower(CrmUser.username) == key, func.lower(CrmUser.email) == key)).limit(5)
    ).all()
    by_username = [user for user in candidates if (user.username or "").lower() == key]
    if len(by_username) == 1:
        return by_username[0]
    by_email = [user for user in candidates if (user.email or "").lower() == key]
    return by_email[0] if len(by_email) == 1 and not by_username else None


def authenticate(login: str, password: str) -> CrmUser | None:
    """The active, not deleted user with this login or e-mail and password; None otherwise."""
    sm = current_app.appbuilder.sm
    user = find_user_for_login(login)
    if user is None or user.deleted_at is not None or not user.is_active:
        # Spend the time a real check takes, so timing does not tell which accounts exist.
        check_password_hash(current_app.config["AUTH_DB_FAKE_PASSWORD_HASH_CHECK"], password)
        return None
    # FAB compares the hash and records the attempt (last login, failed-login count).
    return sm.auth_user_db(user.username, password)


def _reset_session() -> None:
    """Drop everything from the previous session except the chosen language."""
    kept = {key: session[key] for key in _KEPT_SESSION_KEYS if key in session}
    session.clear()
    session.update(kept)


@bp.route("/login", methods=["GET", "POST"])
@public_route
def login():
    """The sign-in page; 400 with a generic message when the login or password is wrong."""
    next_url = safe_next(request.args.get("next"))
    if current_user.is_authenticated:
        return redirect(next_url or url_for("portal.index"))
    form = SignInForm()
    error = None
    if form.validate_on_submit():
        user = authenticate(form.login.data, form.password.data)
        if user is not None:
            _reset_session()
            login_user(user, remember=bool(form.remember_me.data))
            return redirect(next_url or url_for("portal.index"))
        error = _("Wrong login or password.")
        form.password.data = ""
    status = 400 if request.method == "POST" else 200
    return render_template("portal/login.html", form=form, error=error), status


@bp.route("/logout", methods=["POST"])
@account_route
def logout():
    """Sign out (POST only, CSRF-protected) and forget the session."""
    # Reset first: logout_user() leaves a marker in the session that deletes the remember-me cookie.
    _reset_session()
    logout_user()
    flash(_("You have signed out."), "info")
    return redirect(url_for("portal.login"))
