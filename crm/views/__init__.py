"""Back-office views (Flask-AppBuilder); register_views() holds every add_view."""
from __future__ import annotations


def register_views(appbuilder) -> None:
    """Register every back-office view and API on `appbuilder`."""
    from crm.views import contracts  # noqa: F401  (modules register in their own function)

    contracts.register(appbuilder)
