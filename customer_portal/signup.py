"""Portal sign-up and contract binding (SPEC C1): thin routes over crm.services.signup.

(a) /signup → /signup/confirm (code) → /signup/about → /signup/phone → /contracts/bind;
(b) /signup/account → /signup/confirm → …; (c) /activate/<token>; the link mailed to a contract
e-mail is /contracts/bind/confirm/<token>. A switched-off method's pages answer 404.
"""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from crm.services import ServiceError, signup
from crm.services.settings import (
    SIGNUP_ACCOUNT,
    SIGNUP_EMAIL,
    SIGNUP_PAPER,
    enabled_signup_methods,
    is_signup_method_enabled,
)
from customer_portal import account_route, bp, public_route
from customer_portal.forms import MAX_LOGIN_LENGTH, MAX_PASSWORD_LENGTH


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _email_field(label=_l("E-mail")):
    return StringField(label, validators=[DataRequired(message=_l("Enter an e-mail address.")),
                                          Length(max=MAX_LOGIN_LENGTH, message=_l("The e-mail is too long."))],
                       filters=[_strip], render_kw={"autocomplete": "email", "inputmode": "email",
                                                    "autocapitalize": "none", "spellcheck": "false"})


def _password_fields():
    password = PasswordField(_l("Password"), validators=[
        DataRequired(message=_l("Enter a password.")),
        Length(max=MAX_PASSWORD_LENGTH, message=_l("The password is too long."))],
        render_kw={"autocomplete": "new-password"})
    repeat = PasswordField(_l("Repeat the password"), validators=[
        DataRequired(message=_l("Repeat the password.")),
        Length(max=MAX_PASSWORD_LENGTH, message=_l("The password is too long."))],
        render_kw={"autocomplete": "new-password"})
    return password, repeat


class EmailSignupForm(FlaskForm):
    """Sign-up (a) [004 §2.2 fig. 2]."""

    email = _email_field()
    password, password_repeat = _password_fields()
    agreement = BooleanField(_l("I accept the user agreement"))
    marketing = BooleanField(_l("I agree to receive news and offers by e-mail"))


class AccountSignupForm(EmailSignupForm):
    """Sign-up (b) [003 fig. 1]."""

    account_number = StringField(_l("Account number"), filters=[_strip], validators=[
        DataRequired(message=_l("Enter the account number.")), Length(max=20, message=_l("The number is too long."))],
        render_kw={"inputmode": "numeric", "autocomplete": "off"})
    partner_code = StringField(_l("Partner code"), filters=[_strip], validators=[
        DataRequired(message=_l("Enter the partner code.")), Length(max=20, message=_l("The code is too long."))],
        render_kw={"autocomplete": "off"})


class CodeForm(FlaskForm):
    code = StringField(_l("Code from the e-mail"), filters=[_strip], validators=[
        DataRequired(message=_l("Enter the code from the e-mail.")), Length(max=12)],
        render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 6,
                   "pattern": "[0-9]*"})


class ResendForm(FlaskForm):
    """A button that only needs its CSRF token: "send the code again"."""


class AcquaintanceForm(FlaskForm):
    """"Let's get acquainted" [004 fig. 4]."""

    last_name = StringField(_l("Last name"), filters=[_strip], validators=[
        DataRequired(message=_l("Enter your last name.")), Length(max=64)], render_kw={"autocomplete": "family-name"})
    first_name = StringField(_l("First name"), filters=[_strip], validators=[
        DataRequired(message=_l("Enter your first name.")), Length(max=64)], render_kw={"autocomplete": "given-name"})
    patronymic = StringField(_l("Patronymic"), filters=[_strip], validators=[Optional(), Length(max=64)],
                             render_kw={"autocomplete": "additional-name"})
    organisation = StringField(_l("Organisation"), filters=[_strip], validators=[Optional(), Length(max=255)],
                               render_kw={"autocomplete": "organization"})
    position = StringField(_l("Position"), filters=[_strip], validators=[Optional(), Length(max=255)],
                           render_kw={"autocomplete": "organization-title"})
    address = TextAreaField(_l("Address"), filters=[_strip], validators=[Optional(), Length(max=500)],
                            render_kw={"rows": 2, "autocomplete": "street-address"})


class PhoneForm(FlaskForm):
    phone = StringField(_l("Phone"), filters=[_strip], validators=[
        DataRequired(message=_l("Enter a phone number.")), Length(max=32)],
        render_kw={"inputmode": "tel", "autocomplete": "tel", "placeholder": "+7 912 345-67-89"})


