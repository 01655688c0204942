"""Shared mixins and enums for the domain models."""
from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Integer
from sqlalchemy.orm import Mapped, mapped_column

from crm import clock
from crm.models.types import UTCDateTime


class TimestampMixin:
    """Created/updated stamps written by the app clock (jobs and CLI have no FAB user)."""

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=clock.now, onupdate=clock.now, nullable=False
    )


class IdMixin:
    id: Mapped[int] = mapped_column(Integer, primary_key=True)


class StrEnum(enum.StrEnum):
    """An enum stored by value in a VARCHAR (no native DB enum: admins may extend lists)."""

    def __str__(self) -> str:
        return self.value
