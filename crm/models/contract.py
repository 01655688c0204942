"""Contracts and what hangs off them: e-mails, curators, contact persons, terms, tariffs."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Optional

from flask_appbuilder.models.sqla import Model
from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.models.base import IdMixin, StrEnum, TimestampMixin
from crm.models.types import Money


class ContractKind(StrEnum):
    HEAT = "heat"
    ELECTRICITY = "electricity"


class ContractStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


PRICE_CATEGORIES = ("I", "II", "III", "IV", "V", "VI")
INTERVAL_PRICE_CATEGORIES = ("III", "IV", "V", "VI")

contract_curator = Table(
    "contract_curator",
    Model.metadata,
    Column("contract_id", ForeignKey("contract.id", ondelete="CASCADE"), primary_key=True),
    Column("curator_id", ForeignKey("curator.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Contract(IdMixin, TimestampMixin, Model):
    """A supply contract: 14-digit number, kind, price category, branch, curators, terms."""

    __tablename__ = "contract"
    __table_args__ = (
        Index("ix_contract_branch_status", "branch_id", "status"),
        CheckConstraint("price_category IS NULL OR price_category IN ('I','II','III','IV','V','VI')",
                        name="ck_contract_price_category"),
    )

    number: Mapped[str] = mapped_column(String(14), unique=True, nullable=False)
    account_number: Mapped[Optional[str]] = mapped_column(String(20), unique=True)
    counterparty_id: Mapped[int] = mapped_column(
        ForeignKey("counterparty.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id", ondelete="RESTRICT"), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), default=ContractKind.ELECTRICITY.value, nullable=False)
    status: Mapped[str] = mapped_column(String(20), default=ContractStatus.ACTIVE.value, nullable=False)
    signed_on: Mapped[date] = mapped_column(Date, nullable=False)
    starts_on: Mapped[date] = mapped_column(Date, nullable=False)
    ends_on: Mapped[Optional[date]] = mapped_column(Date)
    price_category: Mapped[Optional[str]] = mapped_column(String(3))
    contract_volume: Mapped[Optional[Decimal]] = mapped_column(Numeric(18, 4))
    opening_balance: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"), nullable=False)
    opening_balance_on: Mapped[Optional[date]] = mapped_column(Date)
    tariff_id: Mapped[Optional[int]] = mapped_column(ForeignKey("tariff.id", ondelete="SET NULL"))
    external_id: Mapped[Optional[str]] = mapped_column(String(64), unique=True)

    counterparty = relationship("Counterparty", back_populates="contracts")
    branch = relationship("Branch")
    tariff = relationship("Tariff", foreign_keys=[tariff_id])
    curators = relationship("Curator", secondary=contract_curator)
    emails = relationship("ContractEmail", back_populates="contract", cascade="all, delete-orphan")
    contact_persons = relationship("ContactPerson", back_populates="contract", cascade="all, delete-orphan")
    payment_terms = relationship("PaymentTerm", back_populates="contract", cascade="all, delete-orphan",
                                 order_by="PaymentTerm.day_of_month")
    energy_objects = relationship("EnergyObject", back_populates="contract", order_by="EnergyObject.code")

    @property
    def needs_interval_profile(self) -> bool:
        return self.price_category in INTERVAL_PRICE_CATEGORIES

    def __str__(self) -> str:
        return self.number


class ContractEmail(IdMixin, Model):
    """An e-mail registered on the contract; a user who proves access to it may bind the contract."""

    __tablename__ = "contract_email"
    __table_args__ = (UniqueConstraint("contract_id", "email", name="uq_contract_email"),)

    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id", ondelete="CASCADE"), nullable=False)
    email: Mapped[str] = mapped_column(String(320), nullable=False, index=True)

    contract = relationship("Contract", back_populates="emails")


MAX_CONTACT_PERSONS = 9


class ContactPerson(IdMixin, TimestampMixin, Model):
    """A customer's contact person for a contract (at most 9 per contract, seed 000)."""

    __tablename__ = "contact_person"

    contract_id: Mapped[int] = mapped_column(
        ForeignKey("contract.id", ondelete="CASCADE"), nullable=False, index=True
    )
    full_name: Mapped[str] = mapped_column(String(255), nullable=False)
    position: Mapped[Optional[str]] = mapped_column(String(255))
    phone: Mapped[Optional[str]] = mapped_column(String(64))
    email: Mapped[Optional[str]] = mapped_column(String(320))

    contract = relationship("Contract", back_populates="contact_persons")


class PaymentTermKind(StrEnum):
    ADVANCE = "advance"        # a current-consumption bill (промежуточный платёж)
    FINAL = "final"            # the month's invoice (окончательный расчёт)


class PaymentTerm(IdMixin, Model):
    """When money is due: e.g. 30 % of the contract volume by the 10th, the final invoice by the 18th."""

    __tablename__ = "payment_term"
    __table_args__ = (
        CheckConstraint("day_of_month BETWEEN 1 AND 31", name="ck_payment_term_day"),
        CheckConstraint("percent IS NULL OR (percent >= 0 AND percent <= 100)", name="ck_payment_term_percent"),
    )

    contract_id: Mapped[int] = mapped_column(
        ForeignKey("contract.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    day_of_month: Mapped[int] = mapped_column(Integer, nullable=False)
    # 0 = this month, 1 = the month after the billing period.
    month_offset: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    percent: Mapped[Optional[Decimal]] = mapped_column(Numeric(5, 2))

    contract = relationship("Contract", back_populates="payment_terms")


class Tariff(IdMixin, TimestampMixin, Model):
    """A rate valid from–to, per tariff zone; contracts point at their current tariff group."""

    __tablename__ = "tariff"
    __table_args__ = (Index("ix_tariff_group_valid", "group_code", "valid_from"),)

    group_code: Mapped[str] = mapped_column(String(32), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    zone: Mapped[str] = mapped_column(String(20), default="all_day", nullable=False)
    rate: Mapped[Decimal] = mapped_column(Numeric(12, 5), nullable=False)
    unit: Mapped[str] = mapped_column(String(16), default="кВт·ч", nullable=False)
    valid_from: Mapped[date] = mapped_column(Date, nullable=False)
    valid_to: Mapped[Optional[date]] = mapped_column(Date)
    external_id: Mapped[Optional[str]] = mapped_column(String(64), unique=True)  # billing import (B9)

    def __str__(self) -> str:
        return f"{self.name} ({self.zone})"
