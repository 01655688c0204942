"""Append-only audit trail: who did what, when, from where."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from flask_appbuilder.models.sqla import Model
from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm import clock
from crm.models.base import IdMixin
from crm.models.types import UTCDateTime


class AuditLog(IdMixin, Model):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_created", "created_at"),
        Index("ix_audit_log_subject", "subject_type", "subject_id"),
        Index("ix_audit_log_counterparty", "counterparty_id", "created_at"),
        Index("ix_audit_log_actor", "actor_id", "created_at"),
    )

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)
    actor_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id", ondelete="SET NULL"))
    actor_label: Mapped[Optional[str]] = mapped_column(String(320))  # kept if the user is deleted
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    subject_type: Mapped[Optional[str]] = mapped_column(String(64))
    subject_id: Mapped[Optional[int]]
    counterparty_id: Mapped[Optional[int]] = mapped_column(ForeignKey("counterparty.id", ondelete="SET NULL"))
    ip_address: Mapped[Optional[str]] = mapped_column(String(64))
    user_agent: Mapped[Optional[str]] = mapped_column(String(500))
    detail: Mapped[Optional[dict]] = mapped_column(JSON)

    actor = relationship("CrmUser")
