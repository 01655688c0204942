"""Transactional e-mail outbox (W1): written with its cause, delivered by a job."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from flask_appbuilder.models.sqla import Model
from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm import clock
from crm.models.base import IdMixin, StrEnum
from crm.models.types import UTCDateTime


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    HELD = "held"   # no SMTP configured: kept for viewing in the back office


class EmailOutbox(IdMixin, Model):
    __tablename__ = "email_outbox"
    __table_args__ = (Index("ix_email_outbox_status_next", "status", "next_attempt_at"),)

    to_address: Mapped[str] = mapped_column(String(320), nullable=False)
    subject: Mapped[str] = mapped_column(String(255), nullable=False)
    body_text: Mapped[str] = mapped_column(Text, nullable=False)
    body_html: Mapped[Optional[str]] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING.value, nullable=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    last_error: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)
    sent_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    message_id: Mapped[Optional[str]] = mapped_column(String(255))
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id", ondelete="SET NULL"), index=True)
    category: Mapped[Optional[str]] = mapped_column(String(64))
    # Files to attach, kept in crm.storage: [{"key", "filename", "content_type"}] (C10 "send to e-mail").
    attachments: Mapped[Optional[list]] = mapped_column(JSON)
