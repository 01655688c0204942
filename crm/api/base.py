"""Token authentication, the base class of billing resources, and the public OpenAPI document."""
from __future__ import annotations

import functools

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app, g, request
from flask_appbuilder.api import BaseApi, expose
from flask_appbuilder.api.manager import resolver
from flask_babel import gettext as _

from crm.extensions import db
from crm.services import api_tokens

BEARER = "bearerAuth"


def token_required(scope: str):
    """Guard an API method: a live bearer token with `scope`, else 401 (no/unknown token) or 403 (scope)."""
    if scope not in api_tokens.SCOPES:
        raise ValueError(f"unknown API scope {scope!r}")

    def decorator(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            header = request.headers.get("Authorization", "")
            secret = header[7:].strip() if header[:7].lower() == "bearer " else None
            token = api_tokens.authenticate(secret)
            if token is None:
                db.session.rollback()
                response = self.response(401, message=_("A valid API token is required (Authorization: Bearer …)."))
                response.headers["WWW-Authenticate"] = 'Bearer realm="crm"'
                return response
            if scope not in (token.scopes or []):
                db.session.rollback()
                return self.response(403, message=_("This token has no “%(scope)s” scope.", scope=scope))
            db.session.commit()          # last_used_at
            g.api_token = token
            return method(self, *args, **kwargs)

        wrapper._api_scope = scope
        return wrapper

    return decorator


class BillingApi(BaseApi):
    """Base of every billing resource: version v1, no browser sessions, listed in the OpenAPI document."""

    version = "v1"
    allow_browser_login = False


class PingApi(BillingApi):
    """Lets an integrator check a token before wiring anything else."""

    resource_name = "ping"
    openapi_spec_tag = "Integration"

    @expose("/", methods=["GET"])
    @token_required("readings")
    def ping(self):
        """Check a token that has the `readings` scope.
        ---
        get:
          summary: Check the token
          security:
          - bearerAuth: []
          responses:
            200:
              description: The token's name and scopes
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      name: {type: string}
                      scopes: {type: array, items: {type: string}}
            401:
              description: No valid token
        """
        return self.response(200, name=g.api_token.name, scopes=g.api_token.scopes)


class OpenApiDocument(BaseApi):
    """`GET /api/v1/openapi.json`: the OpenAPI 3 document of every `BillingApi`, with bearer security."""

    route_base = "/api/v1"
    resource_name = "openapi"

    @expose("/openapi.json", methods=["GET"])
    def document(self):
        """The OpenAPI document (public: it describes, it gives no access)."""
        spec = APISpec(title=_("Utility CRM billing API"), version="v1", openapi_version="3.0.2",
                       info={"description": _("Upserts by external id and exports for the billing system. "
                                              "Authenticate with `Authorization: Bearer <token>`.")},
                       plugins=[MarshmallowPlugin(schema_name_resolver=resolver)],
                       servers=[{"url": request.host_url.rstrip("/")}])
        spec.components.security_scheme(BEARER, {"type": "http", "scheme": "bearer"})
        for view in current_app.appbuilder.baseviews:
            if isinstance(view, BillingApi):
                view.add_api_spec(spec)
        return self.response(200, **spec.to_dict())
