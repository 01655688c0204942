"""Profile (SPEC C4) and sessions (C3): thin routes over crm.services.accounts and sessions."""
from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from crm.extensions import db
from crm.services import ServiceError, accounts, sessions
from crm.services.codes import CodeError
from crm.services.throttle import TooManyAttemptsError
from crm.web import reset_session
from customer_portal import account_route, bp
from customer_portal.auth import too_many
from customer_portal.context import portal_grants
from customer_portal.forms import (
    ChangePasswordForm,
    CodeForm,
    DeleteAccountForm,
    EmailChangeForm,
    EmptyForm,
    PersonalDataForm,
    PhoneForm,
    SecondFactorForm,
)


def _forms(**given):
    user = current_user
    forms = {
        "personal_form": PersonalDataForm(obj=user, formdata=None),
        "phone_form": PhoneForm(obj=user, formdata=None),
        "email_form": EmailChangeForm(formdata=None),
        "email_code_form": CodeForm(formdata=None, prefix="change"),
        "confirm_code_form": CodeForm(formdata=None, prefix="confirm"),
        "second_factor_form": SecondFactorForm(formdata=None, enabled=user.second_factor_enabled),
        "button_form": EmptyForm(formdata=None),
    }
    forms.update(given)
    return forms


def _render(status: int = 200, **given):
    grants = portal_grants()
    notification_errors = given.pop("notification_errors", {})
    return render_template(
        "portal/profile.html", **_forms(**given),
        pending_email=accounts.pending_email_change(current_user),
        settings=accounts.notification_settings(current_user),
        notification_errors=notification_errors,
        contracts=[grant.contract for grant in grants], remind_days=list(accounts.REMIND_DAYS),
    ), status


def _apply_errors(form, exc: accounts.ValidationError, default_field: str) -> None:
    for field, messages in exc.problems.items():
        target = getattr(form, field, None) or getattr(form, default_field)
        target.errors = list(target.errors or []) + list(messages)


@bp.route("/profile/")
@account_route
def profile():
    """Personal data, contacts, notifications, second factor, password and deletion links."""
    return _render()


@bp.route("/profile/personal", methods=["POST"])
@account_route
def profile_personal():
    form = PersonalDataForm()
    if form.validate_on_submit():
        try:
            accounts.update_personal(current_user, form.data)
        except accounts.ValidationError as exc:
            db.session.rollback()
            _apply_errors(form, exc, "last_name")
        else:
            flash(_("Personal data saved."), "success")
            return redirect(url_for("portal.profile"))
    return _render(400, personal_form=form)


@bp.route("/profile/phone", methods=["POST"])
@account_route
def profile_phone():
    form = PhoneForm()
    if form.validate_on_submit():
        try:
            accounts.update_phone(current_user, form.phone.data)
        except accounts.ValidationError as exc:
            db.session.rollback()
            _apply_errors(form, exc, "phone")
        else:
            flash(_("Phone number saved."), "success")
            return redirect(url_for("portal.profile"))
    return _render(400, phone_form=form)


@bp.route("/profile/email/confirm/send", methods=["POST"])
@account_route
def email_confirm_send():
    """Mail a code that confirms the current address (the banner's and the profile's button)."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        accounts.send_email_confirmation(current_user)
        flash(_("We sent a code to %(email)s. Enter it below.", email=current_user.email), "success")
    except ServiceError as exc:
        db.session.rollback()
        flash(exc.message, "warning")
    return redirect(url_for("portal.profile", _anchor="contacts"))


@bp.route("/profile/email/confirm", methods=["POST"])
@account_route
def email_confirm():
    form = CodeForm(prefix="confirm")
    if form.validate_on_submit():
        try:
            accounts.confirm_email(current_user, form.code.data)
        except TooManyAttemptsError as exc:
            return too_many(exc)
        except CodeError as exc:
            db.session.rollback()
            form.code.errors.append(exc.message)
        else:
            flash(_("Your e-mail address is confirmed."), "success")
            return redirect(url_for("portal.profile"))
    return _render(400, confirm_code_form=form)


@bp.route("/profile/email", methods=["POST"])
@account_route
def email_change():
    """Start changing the e-mail: a code goes to the new address."""
    form = EmailChangeForm()
    if form.validate_on_submit():
        try:
            email = accounts.start_email_change(current_user, form.email.data)
        except TooManyAttemptsError as exc:
            return too_many(exc)
        except accounts.ValidationError as exc:
            db.session.rollback()
            _apply_errors(form, exc, "email")
        except ServiceError as exc:
            db.session.rollback()
            form.email.errors.append(exc.message)
        else:
            flash(_("We sent a code to %(email)s. The address changes when you enter it.", email=email), "success")
            return redirect(url_for("portal.profile", _anchor="contacts"))
    return _render(400, email_form=form)


@bp.route("/profile/email/code", methods=["POST"])
@account_route
def email_change_confirm():
    form = CodeForm(prefix="change")
    if form.validate_on_submit():
        try:
            email = accounts.confirm_email_change(current_user, form.code.data)
        except TooManyAttemptsError as exc:
            return too_many(exc)
        except accounts.ValidationError as exc:
            db.session.rollback()
            form.code.errors.extend(m for ms in exc.problems.values() for m in ms)
        except CodeError as exc:
            db.session.rollback()
            form.code.errors.append(exc.message)
        else:
            flash(_("Your e-mail address is now %(email)s.", email=email), "success")
            return redirect(url_for("portal.profile"))
    return _render(400, email_code_form=form)


@bp.route("/profile/email/cancel", methods=["POST"])
@account_route
def email_change_cancel():
    if not EmptyForm().validate_on_submit():
        abort(400)
    accounts.cancel_email_change(current_user)
    return redirect(url_for("portal.profile", _anchor="contacts"))


@bp.route("/profile/notifications", methods=["POST"])
@account_route
def profile_notifications():
    """Save the notification settings (stored now; honoured by the notifications issue)."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    contract_ids = [grant.contract.id for grant in portal_grants()]
    values = {key: request.form.get(key) for key in
              ("email", "marketing", "remind_open", "remind_close", "debt_emails", "bill_emails",
               "remind_open_days", "remind_close_days")}
    values["contracts"] = {str(cid): {"invoices": request.form.get(f"invoices_{cid}"),
                                      "payments": request.form.get(f"payments_{cid}")} for cid in contract_ids}
    try:
        accounts.update_notifications(current_user, values, contract_ids)
    except accounts.ValidationError as exc:
        db.session.rollback()
        return _render(400, notification_errors=exc.problems)
    flash(_("Notification settings saved."), "success")
    return redirect(url_for("portal.profile", _anchor="notifications"))


