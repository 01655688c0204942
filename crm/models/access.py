"""Who may act on a contract: one role per user per contract, optional energy-object scope."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from flask_appbuilder.models.sqla import Model
from sqlalchemy import Column, ForeignKey, Index, String, Table, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm import clock
from crm.models.base import IdMixin, StrEnum
from crm.models.types import UTCDateTime


class ContractRole(StrEnum):
    ADMINISTRATOR = "administrator"
    MANAGER = "manager"
    POWER_ENGINEER = "power_engineer"
    ACCOUNTANT = "accountant"


contract_access_object = Table(
    "contract_access_object",
    Model.metadata,
    Column("access_id", ForeignKey("contract_access.id", ondelete="CASCADE"), primary_key=True),
    Column("energy_object_id", ForeignKey("energy_object.id", ondelete="CASCADE"), primary_key=True,
           index=True),
)


class ContractAccess(IdMixin, Model):
    """A user's role on a contract. No scope rows means every object of the contract."""

    __tablename__ = "contract_access"
    __table_args__ = (
        UniqueConstraint("user_id", "contract_id", name="uq_contract_access_user_contract"),
        # At most one administrator per contract, enforced by the database.
        Index(
            "uq_contract_access_one_administrator",
            "contract_id",
            unique=True,
            postgresql_where=text("role = 'administrator'"),
            sqlite_where=text("role = 'administrator'"),
        ),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False)
    contract_id: Mapped[int] = mapped_column(
        ForeignKey("contract.id", ondelete="CASCADE"), nullable=False, index=True
    )
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    granted_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id", ondelete="SET NULL"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)
    # Binding by contract e-mail stays unconfirmed until the link is followed (removed after 24 h).
    confirmed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())

    user = relationship("CrmUser", foreign_keys=[user_id])
    contract = relationship("Contract")
    granted_by = relationship("CrmUser", foreign_keys=[granted_by_id])
    energy_objects = relationship("EnergyObject", secondary=contract_access_object)

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None
