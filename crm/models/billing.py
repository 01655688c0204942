"""Billing documents and payments (the billing system is their source of truth)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Optional

from flask_appbuilder.models.sqla import Model
from sqlalchemy import JSON, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm import clock
from crm.models.base import IdMixin, StrEnum, TimestampMixin
from crm.models.types import Money, UTCDateTime


class DocumentType(StrEnum):
    INVOICE = "invoice"                       # счёт-фактура
    CORRECTIVE_INVOICE = "corrective_invoice"
    BILL = "bill"                             # счёт на оплату
    RECONCILIATION_ACT = "reconciliation_act"
    ACCEPTANCE_ACT = "acceptance_act"
    ACCEPTANCE_STATEMENT = "acceptance_statement"
    PENALTY_CLAIM = "penalty_claim"


class SaleKind(StrEnum):
    MAIN = "main"
    ADVANCE = "advance"
    PENALTY = "penalty"


class BillingDocument(IdMixin, TimestampMixin, Model):
    __tablename__ = "billing_document"
    __table_args__ = (
        Index("ix_billing_document_contract_date", "contract_id", "doc_date"),
        Index("ix_billing_document_contract_period", "contract_id", "period"),
        Index("ix_billing_document_unpaid", "contract_id", "amount_due"),
    )

    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id", ondelete="CASCADE"), nullable=False)
    doc_type: Mapped[str] = mapped_column(String(32), nullable=False)
    number: Mapped[str] = mapped_column(String(64), nullable=False)
    doc_date: Mapped[date] = mapped_column(Date, nullable=False)
    period: Mapped[Optional[date]] = mapped_column(Date)
    sale_kind: Mapped[str] = mapped_column(String(16), default=SaleKind.MAIN.value, nullable=False)
    amount: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    amount_due: Mapped[Decimal] = mapped_column(Money(), default=Decimal("0"), nullable=False)
    due_date: Mapped[Optional[date]] = mapped_column(Date)
    file_key: Mapped[Optional[str]] = mapped_column(String(500))
    external_id: Mapped[Optional[str]] = mapped_column(String(64), unique=True)

    contract = relationship("Contract")


class PaymentStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"
    REFUNDED = "refunded"


class Payment(IdMixin, TimestampMixin, Model):
    __tablename__ = "payment"
    __table_args__ = (
        Index("ix_payment_contract_date", "contract_id", "paid_on"),
        Index("ix_payment_status", "status"),
    )

    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id", ondelete="CASCADE"), nullable=False)
    document_id: Mapped[Optional[int]] = mapped_column(ForeignKey("billing_document.id", ondelete="SET NULL"))
    bank: Mapped[Optional[str]] = mapped_column(String(255))
    number: Mapped[Optional[str]] = mapped_column(String(64))
    paid_on: Mapped[date] = mapped_column(Date, nullable=False)
    amount: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    status: Mapped[str] = mapped_column(String(16), default=PaymentStatus.PAID.value, nullable=False)
    purpose: Mapped[Optional[str]] = mapped_column(String(500))
    channel: Mapped[str] = mapped_column(String(16), default="bank", nullable=False)
    provider_payment_id: Mapped[Optional[str]] = mapped_column(String(128), unique=True)
    initiated_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id", ondelete="SET NULL"))
    external_id: Mapped[Optional[str]] = mapped_column(String(64), unique=True)

    contract = relationship("Contract")
    document = relationship("BillingDocument")


class SavedCard(IdMixin, Model):
    """A card saved at the payment provider: only its token and last four digits are kept."""

    __tablename__ = "saved_card"

    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False, index=True)
    provider_token: Mapped[str] = mapped_column(String(255), nullable=False)
    last4: Mapped[str] = mapped_column(String(4), nullable=False)
    brand: Mapped[Optional[str]] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)


class PaymentKind(StrEnum):
    DEBT = "debt"                 # the whole debt, unpaid documents preselected, amount editable
    DOCUMENT = "document"         # one document, amount locked
    PREPAYMENT = "prepayment"     # any amount


class PaymentIntent(IdMixin, TimestampMixin, Model):
    """One attempt to pay through the provider (SPEC C11). The idempotency key makes a repeated submit
    or callback land on the same intent; a paid intent creates exactly one `Payment`."""

    __tablename__ = "payment_intent"
    __table_args__ = (Index("ix_payment_intent_user_created", "user_id", "created_at"),)

    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id", ondelete="SET NULL"))
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id", ondelete="CASCADE"), nullable=False,
                                             index=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    amount: Mapped[Decimal] = mapped_column(Money(), nullable=False)
    document_ids: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    provider: Mapped[str] = mapped_column(String(32), nullable=False)
    provider_payment_id: Mapped[Optional[str]] = mapped_column(String(128), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=PaymentStatus.PENDING.value, nullable=False)
    email: Mapped[Optional[str]] = mapped_column(String(320))
    save_card: Mapped[bool] = mapped_column(default=False, nullable=False)
    saved_card_id: Mapped[Optional[int]] = mapped_column(ForeignKey("saved_card.id", ondelete="SET NULL"))
    payment_id: Mapped[Optional[int]] = mapped_column(ForeignKey("payment.id", ondelete="SET NULL"))
    failure_reason: Mapped[Optional[str]] = mapped_column(String(500))
    completed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())

    contract = relationship("Contract")
    payment = relationship("Payment")
