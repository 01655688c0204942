"""Billing API tokens (SPEC B9), Admin only: issue (the secret is shown once), list, revoke."""
from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import select

from crm.extensions import db
from crm.models import ApiToken
from crm.services import api_tokens


class ApiTokenView(BaseView):
    """Tokens of the billing integration."""

    route_base = "/admin/api-tokens"
    default_view = "list"
    staff_access: dict[str, str] = {}   # Admin only: a token reads and writes billing data
    method_permission_name = {"list": "list", "issue": "issue", "revoke": "revoke"}

    def _list(self, form_errors: dict | None = None, name: str = "", scopes=()):
        tokens = db.session.scalars(select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())).all()
        return self.render_template("api_tokens/list.html", tokens=tokens, scopes=api_tokens.SCOPES,
                                    form_errors=form_errors or {}, name=name, chosen=set(scopes))

    @expose("/")
    @has_access
    def list(self):
        """Every token (name, prefix, scopes, created, last used, revoked) and the form to issue one."""
        return self._list()

    @expose("/issue", methods=["POST"])
    @has_access
    def issue(self):
        """Issue a token; the next page shows its secret once."""
        name, scopes = request.form.get("name", ""), request.form.getlist("scopes")
        try:
            token, secret = api_tokens.issue_token(name, scopes, created_by_id=current_user.id)
        except api_tokens.ApiTokenError as error:
            return self._list({error.field or "name": error.message}, name=name[:128], scopes=scopes), 400
        response = self.render_template("api_tokens/issued.html", token=token, secret=secret)
        return response, 200, {"Cache-Control": "no-store"}

    @expose("/<int:token_id>/revoke", methods=["POST"])
    @has_access
    def revoke(self, token_id: int):
        """Revoke a token for good."""
        try:
            token = api_tokens.revoke_token(token_id)
        except api_tokens.ApiTokenError as error:
            flash(error.message, "danger")
        else:
            flash(gettext("Token “%(name)s” revoked.", name=token.name), "success")
        return redirect(url_for("ApiTokenView.list"))
