"""Portal sign-in and sign-out."""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from customer_portal import bp
from customer_portal.forms import SignInForm


def _safe_next(target: str | None) -> str | None:
    if target and target.startswith("/portal/") and not target.startswith("//"):
        return target
    return None


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("portal.index"))
    form = SignInForm()
    if form.validate_on_submit():
        sm = current_app.appbuilder.sm
        user = sm.auth_user_db(form.login.data.strip(), form.password.data)
        if user is None:
            flash(_("Wrong login or password."), "danger")
        else:
            login_user(user, remember=form.remember_me.data)
            return redirect(_safe_next(request.args.get("next")) or url_for("portal.index"))
    status = 400 if request.method == "POST" else 200
    return render_template("portal/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    flash(_("You have signed out."), "info")
    return redirect(url_for("portal.login"))
