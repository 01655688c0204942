"""Households (SPEC C17): an individual groups personal accounts into houses, one account per house."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from flask_appbuilder.models.sqla import Model
from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm import clock
from crm.models.base import IdMixin
from crm.models.types import UTCDateTime


class House(IdMixin, Model):
    __tablename__ = "house"
    __table_args__ = (
        UniqueConstraint("user_id", "contract_id", name="uq_house_user_contract"),
        UniqueConstraint("user_id", "name", name="uq_house_user_name"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False, index=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    address: Mapped[Optional[str]] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)

    contract = relationship("Contract")

    def __str__(self) -> str:
        return self.name
