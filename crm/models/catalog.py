"""Services and orders, FAQ, news."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Optional

from flask_appbuilder.models.sqla import Model
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
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
    bill_document_id: Mapped[Optional[int]] = mapped_column(ForeignKey("billing_document.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)

    service = relationship("Service")
    user = relationship("CrmUser")
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
