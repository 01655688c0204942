"""Users: FAB's user table extended for customers, their sessions and one-time codes."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from flask_appbuilder.models.sqla import Model
from flask_appbuilder.security.sqla.models import User as FabUser
from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm import clock
from crm.models.base import IdMixin
from crm.models.types import UTCDateTime

CUSTOMER_ROLE = "Customer"
STAFF_ROLES = ("Admin", "Curator", "Billing operator", "Auditor")


class CrmUser(FabUser):
    """One user table for staff and customers; customers hold only the Customer FAB role."""

    __tablename__ = "ab_user"

    patronymic: Mapped[Optional[str]] = mapped_column(String(64))
    phone: Mapped[Optional[str]] = mapped_column(String(32))
    organisation: Mapped[Optional[str]] = mapped_column(String(255))
    position: Mapped[Optional[str]] = mapped_column(String(255))
    address: Mapped[Optional[str]] = mapped_column(String(500))
    inn: Mapped[Optional[str]] = mapped_column(String(12), index=True)
    email_confirmed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    agreement_accepted_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    marketing_consent: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    activation_not_before: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    activation_deadline: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    blocked_reason: Mapped[Optional[str]] = mapped_column(String(255))
    deleted_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    second_factor_enabled: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    tips_dismissed: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    locale: Mapped[Optional[str]] = mapped_column(String(8))
    # C4 notification settings: {"email": bool, "marketing": bool, "remind_open_days": int, ...}
    notification_settings: Mapped[Optional[dict]] = mapped_column(JSON)
    # Contract ids the user chose to keep in the selector (None = all of them) [003 §4].
    selector_contract_ids: Mapped[Optional[list]] = mapped_column(JSON)

    @property
    def full_name(self) -> str:
        parts = [self.last_name, self.first_name, self.patronymic]
        return " ".join(p for p in parts if p)

    @property
    def is_customer(self) -> bool:
        return any(r.name == CUSTOMER_ROLE for r in self.roles)

    @property
    def is_staff(self) -> bool:
        return any(r.name in STAFF_ROLES for r in self.roles)


class UserSession(IdMixin, Model):
    """A server-side record of one signed-in browser, so the user can list and end it (C3)."""

    __tablename__ = "user_session"
    __table_args__ = (Index("ix_user_session_user_active", "user_id", "ended_at"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False)
    token: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    browser: Mapped[Optional[str]] = mapped_column(String(128))
    os: Mapped[Optional[str]] = mapped_column(String(128))
    ip_address: Mapped[Optional[str]] = mapped_column(String(64))
    device_fingerprint: Mapped[Optional[str]] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)
    ended_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    end_reason: Mapped[Optional[str]] = mapped_column(String(64))

    user = relationship("CrmUser")


class OneTimeCode(IdMixin, Model):
    """E-mail codes and links (confirm e-mail, recovery, 2FA, activation, binding); single use."""

    __tablename__ = "one_time_code"
    __table_args__ = (Index("ix_one_time_code_lookup", "purpose", "user_id", "used_at"),)

    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(32), nullable=False)
    code_hash: Mapped[str] = mapped_column(String(128), nullable=False)
    target: Mapped[Optional[str]] = mapped_column(String(320))
    payload: Mapped[Optional[dict]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)
    not_before: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    used_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())


class SystemSetting(Model):
    """Admin-editable switches (enabled sign-up methods, texts) as key → JSON value."""

    __tablename__ = "system_setting"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Optional[dict]] = mapped_column(JSON)
    description: Mapped[Optional[str]] = mapped_column(Text)
