"""Back office for contract roles (SPEC B5): grant and revoke a contract's administrator (Admin only),
see every user of a contract, unblock customer accounts. The rules live in crm.services.contract_access.
"""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_appbuilder import BaseView, expose
from flask_appbuilder.actions import action
from flask_appbuilder.models.sqla.filters import BaseFilter
from flask_appbuilder.security.decorators import has_access
from flask_appbuilder.security.sqla.models import Role
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import or_, select

from crm.extensions import db
from crm.models import CUSTOMER_ROLE, Contract, CrmUser
from crm.services import ServiceError
from crm.services import contract_access as access_service
from crm.views.common import CrmModelView, EagerSQLAInterface, timestamp, yes_no
from crm.views.labels import labels


class ContractAdministratorView(BaseView):
    """One contract's users and roles, with the administrator granted or revoked by staff."""

    route_base = "/admin/contract-roles"
    default_view = "index"
    staff_access: dict[str, str] = {}  # Admin only: granting the administrator role is an Admin's act

    @expose("/", methods=["GET"])
    @has_access
    def index(self):
        """Find a contract by its number."""
        number = (request.args.get("number") or "").strip()
        if number:
            contract = db.session.scalars(select(Contract).where(Contract.number == number)).first()
            if contract is not None:
                return redirect(url_for("ContractAdministratorView.contract", contract_id=contract.id))
            flash(gettext("Contract %(number)s was not found.", number=number), "warning")
        return self.render_template("admin/access_contract_find.html", number=number)

    @expose("/<int:contract_id>", methods=["GET", "POST"])
    @has_access
    def contract(self, contract_id: int):
        """The contract's users with roles and scopes; grant or revoke its administrator."""
        contract = db.session.get(Contract, contract_id)
        if contract is None:
            abort(404)
        email = ""
        if request.method == "POST":
            operation = request.form.get("operation")
            email = (request.form.get("email") or "").strip()
            try:
                if operation == "grant":
                    access = access_service.grant_administrator(contract, email, actor=current_user)
                    flash(gettext("%(email)s is now the administrator of contract %(number)s.",
                                  email=access.user.email, number=contract.number), "success")
                    return redirect(url_for("ContractAdministratorView.contract", contract_id=contract.id))
                if operation == "revoke":
                    if request.form.get("confirm") != "1":
                        raise ServiceError(gettext("Tick the box to confirm revoking the administrator role."))
                    access_service.revoke_administrator(contract, actor=current_user)
                    flash(gettext("Contract %(number)s has no administrator now.", number=contract.number), "success")
                    return redirect(url_for("ContractAdministratorView.contract", contract_id=contract.id))
                abort(400)
            except ServiceError as exc:
                db.session.rollback()
                flash(exc.message, "danger")
        return self.render_template(
            "admin/access_contract.html", contract=contract, rows=access_service.contract_users(contract.id),
            administrator=access_service.administrator_of(contract.id), email=email,
            role_label=access_service.role_label, timestamp=timestamp)


class BlockedCustomerFilter(BaseFilter):
    """Customer accounts that cannot sign in (blocked or deactivated)."""

    name = "Blocked customers"

    def apply(self, query, value):
        return query.filter(CrmUser.roles.any(Role.name == CUSTOMER_ROLE),
                            or_(CrmUser.active.is_(False), CrmUser.blocked_reason.is_not(None)))


class BlockedAccountView(CrmModelView):
    """Blocked customer accounts, with the "unblock" action (active again, reason cleared, audited)."""

    route_base = "/admin/blocked-accounts"
    datamodel = EagerSQLAInterface(CrmUser)
    staff_access: dict[str, str] = {}  # Admin only
    base_permissions = ["can_list", "can_show"]
    include_route_methods = {"list", "show", "action", "action_post"}
    base_filters = [["id", BlockedCustomerFilter, None]]
    list_title = _l("Blocked accounts")
    show_title = _l("Blocked account")
    label_columns = labels(blocked_reason=_l("Reason for blocking"))
    list_columns = ["username", "email", "last_name", "first_name", "active", "blocked_reason", "last_login"]
    show_columns = ["username", "email", "last_name", "first_name", "patronymic", "phone", "inn", "active",
                    "blocked_reason", "last_login", "created_on"]
    search_columns = ["username", "email", "last_name", "inn"]
    base_order = ("username", "asc")
    formatters_columns = {"active": yes_no, "last_login": timestamp, "created_on": timestamp}

    @action("unblock", _l("Unblock"), _l("Unblock the selected accounts?"), "fa-unlock")
    def unblock(self, items):
        """Let the selected customers sign in again."""
        single = not isinstance(items, list)
        items = [items] if single else items
        done = sum(1 for item in items if item is not None and access_service.unblock_account(item, actor=current_user))
        if done:
            flash(gettext("Accounts unblocked: %(count)d", count=done), "success")
        else:
            flash(gettext("The selected accounts were not blocked."), "warning")
        return redirect(url_for("BlockedAccountView.list"))


def register_access_views(appbuilder) -> None:
    """Add the B5 views to the Customers menu (one call from crm.views.register_views)."""
    appbuilder.add_view(ContractAdministratorView, "Contract administrators", label=_l("Contract administrators"),
                        icon="fa-user-secret", category="Customers")
    appbuilder.add_view(BlockedAccountView, "Blocked accounts", label=_l("Blocked accounts"), icon="fa-lock",
                        category="Customers")
