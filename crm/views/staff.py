"""The utility's own organisation: branches, curators and staff users."""
from __future__ import annotations

from flask_appbuilder.models.filters import BaseFilter
from flask_appbuilder.models.sqla.filters import FilterInFunction
from flask_appbuilder.security.sqla.models import Role
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from crm.extensions import db
from crm.models import STAFF_ROLES, Branch, CrmUser, Curator
from crm.views import choices as ch
from crm.views.common import CrmModelView, EagerSQLAInterface, timestamp, yes_no
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


class StaffUserView(CrmModelView):
    """Staff accounts only; new accounts and passwords are managed in Security → List Users."""

    route_base = "/admin/staff"
    datamodel = EagerSQLAInterface(CrmUser)
    staff_access: dict[str, str] = {}  # Admin only
    base_permissions = ["can_list", "can_show", "can_edit"]
    include_route_methods = {"list", "show", "edit"}
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
