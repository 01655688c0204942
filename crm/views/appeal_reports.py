"""Back-office views: appeal_reports."""
from __future__ import annotations


def register_appeal_report_views(appbuilder) -> None:
    """Add this area's views to `appbuilder` (called by crm.views.register_views)."""
