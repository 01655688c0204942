"""The billing-integration REST API under /api/v1 (SPEC B9, DESIGN `crm/api`).

Every resource is a `BillingApi` (FAB `BaseApi`) whose methods are guarded by `token_required(scope)`:
a bearer token from `ApiToken`, not a browser session, so a signed-in customer or staff member gets 401.
The OpenAPI document of all of them is public at `/api/v1/openapi.json` (FAB's own `_openapi` endpoint
needs a staff session, which a billing system does not have).
"""
from __future__ import annotations

from crm.api.base import BillingApi, OpenApiDocument, PingApi, token_required  # noqa: F401

#: every API class; each issue adds its resources here
API_CLASSES: list[type] = [OpenApiDocument, PingApi]

from crm.api.readings import ReadingsApi  # noqa: E402  (issue 4: readings for billing)

API_CLASSES.append(ReadingsApi)

from crm.api.billing import BILLING_API_CLASSES  # noqa: E402  (issue 5: billing records by external id)

API_CLASSES.extend(BILLING_API_CLASSES)


def register_api(appbuilder) -> None:
    """Add every billing API resource to the app (called from `crm.views.register_views`)."""
    for api_class in API_CLASSES:
        appbuilder.add_api(api_class)
