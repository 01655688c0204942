"""Back-office views: appeals_config."""
from __future__ import annotations


def register_appeal_config_views(appbuilder) -> None:
    """Add this area's views to `appbuilder` (called by crm.views.register_views)."""
