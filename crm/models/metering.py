"""Energy objects, metering points, meters, registers, readings, interval profiles, windows."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Optional

from flask_appbuilder.models.sqla import Model
from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm import clock
from crm.models.base import IdMixin, StrEnum, TimestampMixin
from crm.models.types import Quantity, UTCDateTime


class InputStatus(StrEnum):
    """Whether an object or meter accepts readings now (seed 004 §5: only "Waiting" does)."""

    WAITING = "waiting"
    RECEIVED = "received"
    NOT_REQUIRED = "not_required"


class EnergyObject(IdMixin, TimestampMixin, Model):
    __tablename__ = "energy_object"
    __table_args__ = (UniqueConstraint("contract_id", "code", name="uq_energy_object_code"),)

    contract_id: Mapped[int] = mapped_column(
        ForeignKey("contract.id", ondelete="CASCADE"), nullable=False, index=True
    )
    code: Mapped[str] = mapped_column(String(32), nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    address: Mapped[Optional[str]] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20), default=InputStatus.WAITING.value, nullable=False)
    external_id: Mapped[Optional[str]] = mapped_column(String(64), unique=True)

    contract = relationship("Contract", back_populates="energy_objects")
    metering_points = relationship("MeteringPoint", back_populates="energy_object",
                                   order_by="MeteringPoint.name")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class MeteringPoint(IdMixin, TimestampMixin, Model):
    __tablename__ = "metering_point"

    energy_object_id: Mapped[int] = mapped_column(
        ForeignKey("energy_object.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    voltage_level: Mapped[Optional[str]] = mapped_column(String(16))
    losses_percent: Mapped[Decimal] = mapped_column(Numeric(6, 3), default=Decimal("0"), nullable=False)
    transformation_ratio: Mapped[Decimal] = mapped_column(Numeric(12, 4), default=Decimal("1"), nullable=False)
    external_id: Mapped[Optional[str]] = mapped_column(String(64), unique=True)

    energy_object = relationship("EnergyObject", back_populates="metering_points")
    meters = relationship("Meter", back_populates="metering_point", order_by="Meter.serial")

    def __str__(self) -> str:
        return self.name


class Meter(IdMixin, TimestampMixin, Model):
    __tablename__ = "meter"
    __table_args__ = (
        CheckConstraint("digits_integer BETWEEN 1 AND 12", name="ck_meter_digits_integer"),
        CheckConstraint("digits_fraction BETWEEN 0 AND 4", name="ck_meter_digits_fraction"),
        Index("ix_meter_serial", "serial"),
    )

    metering_point_id: Mapped[int] = mapped_column(
        ForeignKey("metering_point.id", ondelete="CASCADE"), nullable=False, index=True
    )
    serial: Mapped[str] = mapped_column(String(64), nullable=False)
    model: Mapped[Optional[str]] = mapped_column(String(128))
    digits_integer: Mapped[int] = mapped_column(Integer, default=6, nullable=False)
    digits_fraction: Mapped[int] = mapped_column(Integer, default=2, nullable=False)
    verification_date: Mapped[Optional[date]] = mapped_column(Date)
    next_verification_date: Mapped[Optional[date]] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default=InputStatus.WAITING.value, nullable=False)
    interval_metering: Mapped[bool] = mapped_column(default=False, nullable=False)
    customer_label: Mapped[Optional[str]] = mapped_column(String(128))  # households rename meters
    external_id: Mapped[Optional[str]] = mapped_column(String(64), unique=True)

    metering_point = relationship("MeteringPoint", back_populates="meters")
    registers = relationship("Register", back_populates="meter", order_by="Register.position",
                             cascade="all, delete-orphan")

    def __str__(self) -> str:
        return f"{self.model or ''} № {self.serial}".strip()


class TariffZone(StrEnum):
    ALL_DAY = "all_day"
    DAY = "day"
    NIGHT = "night"
    PEAK = "peak"
    SEMI_PEAK = "semi_peak"


class Direction(StrEnum):
    IMPORT = "A+"   # active energy received
    EXPORT = "A-"   # active energy given back
    REACTIVE_IMPORT = "R+"
    REACTIVE_EXPORT = "R-"


class Register(IdMixin, Model):
    """A scale of a meter: one tariff zone in one direction; readings are per register."""

    __tablename__ = "register"
    __table_args__ = (UniqueConstraint("meter_id", "zone", "direction", name="uq_register_zone"),)

    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id", ondelete="CASCADE"), nullable=False)
    zone: Mapped[str] = mapped_column(String(20), default=TariffZone.ALL_DAY.value, nullable=False)
    direction: Mapped[str] = mapped_column(String(4), default=Direction.IMPORT.value, nullable=False)
    position: Mapped[int] = mapped_column(Integer, default=0, nullable=False)

    meter = relationship("Meter", back_populates="registers")

    def __str__(self) -> str:
        return f"{self.direction} {self.zone}"


class ReadingSource(StrEnum):
    PORTAL = "portal"
    FILE = "file"
    STAFF = "staff"
    BILLING = "billing"


class ReadingStatus(StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Reading(IdMixin, Model):
    """One register's value for a billing period (the first day of the month)."""

    __tablename__ = "reading"
    __table_args__ = (
        Index("ix_reading_register_period", "register_id", "period"),
        Index("ix_reading_status_period", "status", "period"),
    )

    register_id: Mapped[int] = mapped_column(ForeignKey("register.id", ondelete="CASCADE"), nullable=False)
    period: Mapped[date] = mapped_column(Date, nullable=False)
    value: Mapped[Decimal] = mapped_column(Quantity(), nullable=False)
    previous_value: Mapped[Optional[Decimal]] = mapped_column(Quantity())
    consumption: Mapped[Optional[Decimal]] = mapped_column(Quantity())
    rollover: Mapped[bool] = mapped_column(default=False, nullable=False)
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), default=ReadingStatus.SUBMITTED.value, nullable=False)
    reject_reason: Mapped[Optional[str]] = mapped_column(String(500))
    submitted_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id", ondelete="SET NULL"))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)
    reviewed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id", ondelete="SET NULL"))
    reviewed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    external_id: Mapped[Optional[str]] = mapped_column(String(64), unique=True)

    register = relationship("Register")
    submitted_by = relationship("CrmUser", foreign_keys=[submitted_by_id])


