"""FAB security manager extended for one user table shared by staff and customers."""
from __future__ import annotations

from flask import g, has_request_context
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security.sqla.models import (
    Permission,
    PermissionView,
    ViewMenu,
    assoc_permissionview_role,
)
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from crm.models.user import CrmUser


class CrmSecurityManager(SecurityManager):
    """Uses our extended user model and answers permission checks from one query per request.

    FAB asks the database once per permission check and once per menu item (20–45 statements
    on every back-office page). The permissions of a set of roles cannot change within a
    request that only reads them, so they are loaded once and kept on `flask.g`.
    """

    user_model = CrmUser

    def _role_permissions(self, role_ids: list[int]) -> frozenset[tuple[str, str]]:
        key = tuple(sorted(role_ids))
        cache = g.setdefault("_crm_role_permissions", {}) if has_request_context() else {}
        if key not in cache:
            rows = self.session.execute(
                select(Permission.name, ViewMenu.name)
                .select_from(PermissionView)
                .join(assoc_permissionview_role,
                      assoc_permissionview_role.c.permission_view_id == PermissionView.id)
                .join(Permission, Permission.id == PermissionView.permission_id)
                .join(ViewMenu, ViewMenu.id == PermissionView.view_menu_id)
                .where(assoc_permissionview_role.c.role_id.in_(key))
            )
            cache[key] = frozenset((permission, view) for permission, view in rows)
        return cache[key]

    def load_user(self, pk):
        # Flask-Login loads the user on every request; nearly every request reads its roles (staff or
        # customer?) and checks the browser's session row: all three in one statement.
        from crm.services import sessions

        user = sessions.load_user(self.user_model, int(pk))
        if user and user.is_active:
            return user
        return None

    def get_user_by_id(self, pk):
        return self.session.get(self.user_model, pk, options=[joinedload(self.user_model.roles)])

    def exist_permission_on_roles(self, view_name: str, permission_name: str, role_ids: list[int]) -> bool:
        return (permission_name, view_name) in self._role_permissions(role_ids)

    def get_user_menu_access(self, menu_names: list[str] | None = None) -> set[str]:
        if not current_user.is_authenticated:
            return super().get_user_menu_access(menu_names)
        roles = self.get_user_roles(g.user)
        role_ids = [role.id for role in roles if role.name not in self.builtin_roles]
        if len(role_ids) != len(roles):
            return super().get_user_menu_access(menu_names)
        wanted = set(menu_names or [])
        return {view for permission, view in self._role_permissions(role_ids)
                if permission == "menu_access" and (not menu_names or view in wanted)}
