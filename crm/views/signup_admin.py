"""Back office for sign-up (SPEC C1): which methods are enabled (Admin), accounts from paper
applications (c) and temporary passwords (d) (Admin, Curator). Thin: parse → service → render."""
from __future__ import annotations

import re

from flask import flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from crm.services import ServiceError, signup
from crm.services.settings import (
    SIGNUP_METHOD_LABELS,
    SIGNUP_METHODS,
    enabled_signup_methods,
    set_enabled_signup_methods,
)

STAFF_SIGNUP_ACCESS = {"Curator": "edit"}


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _apply_error(form, error: ServiceError) -> None:
    field = getattr(form, error.field, None) if error.field else None
    if field is None:
        flash(error.message, "danger")
    else:
        field.errors = list(field.errors or []) + [error.message]


class SignupSettingsForm(FlaskForm):
    """Switches for the enabled sign-up methods; one BooleanField per method is added below."""


for _method in SIGNUP_METHODS:
    setattr(SignupSettingsForm, f"method_{_method}", BooleanField(SIGNUP_METHOD_LABELS[_method]))


class PaperApplicationForm(FlaskForm):
    """The fields of the paper application [002]."""

    inn = StringField(_l("INN"), filters=[_strip], validators=[DataRequired(message=_l("Enter the INN.")),
                                                                Length(max=12)])
    organisation = StringField(_l("Organisation (full name)"), filters=[_strip],
                               validators=[DataRequired(message=_l("Enter the organisation name.")), Length(max=255)])
    email = StringField(_l("E-mail for the login and the activation link"), filters=[_strip],
                        validators=[DataRequired(message=_l("Enter an e-mail address.")), Length(max=320)])
    last_name = StringField(_l("Contact person: last name"), filters=[_strip], validators=[Optional(), Length(max=64)])
    first_name = StringField(_l("Contact person: first name"), filters=[_strip],
                             validators=[Optional(), Length(max=64)])
    patronymic = StringField(_l("Contact person: patronymic"), filters=[_strip],
                             validators=[Optional(), Length(max=64)])
    phone = StringField(_l("Contact person's phone"), filters=[_strip], validators=[Optional(), Length(max=32)])
    contracts = TextAreaField(_l("Contract numbers to bind (one per line)"), validators=[Optional()],
                              render_kw={"rows": 3})


class TemporaryPasswordForm(FlaskForm):
    inn = StringField(_l("INN"), filters=[_strip], validators=[DataRequired(message=_l("Enter the INN.")),
                                                                Length(max=12)])
    email = StringField(_l("E-mail (login)"), filters=[_strip],
                        validators=[DataRequired(message=_l("Enter an e-mail address.")), Length(max=320)])
    last_name = StringField(_l("Last name"), filters=[_strip], validators=[Optional(), Length(max=64)])
    first_name = StringField(_l("First name"), filters=[_strip], validators=[Optional(), Length(max=64)])
    organisation = StringField(_l("Organisation"), filters=[_strip], validators=[Optional(), Length(max=255)])
    send_email = BooleanField(_l("Send the password to the e-mail"), default=True)


class SignupSettingsView(BaseView):
    """Which sign-up methods the portal offers (Admin only)."""

    route_base = "/admin/signup/settings"
    default_view = "edit"
    staff_access: dict[str, str] = {}

    @expose("/", methods=["GET", "POST"])
    @has_access
    def edit(self):
        """Switch sign-up methods on and off."""
        form = SignupSettingsForm()
        if request.method == "GET":
            enabled = enabled_signup_methods()
            for method in SIGNUP_METHODS:
                getattr(form, f"method_{method}").data = method in enabled
        elif form.validate_on_submit():
            chosen = [method for method in SIGNUP_METHODS if getattr(form, f"method_{method}").data]
            set_enabled_signup_methods(chosen, actor=current_user)
            flash(gettext("Sign-up settings saved."), "success")
            return redirect(url_for("SignupSettingsView.edit"))
        fields = [getattr(form, f"method_{method}") for method in SIGNUP_METHODS]
        return self.render_template("admin/signup_settings.html", form=form, fields=fields)


class PaperApplicationView(BaseView):
    """Create a customer account from a signed paper application (method c)."""

    route_base = "/admin/signup/application"
    default_view = "create"
    staff_access = STAFF_SIGNUP_ACCESS

    @expose("/", methods=["GET", "POST"])
    @has_access
    def create(self):
        """The application form; on success the activation e-mail is queued."""
        form = PaperApplicationForm()
        if form.validate_on_submit():
            numbers = [n for n in re.split(r"[\s,;]+", form.contracts.data or "") if n]
            try:
                user = signup.create_account_from_application(
                    actor=current_user, inn=form.inn.data, organisation=form.organisation.data,
                    email=form.email.data, last_name=form.last_name.data, first_name=form.first_name.data,
                    patronymic=form.patronymic.data, phone=form.phone.data, contract_numbers=numbers)
            except ServiceError as error:
                _apply_error(form, error)
            else:
                return self.render_template("admin/signup_application_done.html", user=user,
                                            numbers=numbers)
        return self.render_template("admin/signup_application.html", form=form)


class TemporaryPasswordView(BaseView):
    """Issue a temporary password (method d); it is shown once and optionally e-mailed."""

    route_base = "/admin/signup/temporary-password"
    default_view = "issue"
    staff_access = STAFF_SIGNUP_ACCESS

    @expose("/", methods=["GET", "POST"])
    @has_access
    def issue(self):
        """Create the account or reset a customer's password to a temporary one."""
        form = TemporaryPasswordForm()
        if form.validate_on_submit():
            try:
                user, password = signup.issue_temporary_password(
                    actor=current_user, inn=form.inn.data, email=form.email.data, last_name=form.last_name.data,
                    first_name=form.first_name.data, organisation=form.organisation.data,
                    send_email=bool(form.send_email.data))
            except ServiceError as error:
                _apply_error(form, error)
            else:
                response = self.render_template("admin/signup_temporary_done.html", user=user, password=password,
                                                mailed=bool(form.send_email.data))
                return response, 200, {"Cache-Control": "no-store"}
        return self.render_template("admin/signup_temporary.html", form=form)


def register_signup_views(appbuilder) -> None:
    """Back-office sign-up views, and the portal's sign-up routes (they attach to the portal blueprint)."""
    import customer_portal.signup  # noqa: F401

    customers = {"category": "Customers", "category_label": _l("Customers"), "category_icon": "fa-users"}
    appbuilder.add_view(PaperApplicationView, "Account from application", label=_l("Account from application"),
                        icon="fa-file-text", **customers)
    appbuilder.add_view(TemporaryPasswordView, "Temporary password", label=_l("Temporary password"),
                        icon="fa-key", **customers)
    appbuilder.add_view(SignupSettingsView, "Sign-up settings", label=_l("Sign-up settings"), icon="fa-sliders",
                        category="Security", category_label=_l("Security"), category_icon="fa-cogs")
