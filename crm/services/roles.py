"""FAB roles for staff and customers, derived from what each view declares.

A back-office view says who may use it with a class attribute, e.g.
`staff_access = {"Curator": "edit", "Auditor": "read"}`; levels are "read" (list, show,
download, menu), "edit" (read + add, edit and actions; not delete: removing billing data is
rare and belongs to Admin) and "full" (everything the view offers). Admin gets every permission (FAB's own
rule for AUTH_ROLE_ADMIN). The Customer role gets no back-office permission at all.
"""
from __future__ import annotations

from crm.extensions import db
from crm.models.user import CUSTOMER_ROLE, STAFF_ROLES

READ_PERMISSIONS = {"can_list", "can_show", "can_get", "can_info", "can_download", "menu_access",
                    "can_export", "can_this_form_get"}


DELETE_PERMISSIONS = {"can_delete"}


def _allowed(level: str, permission: str) -> bool:
    if level == "full":
        return True
    if level == "edit":
        return permission not in DELETE_PERMISSIONS
    return permission in READ_PERMISSIONS or permission.startswith("can_read")


def sync_roles(appbuilder) -> None:
    """Create every permission and (re)build the staff and customer roles from the views."""
    sm = appbuilder.sm
    sm.add_role(sm.auth_role_admin)
    sm.add_role(sm.auth_role_public)
    appbuilder.add_permissions(update_perms=True)
    wanted: dict[str, set[tuple[str, str]]] = {name: set() for name in STAFF_ROLES if name != "Admin"}
    menu_categories: dict[str, set[str]] = {name: set() for name in wanted}
    for view in appbuilder.baseviews:
        access = getattr(view, "staff_access", None) or {}
        view_name = view.class_permission_name
        for role_name, level in access.items():
            if role_name not in wanted:
                continue
            for permission in view.base_permissions or []:
                if _allowed(level, permission):
                    wanted[role_name].add((permission, view_name))
    for item in appbuilder.menu.get_list():
        for child in item.childs or []:
            access = getattr(child.baseview, "staff_access", None) or {}
            for role_name in access:
                if role_name in wanted:
                    wanted[role_name].add(("menu_access", child.name))
                    menu_categories[role_name].add(item.name)
    for role_name in wanted:
        for category in menu_categories[role_name]:
            wanted[role_name].add(("menu_access", category))
        # Everyone on staff may change their own password and see their profile.
        for permission, view_name in (("can_userinfo", "UserDBModelView"), ("resetmypassword", "UserDBModelView"),
                                      ("can_this_form_get", "ResetMyPasswordView"),
                                      ("can_this_form_post", "ResetMyPasswordView")):
            wanted[role_name].add((permission, view_name))
    for role_name, pairs in wanted.items():
        role = sm.add_role(role_name) or sm.find_role(role_name)
        permission_views = []
        for permission, view_name in sorted(pairs):
            pv = sm.find_permission_view_menu(permission, view_name)
            if pv is not None:
                permission_views.append(pv)
        role.permissions = permission_views
    customer = sm.add_role(CUSTOMER_ROLE) or sm.find_role(CUSTOMER_ROLE)
    customer.permissions = []
    db.session.commit()
