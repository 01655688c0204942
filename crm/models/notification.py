"""Notifications authored by staff (bell, modal, banner, e-mail) and their per-user state."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from flask_appbuilder.models.sqla import Model
from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm import clock
from crm.models.base import IdMixin, StrEnum
from crm.models.types import UTCDateTime


class NotificationKind(StrEnum):
    BELL = "bell"
    MODAL = "modal"
    BANNER = "banner"
    EMAIL = "email"


class Notification(IdMixin, Model):
    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_window", "display_from", "display_until"),)

    kind: Mapped[str] = mapped_column(String(16), nullable=False)
    # What it is about, for preferences (C4): "general", "marketing", "invoices", "payments", "readings",
    # and the mandatory "debt", "outage", "security", "system".
    category: Mapped[str] = mapped_column(String(32), default="general", nullable=False)
    # Also send an e-mail copy (kind "email" always does), through the outbox, honouring preferences.
    send_email: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    recipients_count: Mapped[Optional[int]] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(255), nullable=False)
    body_markdown: Mapped[str] = mapped_column(Text, nullable=False)
    confirm_text: Mapped[Optional[str]] = mapped_column(String(64))
    goto_url: Mapped[Optional[str]] = mapped_column(String(500))
    goto_label: Mapped[Optional[str]] = mapped_column(String(64))
    display_from: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    display_until: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    # {"type": "everyone" | "branch" | "contracts" | "contract_role" | "user", "ids": [...], "role": ...}
    audience: Mapped[dict] = mapped_column(JSON, nullable=False)
    scheduled_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    sent_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    event: Mapped[Optional[str]] = mapped_column(String(64))  # set for system-generated ones
    author_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)

    attachments = relationship("NotificationAttachment", cascade="all, delete-orphan")

    def __str__(self) -> str:
        return self.subject


class NotificationAttachment(IdMixin, Model):
    __tablename__ = "notification_attachment"

    notification_id: Mapped[int] = mapped_column(ForeignKey("notification.id", ondelete="CASCADE"),
                                                 nullable=False, index=True)
    filename: Mapped[str] = mapped_column(String(255), nullable=False)
    content_type: Mapped[str] = mapped_column(String(128), nullable=False)
    size: Mapped[int] = mapped_column(Integer, nullable=False)
    storage_key: Mapped[str] = mapped_column(String(500), nullable=False)


class NotificationDelivery(IdMixin, Model):
    """One recipient's copy: delivered, read, confirmed (modal), dismissed (banner)."""

    __tablename__ = "notification_delivery"
    __table_args__ = (
        UniqueConstraint("notification_id", "user_id", name="uq_notification_delivery"),
        Index("ix_notification_delivery_inbox", "user_id", "read_at"),
        Index("ix_notification_delivery_notification", "notification_id", "read_at"),
    )

    notification_id: Mapped[int] = mapped_column(ForeignKey("notification.id", ondelete="CASCADE"), nullable=False)
    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False)
    delivered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)
    read_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    dismissed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    emailed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())

    notification = relationship("Notification")
