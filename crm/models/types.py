"""Column types shared by all models."""
from __future__ import annotations

from datetime import UTC
from decimal import Decimal

from sqlalchemy import DateTime, Numeric
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """A timezone-aware timestamp on every backend.

    PostgreSQL stores `timestamptz`; SQLite has no time zones, so values are stored as UTC and
    given their zone back when read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a timezone-aware column")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def Money():  # noqa: N802 - reads like a type in column declarations
    """Rubles and kopecks, exact."""
    return Numeric(14, 2, asdecimal=True)


def Quantity():  # noqa: N802
    """Meter readings and consumption: up to 12 integer and 4 fraction digits, exact."""
    return Numeric(18, 4, asdecimal=True)


ZERO = Decimal("0")
