"""Counterparties (customers), the utility's branches and their curators."""
from __future__ import annotations

from typing import Optional

from flask_appbuilder.models.sqla import Model
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.models.base import IdMixin, StrEnum, TimestampMixin


class PersonType(StrEnum):
    LEGAL = "legal"
    SOLE_PROPRIETOR = "sole_proprietor"
    INDIVIDUAL = "individual"


class Branch(IdMixin, TimestampMixin, Model):
    """A branch (филиал/отделение) of the utility; contracts and curators belong to one."""

    __tablename__ = "branch"

    code: Mapped[str] = mapped_column(String(8), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    address: Mapped[Optional[str]] = mapped_column(String(500))
    phone: Mapped[Optional[str]] = mapped_column(String(64))
    email: Mapped[Optional[str]] = mapped_column(String(320))
    head_name: Mapped[Optional[str]] = mapped_column(String(255))
    head_phone: Mapped[Optional[str]] = mapped_column(String(64))
    working_hours: Mapped[Optional[str]] = mapped_column(String(255))
    # The staff user told when an appeal of this branch breaches its SLA (B4 escalation).
    lead_user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id", ondelete="SET NULL"))

    lead_user = relationship("CrmUser", foreign_keys=[lead_user_id])
    curators = relationship("Curator", back_populates="branch")

    def __str__(self) -> str:
        return self.name


class Curator(IdMixin, TimestampMixin, Model):
    """A utility employee who curates contracts; optionally linked to a staff user account."""

    __tablename__ = "curator"

    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id", ondelete="RESTRICT"), nullable=False, index=True)
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)
    full_name: Mapped[str] = mapped_column(String(255), nullable=False)
    position: Mapped[Optional[str]] = mapped_column(String(255))
    phone: Mapped[Optional[str]] = mapped_column(String(64))
    email: Mapped[Optional[str]] = mapped_column(String(320))

    branch = relationship("Branch", back_populates="curators")
    user = relationship("CrmUser")

    def __str__(self) -> str:
        return self.full_name


class Counterparty(IdMixin, TimestampMixin, Model):
    """A customer: legal entity, sole proprietor or individual (household)."""

    __tablename__ = "counterparty"
    __table_args__ = (Index("ix_counterparty_short_name", "short_name"),)

    person_type: Mapped[str] = mapped_column(String(20), default=PersonType.LEGAL.value, nullable=False)
    full_name: Mapped[str] = mapped_column(String(500), nullable=False)
    short_name: Mapped[str] = mapped_column(String(255), nullable=False)
    inn: Mapped[str] = mapped_column(String(12), nullable=False, index=True)
    kpp: Mapped[Optional[str]] = mapped_column(String(9))
    ogrn: Mapped[Optional[str]] = mapped_column(String(15))
    okpo: Mapped[Optional[str]] = mapped_column(String(10))
    partner_code: Mapped[Optional[str]] = mapped_column(String(20), unique=True)
    legal_address: Mapped[Optional[str]] = mapped_column(String(500))
    postal_address: Mapped[Optional[str]] = mapped_column(String(500))
    phone: Mapped[Optional[str]] = mapped_column(String(64))
    email: Mapped[Optional[str]] = mapped_column(String(320))
    bank_name: Mapped[Optional[str]] = mapped_column(String(255))
    bank_bik: Mapped[Optional[str]] = mapped_column(String(9))
    bank_account: Mapped[Optional[str]] = mapped_column(String(20))
    bank_corr_account: Mapped[Optional[str]] = mapped_column(String(20))
    external_id: Mapped[Optional[str]] = mapped_column(String(64), unique=True)

    contracts = relationship("Contract", back_populates="counterparty", order_by="Contract.number")

    def __str__(self) -> str:
        return self.short_name
