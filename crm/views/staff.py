"""The utility's own organisation: branches, curators and staff users."""
from __future__ import annotations

from flask import flash, g, redirect, url_for
from flask_appbuilder.actions import action
from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import FilterInFunction
from flask_appbuilder.security.sqla.models import Role
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from crm.extensions import db
from crm.models import CUSTOMER_ROLE, STAFF_ROLES, Branch, CrmUser, Curator, UserSession
from crm.views import choices as ch
from crm.views.common import CrmModelView, EagerSQLAInterface, ReadOnlyModelView, timestamp, yes_no
from crm.views.labels import labels

DIRECTORY = {"Curator": "read", "Billing operator": "read", "Auditor": "read"}


class CuratorView(CrmModelView):
    route_base = "/admin/curators"
    datamodel = EagerSQLAInterface(Curator)
    staff_access = DIRECTORY
    list_title = _l("Curators")
    show_title = _l("Curator")
    add_title = _l("Add curator")
    edit_title = _l("Edit curator")
    label_columns = labels(user=_l("Staff account"))
    list_columns = ["full_name", "position", "branch", "phone", "email"]
    show_columns = add_columns = edit_columns = ["full_name", "position", "branch", "phone", "email", "user"]
    search_columns = ["full_name", "position", "branch", "phone", "email"]
    base_order = ("full_name", "asc")
    # Only staff accounts may be linked to a curator, never a customer's.
    add_form_query_rel_fields = edit_form_query_rel_fields = {
        "user": [["id", FilterInFunction, lambda: staff_user_ids()]],
    }


class BranchView(CrmModelView):
    route_base = "/admin/branches"
    datamodel = EagerSQLAInterface(Branch)
    staff_access = DIRECTORY
    list_title = _l("Branches")
    show_title = _l("Branch")
    add_title = _l("Add branch")
    edit_title = _l("Edit branch")
    label_columns = labels()
    list_columns = ["code", "name", "address", "phone", "head_name"]
    show_columns = add_columns = edit_columns = ["code", "name", "address", "phone", "email", "head_name",
                                                 "head_phone", "working_hours"]
    search_columns = ["code", "name", "address", "phone", "head_name"]
    base_order = ("code", "asc")
    related_views = [CuratorView]


class StaffOnlyFilter(BaseFilter):
    """Users holding at least one staff role (customers share the same table)."""

    name = "Staff only"

    def apply(self, query, value):
        return query.filter(CrmUser.roles.any(Role.name.in_(value)))


def staff_user_ids() -> list[int]:
    """Ids of every user with a staff role (for selects that must not offer customers)."""
    return list(db.session.scalars(select(CrmUser.id).where(CrmUser.roles.any(Role.name.in_(STAFF_ROLES)))))


def _role_names(roles) -> str:
    return ", ".join(str(ch.STAFF_ROLE_LABELS.get(role.name, role.name)) for role in roles or [])


class UserSessionView(ReadOnlyModelView):
    """Sign-in sessions of one account (shown under a staff member or a customer account)."""

    route_base = "/admin/user-sessions"
    datamodel = EagerSQLAInterface(UserSession)
    staff_access: dict[str, str] = {}  # Admin only
    list_title = _l("Sessions")
    show_title = _l("Session")
    label_columns = labels(browser=_l("Browser"), os=_l("Operating system"), ip_address=_l("IP address"),
                           created_at=_l("Signed in"), last_seen_at=_l("Last active"), ended_at=_l("Ended"),
                           end_reason=_l("Reason"))
    list_columns = ["browser", "os", "ip_address", "created_at", "last_seen_at", "ended_at", "end_reason"]
    show_columns = ["user", *list_columns]
    base_order = ("last_seen_at", "desc")
    formatters_columns = {"created_at": timestamp, "last_seen_at": timestamp, "ended_at": timestamp}