class BindContractForm(FlaskForm):
    contract_number = StringField(_l("Contract number"), filters=[_strip], validators=[
        DataRequired(message=_l("Enter the contract number.")), Length(max=32)],
        render_kw={"inputmode": "numeric", "autocomplete": "off", "placeholder": "00000000000000"})
    contract_email = _email_field(_l("E-mail registered on the contract"))


class ActivationForm(FlaskForm):
    password, password_repeat = _password_fields()


def _require_enabled(method: str) -> None:
    if not is_signup_method_enabled(method):
        abort(404)


def _apply_error(form: FlaskForm, error: ServiceError) -> str | None:
    """Put the service's message under its field; return it when no field of the form matches."""
    problems = getattr(error, "problems", None) or [error.message]
    field = getattr(form, error.field, None) if error.field else None
    if field is None:
        return error.message
    field.errors = list(field.errors or []) + problems
    return None


def _too_many(error: ServiceError):
    return render_template("portal/signup_blocked.html", message=error.message), 429


def _sign_in(user) -> None:
    """Sign the new user in the way the sign-in page does (fresh session, session record, audit)."""
    from crm.services import accounts
    from crm.web import reset_session

    reset_session()
    login_user(user)
    accounts.complete_sign_in(user, remember=False)


@bp.before_request
def _finish_signup_first():
    """A self-registered user completes "let's get acquainted" and the phone before anything else
    [004 §2.2: "without these fields you cannot continue"]."""
    if not current_user.is_authenticated:
        return None
    if request.endpoint in _ALWAYS_ALLOWED:
        return None
    step = signup.signup_next_step(current_user)
    if step == "about":
        return redirect(url_for("portal.signup_about"))
    if step == "phone":
        return redirect(url_for("portal.signup_phone"))
    return None


_ALWAYS_ALLOWED = {"portal.static", "portal.logout", "portal.set_language", "portal.agreement",
                   "portal.signup_confirm", "portal.signup_resend", "portal.signup_about", "portal.signup_phone",
                   "portal.confirm_binding", "portal.activate"}


@bp.route("/agreement")
@public_route
def agreement():
    """The user agreement the sign-up forms link to."""
    return render_template("portal/signup_agreement.html")


@bp.route("/signup", methods=["GET", "POST"])
@public_route
def signup_email():
    """Sign-up (a): e-mail, password, agreement, optional marketing consent."""
    return _self_signup(SIGNUP_EMAIL, EmailSignupForm(), lambda form: signup.register_by_email(
        form.email.data, form.password.data, form.password_repeat.data,
        agreement=form.agreement.data, marketing=form.marketing.data))


@bp.route("/signup/account", methods=["GET", "POST"])
@public_route
def signup_account():
    """Sign-up (b): account number + partner code, then e-mail and password [003]."""
    return _self_signup(SIGNUP_ACCOUNT, AccountSignupForm(), lambda form: signup.register_by_account(
        form.account_number.data, form.partner_code.data, form.email.data, form.password.data,
        form.password_repeat.data, agreement=form.agreement.data, marketing=form.marketing.data))


def _self_signup(method: str, form, register):
    """The first step of sign-up (a) and (b): validate, call `register(form)`, sign the new user in
    and go on to the e-mail code; a refused form is shown again with every message."""
    _require_enabled(method)
    if current_user.is_authenticated:
        return redirect(url_for("portal.index"))
    error = None
    if form.validate_on_submit():
        try:
            user = register(form)
        except ServiceError as exc:
            if exc.status == 429:
                return _too_many(exc)
            error = _apply_error(form, exc)
        else:
            _sign_in(user)
            return redirect(url_for("portal.signup_confirm"))
    status = 400 if request.method == "POST" else 200
    return render_template("portal/signup.html", form=form, error=error, method=method,
                           methods=enabled_signup_methods()), status