@bp.route("/profile/second-factor", methods=["POST"])
@account_route
def profile_second_factor():
    form = SecondFactorForm()
    if not form.validate_on_submit():
        abort(400)
    accounts.set_second_factor(current_user, bool(form.enabled.data))
    flash(_("Two-factor authentication is on.") if form.enabled.data
          else _("Two-factor authentication is off."), "success")
    return redirect(url_for("portal.profile", _anchor="security"))


@bp.route("/profile/password", methods=["GET", "POST"])
@account_route
def change_password():
    """Change the password (the current one required); offers to end the other sessions."""
    form = ChangePasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            ended = accounts.change_password(current_user, form.old_password.data, form.new_password.data,
                                             form.confirm.data, end_others=bool(form.end_other_sessions.data))
        except TooManyAttemptsError as exc:
            return too_many(exc)
        except accounts.ValidationError as exc:
            db.session.rollback()
            _apply_errors(form, exc, "new_password")
            status = 400
        else:
            message = _("The password has been changed.")
            if ended:
                message += " " + _("Other sessions ended: %(count)d.", count=ended)
            flash(message, "success")
            return redirect(url_for("portal.profile"))
    elif request.method == "POST":
        status = 400
    return render_template("portal/change_password.html", form=form,
                           forced=bool(current_user.must_change_password)), status


@bp.route("/profile/delete", methods=["GET", "POST"])
@account_route
def delete_account():
    """Delete the account after the password is confirmed."""
    form = DeleteAccountForm()
    status = 200
    if form.validate_on_submit():
        try:
            accounts.delete_account(current_user, form.password.data)
        except TooManyAttemptsError as exc:
            return too_many(exc)
        except accounts.ValidationError as exc:
            db.session.rollback()
            _apply_errors(form, exc, "password")
            status = 400
        else:
            reset_session()
            logout_user()
            g.user = current_user
            flash(_("Your account has been deleted."), "info")
            return redirect(url_for("portal.login"))
    elif request.method == "POST":
        status = 400
    return render_template("portal/profile_delete.html", form=form), status


@bp.route("/profile/sessions")
@account_route
def profile_sessions():
    """The user's open sessions: browser, system, address, times, "this session"."""
    return render_template("portal/sessions.html", sessions=sessions.list_for(current_user.id),
                           form=EmptyForm())


@bp.route("/profile/sessions/<int:session_id>/end", methods=["POST"])
@account_route
def session_end(session_id):
    """End one session; ending the current one signs out."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    current = next((s for s in sessions.list_for(current_user.id) if s.id == session_id), None)
    if current is None or not sessions.end(current_user.id, session_id, actor=current_user):
        abort(404)
    if current.current:
        reset_session()
        logout_user()
        g.user = current_user
        flash(_("You have signed out."), "info")
        return redirect(url_for("portal.login"))
    flash(_("The session has been ended."), "success")
    return redirect(url_for("portal.profile_sessions"))


@bp.route("/profile/sessions/end-others", methods=["POST"])
@account_route
def sessions_end_others():
    if not EmptyForm().validate_on_submit():
        abort(400)
    count = sessions.end_all(current_user.id, sessions.ENDED_BY_USER, except_token=sessions.current_token(),
                             actor=current_user)
    flash(_("Other sessions ended: %(count)d.", count=count), "success")
    return redirect(url_for("portal.profile_sessions"))
