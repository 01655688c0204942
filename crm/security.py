"""FAB security manager extended for one user table shared by staff and customers."""
from __future__ import annotations

from flask_appbuilder.security.sqla.manager import SecurityManager

from crm.models.user import CrmUser


class CrmSecurityManager(SecurityManager):
    """Uses our extended User model; FAB's permission machinery stays as it is."""

    user_model = CrmUser
