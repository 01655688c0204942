"""Throttling of guessable actions (sign-in, recovery, code entry) per account and per address.

Built on the `limits` library that Flask-Limiter uses, with the same storage
(RATELIMIT_STORAGE_URI: memory:// per process, redis://… shared by all web processes), but
called from services with our own keys, so one rule can count both "this login" and "this IP".
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from flask import current_app, has_request_context, request
from flask_babel import gettext as _
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from crm.services import ServiceError

#: action → (limit per account, limit per client address); admins tune them in config
DEFAULT_LIMITS: dict[str, tuple[str, str]] = {
    "signin": ("5 per 15 minutes", "30 per 15 minutes"),
    "recovery": ("3 per hour", "10 per hour"),
    "code": ("10 per 15 minutes", "30 per 15 minutes"),
    "signup": ("5 per hour", "20 per hour"),
    "question": ("5 per hour", "20 per hour"),   # "Ask a question" (help, also on the sign-in page)
}


class TooManyAttemptsError(ServiceError):
    """Too many attempts; `retry_after` seconds until the next one is allowed."""

    def __init__(self, retry_after: int):
        minutes = max(1, (retry_after + 59) // 60)
        super().__init__(_("Too many attempts. Try again in %(minutes)d min.", minutes=minutes), status=429)
        self.retry_after = retry_after


@dataclass
class _Limiter:
    strategy: MovingWindowRateLimiter


def _limiter() -> MovingWindowRateLimiter:
    state = current_app.extensions.get("crm_throttle")
    if state is None:
        storage = storage_from_string(current_app.config.get("RATELIMIT_STORAGE_URI", "memory://"))
        state = current_app.extensions["crm_throttle"] = _Limiter(MovingWindowRateLimiter(storage))
    return state.strategy


def _limits_for(action: str) -> tuple[str, str]:
    configured = current_app.config.get("CRM_THROTTLE_LIMITS", {})
    return configured.get(action, DEFAULT_LIMITS[action])


def client_address() -> str:
    return (request.remote_addr or "unknown") if has_request_context() else "no-request"


def hit(action: str, account: str | None) -> None:
    """Count one attempt of `action` for the account (e.g. the login typed) and the client address;
    raise TooManyAttemptsError (429) when either is over its limit. Disabled when RATELIMIT_ENABLED
    is false (the test config), except where a test turns it on."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return
    per_account, per_address = _limits_for(action)
    limiter = _limiter()
    keys = [(parse(per_address), "address", client_address())]
    if account:
        keys.append((parse(per_account), "account", account.strip().lower()))
    for limit, kind, key in keys:
        if not limiter.hit(limit, "crm", action, kind, key):
            reset_at, _remaining = limiter.get_window_stats(limit, "crm", action, kind, key)
            raise TooManyAttemptsError(max(1, int(reset_at - time.time())))


def reset(action: str, account: str | None) -> None:
    """Forget the account's attempts (after a successful sign-in, say)."""
    if not current_app.config.get("RATELIMIT_ENABLED", True) or not account:
        return
    per_account, _per_address = _limits_for(action)
    _limiter().clear(parse(per_account), "crm", action, "account", account.strip().lower())
