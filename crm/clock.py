"""One clock for the whole app, so expiries, windows and SLAs are testable.

Tests freeze or move time with `set_now()`; production reads the system clock in UTC.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

_frozen: datetime | None = None


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return _frozen if _frozen is not None else datetime.now(UTC)


def today() -> date:
    """Today's date in UTC."""
    return now().date()


def set_now(value: datetime | None) -> None:
    """Freeze the clock at `value` (aware), or unfreeze with None."""
    global _frozen
    if value is not None and value.tzinfo is None:
        raise ValueError("clock.set_now needs an aware datetime")
    _frozen = value


def advance(delta: timedelta) -> datetime:
    """Move a frozen clock forward (freezing it at the present first)."""
    set_now(now() + delta)
    return now()
