"""Per-request portal state: the user's contract grants, the selected contract, safe redirects.

The grants are loaded once per request (cached on `flask.g`), so the navbar's contract selector,
the menu and the page itself share the same few queries whatever the page.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import g, request, session
from flask_login import current_user

from crm import access
from crm.access import ContractGrant

#: session key of the contract last opened, so section links keep pointing at it
SELECTED_CONTRACT_KEY = "portal_contract_id"
PORTAL_PREFIX = "/portal/"


def portal_grants() -> list[ContractGrant]:
    """Every confirmed contract role of the current user, loaded once per request."""
    if "portal_grants" not in g:
        g.portal_grants = access.accessible_contracts(current_user)
    return g.portal_grants


def selected_grant() -> ContractGrant | None:
    """The contract all sections show: the one in the path, else the last one opened, else the first.

    A contract id in the path that the user has no role on is ignored here; the route itself
    answers 404 through `access.require`.
    """
    if "portal_selected" in g:
        return g.portal_selected
    grants = portal_grants()
    by_id = {grant.contract.id: grant for grant in grants}
    path_id = (request.view_args or {}).get("contract_id")
    chosen = by_id.get(path_id) if path_id is not None else None
    if chosen is not None:
        if session.get(SELECTED_CONTRACT_KEY) != path_id:
            session[SELECTED_CONTRACT_KEY] = path_id
    else:
        chosen = by_id.get(session.get(SELECTED_CONTRACT_KEY)) or (grants[0] if grants else None)
    g.portal_selected = chosen
    return chosen


def selector_grants() -> list[ContractGrant]:
    """The contracts offered by the selector: those the user chose to keep (all by default) plus
    the selected one [003 §4]."""
    grants = portal_grants()
    kept = getattr(current_user, "selector_contract_ids", None)
    if kept is None:
        return grants
    kept_ids = set(kept)
    selected = selected_grant()
    return [grant for grant in grants
            if grant.contract.id in kept_ids or (selected is not None and grant is selected)]


def safe_next(target: str | None) -> str | None:
    """`target` if it is a same-site path inside the portal, else None (no open redirects)."""
    if not target or len(target) > 2048:
        return None
    if "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(PORTAL_PREFIX):
        return None
    if target.startswith("//"):
        return None
    return target


def current_path() -> str:
    """The current request's path with its query string, for `next` parameters."""
    query = request.query_string.decode("utf-8", "replace")
    return f"{request.path}?{query}" if query else request.path


def phone_href(phone: str | None) -> str:
    """A `tel:` link for a phone number as people write it (`+7 495 000-00-00` → `tel:+74950000000`)."""
    if not phone:
        return ""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return f"tel:{'+' if phone.strip().startswith('+') else ''}{digits}"
