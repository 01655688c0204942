"""Services and orders, FAQ, news."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Optional

from flask_appbuilder.models.sqla import Model
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm import clock
from crm.models.base import IdMixin
from crm.models.types import Money, UTCDateTime


class Service(IdMixin, Model):
    __tablename__ = "service"

    name: Mapped[str] = mapped_column(String(255), nullable=False)
    description: Mapped[Optional[str]] = mapped_column(Text)
    approx_price: Mapped[Optional[Decimal]] = mapped_column(Money())
    price_note: Mapped[Optional[str]] = mapped_column(String(255))
    picture_key: Mapped[Optional[str]] = mapped_column(String(500))
    position: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)

    def __str__(self) -> str:
        return self.name


class ServiceOrder(IdMixin, Model):
    __tablename__ = "service_order"
    __table_args__ = (Index("ix_service_order_user", "user_id", "created_at"),)

    number: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id", ondelete="RESTRICT"), nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id", ondelete="RESTRICT"), nullable=False)
    contract_id: Mapped[Optional[int]] = mapped_column(ForeignKey("contract.id", ondelete="SET NULL"), index=True)
    contact_name: Mapped[str] = mapped_column(String(255), nullable=False)
    phone: Mapped[str] = mapped_column(String(32), nullable=False)
    task: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="new", nullable=False)
    staff_comment: Mapped[Optional[str]] = mapped_column(Text)
    processed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id", ondelete="SET NULL"))
    processed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    bill_document_id: Mapped[Optional[int]] = mapped_column(ForeignKey("billing_document.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)

    service = relationship("Service")
    user = relationship("CrmUser", foreign_keys=[user_id])
    contract = relationship("Contract")


class FaqGroup(IdMixin, Model):
    __tablename__ = "faq_group"

    name: Mapped[str] = mapped_column(String(255), nullable=False)
    position: Mapped[int] = mapped_column(Integer, default=0, nullable=False)

    items = relationship("FaqItem", back_populates="group", order_by="FaqItem.position")

    def __str__(self) -> str:
        return self.name


class FaqItem(IdMixin, Model):
    __tablename__ = "faq_item"

    group_id: Mapped[int] = mapped_column(ForeignKey("faq_group.id", ondelete="CASCADE"), nullable=False, index=True)
    question: Mapped[str] = mapped_column(String(500), nullable=False)
    answer_markdown: Mapped[str] = mapped_column(Text, nullable=False)
    position: Mapped[int] = mapped_column(Integer, default=0, nullable=False)

    group = relationship("FaqGroup", back_populates="items")


class News(IdMixin, Model):
    __tablename__ = "news"
    __table_args__ = (Index("ix_news_published", "published_at"),)

    title: Mapped[str] = mapped_column(String(255), nullable=False)
    body_markdown: Mapped[str] = mapped_column(Text, nullable=False)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)
    branch_id: Mapped[Optional[int]] = mapped_column(ForeignKey("branch.id", ondelete="SET NULL"))

    def __str__(self) -> str:
        return self.title


class NewsRead(Model):
    __tablename__ = "news_read"
    news_id: Mapped[int] = mapped_column(ForeignKey("news.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)


class HelpPage(IdMixin, Model):
    """A help text edited in the back office: the user guide, the user agreement, ways to pay (C15)."""

    __tablename__ = "help_page"
    __table_args__ = (UniqueConstraint("slug", "locale", name="uq_help_page_locale"),)

    slug: Mapped[str] = mapped_column(String(64), nullable=False)
    locale: Mapped[str] = mapped_column(String(8), default="ru", nullable=False)
    title: Mapped[str] = mapped_column(String(255), nullable=False)
    body_markdown: Mapped[str] = mapped_column(Text, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, onupdate=clock.now,
                                                 nullable=False)

    def __str__(self) -> str:
        return self.title


class ContactQuestion(IdMixin, Model):
    """"Ask a question" (C15), also from the sign-in page: kept here until staff answer or turn it
    into an appeal."""

    __tablename__ = "contact_question"
    __table_args__ = (Index("ix_contact_question_status", "status", "created_at"),)

    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)
    contract_id: Mapped[Optional[int]] = mapped_column(ForeignKey("contract.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    email: Mapped[str] = mapped_column(String(320), nullable=False)
    phone: Mapped[Optional[str]] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="new", nullable=False)
    appeal_id: Mapped[Optional[int]] = mapped_column(ForeignKey("appeal.id", ondelete="SET NULL"))
    answer: Mapped[Optional[str]] = mapped_column(Text)
    handled_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id", ondelete="SET NULL"))
    handled_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)

    user = relationship("CrmUser", foreign_keys=[user_id])
    contract = relationship("Contract")