class IntervalProfile(IdMixin, Model):
    """An hourly A+ profile of one meter for one month; each upload makes a primary act."""

    __tablename__ = "interval_profile"
    __table_args__ = (Index("ix_interval_profile_meter_month", "meter_id", "month"),)

    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id", ondelete="CASCADE"), nullable=False)
    month: Mapped[date] = mapped_column(Date, nullable=False)
    # {"2022-10-01": ["0.5", ... 24 values as strings to keep Decimal exact]}
    hourly_values: Mapped[dict] = mapped_column(JSON, nullable=False)
    total: Mapped[Decimal] = mapped_column(Quantity(), nullable=False)
    act_number: Mapped[str] = mapped_column(String(32), unique=True, nullable=False)
    act_status: Mapped[str] = mapped_column(String(16), default="pending", nullable=False)
    reject_reason: Mapped[Optional[str]] = mapped_column(String(500))
    uploaded_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id", ondelete="SET NULL"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)
    reviewed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime())
    reviewed_by_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id", ondelete="SET NULL"))

    meter = relationship("Meter")


class ReadingsWindow(IdMixin, Model):
    """When readings for a period are accepted, optionally per branch."""

    __tablename__ = "readings_window"
    __table_args__ = (
        UniqueConstraint("period", "branch_id", name="uq_readings_window_period_branch"),
        CheckConstraint("opens_on <= closes_on", name="ck_readings_window_order"),
    )

    period: Mapped[date] = mapped_column(Date, nullable=False)
    branch_id: Mapped[Optional[int]] = mapped_column(ForeignKey("branch.id", ondelete="CASCADE"))
    opens_on: Mapped[date] = mapped_column(Date, nullable=False)
    closes_on: Mapped[date] = mapped_column(Date, nullable=False)
    note: Mapped[Optional[str]] = mapped_column(Text)

    branch = relationship("Branch")


class ReadingsReminder(IdMixin, Model):
    """A readings-window reminder already sent to a user, so a rerun of the job never sends it twice."""

    __tablename__ = "readings_reminder"
    __table_args__ = (UniqueConstraint("user_id", "window_id", "kind", name="uq_readings_reminder"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("ab_user.id", ondelete="CASCADE"), nullable=False)
    window_id: Mapped[int] = mapped_column(ForeignKey("readings_window.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)   # "opens" / "closes"
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=clock.now, nullable=False)
