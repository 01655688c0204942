"""Back-office views: notifications_admin."""
from __future__ import annotations


def register_notification_views(appbuilder) -> None:
    """Add this area's views to `appbuilder` (called by crm.views.register_views)."""
