"""Back-office views: appeals_desk."""
from __future__ import annotations


def register_appeals_desk_views(appbuilder) -> None:
    """Add this area's views to `appbuilder` (called by crm.views.register_views)."""
