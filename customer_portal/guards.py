"""Every portal route declares who may call it; the declaration is also what the checks run.

    @bp.route("/contracts/<int:contract_id>/readings")
    @contract_route(Capability.VIEW_READINGS)
    def readings(grant, contract_id): ...

- `public_route`: anyone (sign-in, sign-up, language);
- `account_route`: any signed-in user (profile, the list of their contracts);
- `contract_route(capability)`: a signed-in user whose role on the contract in the path has the
  capability (SPEC C6). No role → 404 (the contract's existence is not revealed), a role without
  the capability → 403. An `object_id` in the path must be inside the user's object scope (404).

`ROUTE_RULES` maps endpoint → rule; tests/integration/test_authz.py enumerates the app's portal
routes and fails for any route without a rule, then checks each rule for every role.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

from flask import abort
from flask_login import login_required

from crm.access import Capability, ContractGrant


@dataclass(frozen=True)
class RouteRule:
    kind: str                         # "public" | "account" | "contract"
    capability: Capability | None = None


ROUTE_RULES: dict[str, RouteRule] = {"portal.static": RouteRule("public")}


def _register(view, rule: RouteRule) -> None:
    ROUTE_RULES[f"portal.{view.__name__}"] = rule


def public_route(view):
    """Reachable without signing in."""
    _register(view, RouteRule("public"))
    return view


def account_route(view):
    """Any signed-in user; anonymous visitors are sent to the sign-in page."""
    _register(view, RouteRule("account"))
    return login_required(view)


def grant_for_current_user(contract_id: int) -> ContractGrant | None:
    """The current user's grant on the contract, from the grants loaded once per request."""
    from customer_portal.context import portal_grants

    return next((grant for grant in portal_grants() if grant.contract.id == contract_id), None)


def contract_route(capability: Capability):
    """The user's role on `contract_id` must have `capability`; the view receives the grant first."""

    def decorator(view):
        _register(view, RouteRule("contract", capability))

        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            grant = grant_for_current_user(kwargs["contract_id"])
            if grant is None:
                abort(404)
            if not grant.can(capability):
                abort(403)
            object_id = kwargs.get("object_id")
            if object_id is not None and not grant.covers_object(object_id):
                abort(404)
            return view(grant, *args, **kwargs)

        return wrapper

    return decorator