@bp.route("/signup/confirm", methods=["GET", "POST"])
@account_route
def signup_confirm():
    """Enter the 6-digit code mailed to the new address [004 fig. 3]."""
    if current_user.email_confirmed_at is not None:
        return redirect(url_for("portal.signup_about"))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            bound = signup.confirm_email(current_user, form.code.data)
        except ServiceError as exc:
            if exc.status == 429:
                return _too_many(exc)
            _apply_error(form, exc)
        else:
            flash(_("Your e-mail is confirmed."), "success")
            for access in bound:
                flash(_("Contract %(number)s is added to your account.", number=access.contract.number), "success")
            return redirect(url_for("portal.signup_about"))
    status = 400 if request.method == "POST" else 200
    return render_template("portal/signup_confirm.html", form=form, resend_form=ResendForm(),
                           wait=signup.seconds_until_resend(current_user),
                           code_minutes=int(signup.CODE_TTL.total_seconds() // 60)), status


@bp.route("/signup/confirm/resend", methods=["POST"])
@account_route
def signup_resend():
    """Send a new code (at most once a minute)."""
    if ResendForm().validate_on_submit():
        try:
            signup.resend_confirmation_code(current_user)
        except ServiceError as exc:
            flash(exc.message, "warning")
        else:
            flash(_("A new code has been sent to %(email)s.", email=current_user.email), "info")
    return redirect(url_for("portal.signup_confirm"))


@bp.route("/signup/about", methods=["GET", "POST"])
@account_route
def signup_about():
    """"Let's get acquainted": names, organisation, position, address."""
    form = AcquaintanceForm(obj=current_user if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            signup.save_acquaintance(current_user, last_name=form.last_name.data, first_name=form.first_name.data,
                                     patronymic=form.patronymic.data, organisation=form.organisation.data,
                                     position=form.position.data, address=form.address.data)
        except ServiceError as exc:
            _apply_error(form, exc)
        else:
            return redirect(url_for("portal.signup_phone"))
    status = 400 if request.method == "POST" else 200
    return render_template("portal/signup_about.html", form=form), status


@bp.route("/signup/phone", methods=["GET", "POST"])
@account_route
def signup_phone():
    """The phone step; then on to binding a contract."""
    if signup.signup_next_step(current_user) == "about":
        return redirect(url_for("portal.signup_about"))
    form = PhoneForm(obj=current_user if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            signup.save_phone(current_user, form.phone.data)
        except ServiceError as exc:
            _apply_error(form, exc)
        else:
            flash(_("Welcome! Now add a contract to your account."), "success")
            return redirect(url_for("portal.bind_contract"))
    status = 400 if request.method == "POST" else 200
    return render_template("portal/signup_phone.html", form=form), status


@bp.route("/contracts/bind", methods=["GET", "POST"])
@account_route
def bind_contract():
    """Bind a contract by its number and one of its registered e-mails (confirmed by a link)."""
    _require_enabled(SIGNUP_EMAIL)
    form = BindContractForm()
    error = None
    if form.validate_on_submit():
        try:
            access = signup.request_contract_binding(current_user, form.contract_number.data,
                                                     form.contract_email.data)
        except ServiceError as exc:
            if exc.status == 429:
                return _too_many(exc)
            error = _apply_error(form, exc)
        else:
            return render_template("portal/signup_bind_sent.html", access=access,
                                   email=signup.normalise_email(form.contract_email.data))
    status = 400 if request.method == "POST" else 200
    return render_template("portal/signup_bind.html", form=form, error=error,
                           email_confirmed=current_user.email_confirmed_at is not None), status


@bp.route("/contracts/bind/confirm/<token>")
@public_route
def confirm_binding(token: str):
    """The link mailed to the contract e-mail: the binding becomes confirmed."""
    try:
        access = signup.confirm_contract_binding(token)
    except ServiceError as exc:
        if exc.status == 429:
            return _too_many(exc)
        return render_template("portal/signup_result.html", ok=False, message=exc.message), 400
    return render_template("portal/signup_result.html", ok=True,
                           message=_("Access to contract %(number)s is confirmed. %(name)s can now work with it "
                                     "in the customer portal.", number=access.contract.number,
                                     name=access.user.full_name or access.user.email))


@bp.route("/activate/<token>", methods=["GET", "POST"])
@public_route
def activate(token: str):
    """Activation link of a staff-created account (c): set the password from the next day, 5 days."""
    _require_enabled(SIGNUP_PAPER)
    try:
        _row, user = signup.find_activation(token)
    except ServiceError as exc:
        if exc.status == 404:
            abort(404)
        return render_template("portal/signup_result.html", ok=False, message=exc.message,
                               not_yet=exc.field == "not_yet"), 400 if exc.field != "not_yet" else 200
    form = ActivationForm()
    if form.validate_on_submit():
        try:
            signup.activate_account(token, form.password.data, form.password_repeat.data)
        except ServiceError as exc:
            _apply_error(form, exc)
        else:
            flash(_("The account is activated. Sign in with the login %(login)s and your new password.",
                    login=user.username), "success")
            return redirect(url_for("portal.login"))
    status = 400 if request.method == "POST" else 200
    return render_template("portal/signup_activate.html", form=form, user=user), status


@bp.context_processor
def _signup_links():
    return {"signup_enabled_methods": enabled_signup_methods}
