"""Machine access and long-running work: billing API tokens and background tasks with progress."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from flask_appbuilder.models.sqla import Model
from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm import clock
from crm.models.base import IdMixin, StrEnum
from crm.models.types import UTCDateTime


class ApiToken(IdMixin, Model):
    """A bearer token of the billing integration (SPEC B9). Only a SHA-256 of the secret is stored;
    the secret is shown once when the token is issued."""

    __tablename__ = "api_token"

    name: Mapped[str] = mapped_column(String(128), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    prefix: Mapped[str] = mapped_column(String(12), nullable=False)   # first characters, to recognise it
    scopes: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    created_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)
    last_used_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    revoked_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())

    created_by = relationship("CrmUser", foreign_keys=[created_by_id])

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class TaskStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class BackgroundTask(IdMixin, Model):
    """Work a person waits for (exports, imports, large documents; SPEC W3): its progress, its result
    file (a storage key) and its error, so the page can show a progress bar and a download link."""

    __tablename__ = "background_task"
    __table_args__ = (Index("ix_background_task_user_created", "user_id", "created_at"),)

    kind: Mapped[str] = mapped_column(String(48), nullable=False)
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id", ondelete="CASCADE"))
    contract_id: Mapped[Optional[int]] = mapped_column(ForeignKey("contract.id", ondelete="CASCADE"))
    params: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=TaskStatus.QUEUED.value, nullable=False)
    progress: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    total: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    result_key: Mapped[Optional[str]] = mapped_column(String(500))
    result_name: Mapped[Optional[str]] = mapped_column(String(255))
    error: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)
    started_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    finished_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
