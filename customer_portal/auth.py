"""Portal sign-in, second factor, sign-out and password recovery (SPEC C2, C3): thin routes over
crm.services.accounts.

Also the portal's "must change password" gate: a user whose password was issued by the utility
(or who signed in with a temporary one) may use nothing but the change-password page until it is
changed.
"""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from crm.extensions import db
from crm.models import CrmUser
from crm.services import ServiceError, accounts, sessions
from crm.services.codes import CodeError
from crm.services.throttle import TooManyAttemptsError
from crm.web import reset_session
from customer_portal import account_route, bp, public_route
from customer_portal.context import safe_next
from customer_portal.forms import EmptyForm, NewPasswordForm, RecoveryForm, SignInForm, TwoFactorForm

#: Flask-session keys of a sign-in waiting for its second factor
PENDING_KEY = "crm_2fa_pending"

#: endpoints a user who must change the password may still open (sign-up adds its own)
MUST_CHANGE_PASSWORD_ALLOWED = {"portal.change_password", "portal.logout", "portal.static",
                                "portal.set_language", "portal.reset_password"}

# Kept for callers of the old module API.
find_user_for_login = accounts.find_user_for_login


def too_many(exc: TooManyAttemptsError):
    """429 on the portal's error page, with how long to wait."""
    db.session.rollback()
    flash(exc.message, "danger")
    response = render_template("portal/error.html", code=429), 429, {"Retry-After": str(exc.retry_after)}
    return response


@bp.before_request
def _password_change_gate():
    endpoint = request.endpoint or ""
    if endpoint in MUST_CHANGE_PASSWORD_ALLOWED:
        return None
    if endpoint.startswith("portal.signup"):
        return None
    if current_user.is_authenticated and getattr(current_user, "must_change_password", False):
        return redirect(url_for("portal.change_password"))
    return None


def _finish_sign_in(user: CrmUser, remember: bool, next_url: str | None):
    reset_session()
    sessions.start(user, remember=remember)  # before login_user(), whose signal would start one too
    login_user(user, remember=remember)
    accounts.complete_sign_in(user, remember=remember)
    if user.must_change_password:
        flash(_("Please set your own password before you continue."), "warning")
        return redirect(url_for("portal.change_password"))
    return redirect(next_url or url_for("portal.index"))


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
        try:
            user = accounts.authenticate(form.login.data, form.password.data)
        except TooManyAttemptsError as exc:
            return too_many(exc)
        except accounts.SignInError as exc:
            error = exc.message
            form.password.data = ""
        else:
            remember = bool(form.remember_me.data)
            if accounts.needs_second_factor(user, sessions.device_id()):
                reset_session()
                session[PENDING_KEY] = {"user_id": user.id, "remember": remember, "next": next_url}
                try:
                    accounts.send_two_factor_code(user)
                except ServiceError:
                    pass  # a code sent less than a minute ago is still valid
                return redirect(url_for("portal.two_factor"))
            return _finish_sign_in(user, remember, next_url)
    status = 400 if request.method == "POST" else 200
    return render_template("portal/login.html", form=form, error=error), status


def _pending_user() -> tuple[CrmUser | None, dict]:
    pending = session.get(PENDING_KEY) or {}
    user = db.session.get(CrmUser, pending.get("user_id")) if pending.get("user_id") else None
    if user is not None and not accounts.may_sign_in(user):
        user = None
    return user, pending


@bp.route("/login/code", methods=["GET", "POST"])
@public_route
def two_factor():
    """Second step of signing in from a new device: the code mailed to the account's address."""
    user, pending = _pending_user()
    if user is None:
        return redirect(url_for("portal.login"))
    form = TwoFactorForm()
    status = 200
    if form.validate_on_submit():
        try:
            accounts.verify_two_factor(user, form.code.data)
        except TooManyAttemptsError as exc:
            return too_many(exc)
        except CodeError as exc:
            form.code.errors.append(exc.message)
            status = 400
        else:
            return _finish_sign_in(user, bool(pending.get("remember")), safe_next(pending.get("next")))
    elif request.method == "POST":
        status = 400
    return render_template("portal/two_factor.html", form=form, email=_masked(user.email),
                           resend_form=EmptyForm()), status


@bp.route("/login/code/resend", methods=["POST"])
@public_route
def two_factor_resend():
    user, _pending = _pending_user()
    if user is None:
        return redirect(url_for("portal.login"))
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        accounts.send_two_factor_code(user)
        flash(_("A new code has been sent."), "success")
    except ServiceError as exc:
        flash(exc.message, "warning")
    return redirect(url_for("portal.two_factor"))


def _masked(email: str | None) -> str:
    if not email or "@" not in email:
        return ""
    name, domain = email.split("@", 1)
    return f"{name[:2]}{'•' * max(1, len(name) - 2)}@{domain}"


@bp.route("/logout", methods=["POST"])
@account_route
def logout():
    """Sign out (POST only, CSRF-protected), end the session record and forget the session."""
    accounts.record_sign_out(current_user)
    # Reset first: logout_user() leaves a marker in the session that deletes the remember-me cookie.
    reset_session()
    logout_user()
    g.user = current_user
    flash(_("You have signed out."), "info")
    return redirect(url_for("portal.login"))


@bp.route("/password/recover", methods=["GET", "POST"])
@public_route
def recover_password():
    """Ask for a recovery link; the answer never tells whether the address is registered."""
    form = RecoveryForm()
    if form.validate_on_submit():
        try:
            accounts.request_recovery(form.email.data)
        except TooManyAttemptsError as exc:
            return too_many(exc)
        return render_template("portal/recover_sent.html")
    status = 400 if request.method == "POST" else 200
    return render_template("portal/recover.html", form=form), status


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@public_route
def reset_password(token):
    """Set a new password from a recovery link or an invitation (single use, expiring)."""
    try:
        user = accounts.check_reset_link(token)
    except CodeError as exc:
        return render_template("portal/reset_invalid.html", message=exc.message), 410
    form = NewPasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            accounts.reset_password(token, form.new_password.data, form.confirm.data)
        except accounts.ValidationError as exc:
            db.session.rollback()
            for field, messages in exc.problems.items():
                getattr(form, field).errors = list(messages)
            status = 400
        except CodeError as exc:
            return render_template("portal/reset_invalid.html", message=exc.message), 410
        else:
            if current_user.is_authenticated:
                reset_session()
                logout_user()
            flash(_("The password has been set. Sign in with the new password."), "success")
            return redirect(url_for("portal.login"))
    elif request.method == "POST":
        status = 400
    return render_template("portal/reset_password.html", form=form, user=user), status


from customer_portal import profile  # noqa: E402,F401  (profile routes attach to bp)