class EndSessionsMixin:
    """The "end sessions" action: every open session of the selected accounts is signed out."""

    @action("end_sessions", _l("End sessions"), _l("Sign the selected accounts out everywhere?"), "fa-sign-out")
    def end_sessions(self, items):
        from crm.services import sessions

        single = not isinstance(items, list)
        items = [items] if single else items
        actor = g.user if getattr(g, "user", None) is not None and g.user.is_authenticated else None
        ended = sum(sessions.end_all(item.id, sessions.ENDED_BY_ADMIN, actor=actor) for item in items if item)
        flash(gettext("Sessions ended: %(count)d", count=ended), "success")
        if single and items[0] is not None:
            return redirect(url_for(f"{type(self).__name__}.show", pk=items[0].id))
        return redirect(url_for(f"{type(self).__name__}.list"))


class StaffUserView(EndSessionsMixin, CrmModelView):
    """Staff accounts only; new accounts and passwords are managed in Security → List Users."""

    route_base = "/admin/staff"
    datamodel = EagerSQLAInterface(CrmUser)
    staff_access: dict[str, str] = {}  # Admin only
    base_permissions = ["can_list", "can_show", "can_edit", "can_end_sessions"]
    include_route_methods = {"list", "show", "edit", "action", "action_post"}
    related_views = [UserSessionView]
    base_filters = [["id", StaffOnlyFilter, STAFF_ROLES]]
    list_title = _l("Staff")
    show_title = _l("Staff member")
    edit_title = _l("Edit staff member")
    label_columns = labels()
    list_columns = ["username", "last_name", "first_name", "email", "roles", "active", "last_login"]
    search_columns = ["username", "last_name", "first_name", "email", "roles", "active"]
    base_order = ("username", "asc")
    show_columns = ["username", "last_name", "first_name", "patronymic", "email", "phone", "position", "roles",
                    "active", "last_login", "login_count", "created_on"]
    edit_columns = ["last_name", "first_name", "patronymic", "email", "phone", "position", "roles", "active"]
    formatters_columns = {"roles": _role_names, "active": yes_no, "last_login": timestamp, "created_on": timestamp}
    edit_form_query_rel_fields = {"roles": [["name", FilterInFunction, lambda: list(STAFF_ROLES)]]}


class CustomerOnlyFilter(BaseFilter):
    """Users holding the Customer role."""

    name = "Customers only"

    def apply(self, query, value):
        return query.filter(CrmUser.roles.any(Role.name == value))


class CustomerAccountView(EndSessionsMixin, ReadOnlyModelView):
    """Customers' portal accounts: read-only here; Admin ends their sessions (unblocking comes with
    the contracts-and-roles work)."""

    route_base = "/admin/customer-accounts"
    datamodel = EagerSQLAInterface(CrmUser)
    staff_access: dict[str, str] = {}  # Admin only
    base_permissions = ["can_list", "can_show", "can_end_sessions"]
    base_filters = [["id", CustomerOnlyFilter, CUSTOMER_ROLE]]
    list_title = _l("Customer accounts")
    show_title = _l("Customer account")
    label_columns = labels(blocked_reason=_l("Blocked"), deleted_at=_l("Deleted"),
                           email_confirmed_at=_l("E-mail confirmed"))
    list_columns = ["username", "email", "last_name", "first_name", "active", "blocked_reason", "last_login"]
    search_columns = ["username", "email", "last_name", "first_name", "inn", "active"]
    show_columns = ["username", "email", "email_confirmed_at", "last_name", "first_name", "patronymic", "phone",
                    "organisation", "position", "inn", "active", "blocked_reason", "deleted_at", "last_login",
                    "login_count", "created_on"]
    base_order = ("username", "asc")
    formatters_columns = {"active": yes_no, "last_login": timestamp, "created_on": timestamp,
                          "email_confirmed_at": timestamp, "deleted_at": timestamp}
    related_views = [UserSessionView]


def register_account_views(appbuilder) -> None:
    """Customer accounts (menu Customers) and the sessions list shown under an account."""
    appbuilder.add_view(CustomerAccountView, "Customer accounts", label=_l("Customer accounts"), icon="fa-user",
                        category="Customers", category_label=_l("Customers"), category_icon="fa-users")
    appbuilder.add_view_no_menu(UserSessionView)
