"""Hourly interval profiles of SPEC C8 for price categories III–VI [004 §5.3, §5.3.1].

The file: the first column holds the hours of the day "00-01" … "23-24", the first row the dates of
the month, and the A+ consumption of each hour sits where an hour's row meets a day's column. Each
upload that passes every check becomes a "primary act" (`IntervalProfile`, status pending) that a
curator later accepts or rejects; values are kept exactly as the decimal strings of the file.

The readings page compares, per interval meter and month, the interval consumption (the act's total)
with the integral one (the A+ readings' consumption of the period): delta = integral − interval.

Every check collects its problems (with the cell they are in) and one `IntervalProfileError` reports
them all; nothing is written then.
"""
from __future__ import annotations

import calendar
import io
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import xlsxwriter
from flask_babel import gettext as _
from sqlalchemy import and_, select
from sqlalchemy.orm import contains_eager

from crm import clock
from crm.access import ContractGrant
from crm.extensions import db
from crm.formatting import format_period
from crm.models import (
    Direction,
    EnergyObject,
    IntervalProfile,
    Meter,
    MeteringPoint,
    Reading,
    ReadingStatus,
    Register,
)
from crm.services import ServiceError, audit
from crm.services.spreadsheets import Row, SpreadsheetError, cell_decimal, cell_text, read_table

HOURS = tuple(f"{hour:02d}-{hour + 1:02d}" for hour in range(24))
PENDING, ACCEPTED, REJECTED = "pending", "accepted", "rejected"
#: at most this many problems are listed (a wrong file can have 744 bad cells; the first ones say enough)
MAX_PROBLEMS = 30
_HOUR = re.compile(r"^(\d{1,2})(?::00)?-(\d{1,2})(?::00)?$")
_DAY = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_ISO_DAY = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00)?)?$")
_MONTH = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")


class IntervalProfileError(ServiceError):
    """The profile cannot be saved; `messages` lists every problem (localised)."""

    def __init__(self, messages: list[str], status: int = 400):
        super().__init__(" ".join(messages[:3]), field="file", status=status)
        self.messages = messages


class IntervalMeterNotFoundError(ServiceError):
    """The meter is not the contract's, is outside the grant's scope, or is not interval-metered."""

    def __init__(self, message: str):
        super().__init__(message, status=404)


# --- months and meters ------------------------------------------------------------------------------

def parse_month(raw: str | None) -> date:
    """`YYYY-MM` → the first day of that month; a localised `IntervalProfileError` otherwise."""
    match = _MONTH.match(raw or "")
    if match:
        year, month = int(match.group(1)), int(match.group(2))
        if 2000 <= year <= 2100 and 1 <= month <= 12:
            return date(year, month, 1)
    raise IntervalProfileError([_("Choose the month of the profile (year and month).")])


def days_in(month: date) -> int:
    return calendar.monthrange(month.year, month.month)[1]


def interval_meter(grant: ContractGrant, meter_id: int) -> Meter:
    """The contract's interval meter within the grant's scope (one statement); `IntervalMeterNotFoundError`
    when it is not the contract's or not in the scope (as if it did not exist), or not interval-metered."""
    # The point and the object come with the meter (the pages name them): no lazy loads later.
    meter = db.session.scalars(
        select(Meter)
        .join(MeteringPoint, Meter.metering_point_id == MeteringPoint.id)
        .join(EnergyObject, MeteringPoint.energy_object_id == EnergyObject.id)
        .where(Meter.id == meter_id, EnergyObject.contract_id == grant.contract.id)
        .options(contains_eager(Meter.metering_point).contains_eager(MeteringPoint.energy_object))
    ).first()
    if meter is None or not grant.covers_object(meter.metering_point.energy_object.id):
        raise IntervalMeterNotFoundError(_("The meter is not one of this contract's meters available to you."))
    if not meter.interval_metering:
        raise IntervalMeterNotFoundError(_("Meter “%(serial)s” has no hourly (interval) metering: hourly profiles are "
                                      "submitted for interval meters of price categories III–VI only.",
                                      serial=meter.serial))
    return meter


# --- the template -----------------------------------------------------------------------------------

def build_profile_template(meter: Meter, month: date, values: dict[str, list[str]] | None = None,
                           title_rows: list[tuple[str, str]] | None = None) -> bytes:
    """The hourly profile grid of seed 004 §5.3.1 for `month` as xlsx: "Время"/"Time" in A1, the dates
    in the first row, the 24 hours in the first column; `values` fills the cells (an act's download)
    and `title_rows` adds a second sheet describing the act."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    header = workbook.add_format({"bold": True, "bg_color": "#E9ECEF", "border": 1, "align": "center"})
    date_header = workbook.add_format({"bold": True, "bg_color": "#E9ECEF", "border": 1, "align": "center",
                                       "num_format": "dd.mm.yyyy"})
    cell = workbook.add_format({"num_format": "0.####", "border": 1, "border_color": "#DEE2E6"})
    sheet = workbook.add_worksheet(_("Hourly profile")[:31])
    sheet.set_column(0, 0, 9)
    sheet.set_column(1, days_in(month), 11)
    sheet.write_string(0, 0, _("Time"), header)
    days = [month.replace(day=day) for day in range(1, days_in(month) + 1)]
    for column, day in enumerate(days, start=1):
        sheet.write_datetime(0, column, datetime.combine(day, datetime.min.time()), date_header)
    for row, hour in enumerate(HOURS, start=1):
        sheet.write_string(row, 0, hour, header)
        for column, day in enumerate(days, start=1):
            raw = (values or {}).get(day.isoformat())
            if raw is not None:
                sheet.write_number(row, column, float(Decimal(raw[row - 1])), cell)
            else:
                sheet.write_blank(row, column, None, cell)
    sheet.freeze_panes(1, 1)
    if values is not None:
        sheet.write_string(len(HOURS) + 1, 0, _("Total"), header)
    info = workbook.add_worksheet(_("About")[:31])
    info.set_column(0, 0, 28)
    info.set_column(1, 1, 60)
    rows = title_rows or [
        (_("Meter"), f"{meter.serial} {meter.model or ''}".strip()),
        (_("Month"), format_period(month)),
        (_("Direction"), "A+"),
        (_("How to fill in"), _("Enter the A+ consumption of each hour (kWh, without the transformation ratio "
                                "and losses) where the hour's row meets the day's column. Every cell is filled; "
                                "numbers are not negative; a comma or a dot separates the fraction.")),
    ]
    for number, (name, text) in enumerate(rows):
        info.write_string(number, 0, str(name), header)
        info.write_string(number, 1, str(text))
    workbook.close()
    return buffer.getvalue()


# --- reading a profile ------------------------------------------------------------------------------

def _column_name(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def _cell_ref(column: int, row_number: int) -> str:
    return f"{_column_name(column)}{row_number}"


def _header_day(value: Any, month: date, ref: str, problems: list[str]) -> date | None:
    """A header cell as a day of `month`, or None with a problem naming it."""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        day = value
    else:
        text = cell_text(value) or ""
        match = _DAY.match(text)
        iso = _ISO_DAY.match(text)
        if match:
            day_no, month_no, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
        elif iso:
            year, month_no, day_no = int(iso.group(1)), int(iso.group(2)), int(iso.group(3))
        else:
            problems.append(_("Cell %(cell)s: “%(value)s” is not a date; the first row holds the dates of the "
                              "month as dd.mm.yyyy.", cell=ref, value=text[:20]))
            return None
        if year == month.year and month_no == month.month and day_no > days_in(month):
            problems.append(_("Cell %(cell)s: the date “%(value)s” does not exist: %(month)s has %(days)s days.",
                              cell=ref, value=text[:20], month=format_period(month), days=days_in(month)))
            return None
        try:
            day = date(year, month_no, day_no)
        except ValueError:
            problems.append(_("Cell %(cell)s: “%(value)s” is not a date; the first row holds the dates of the "
                              "month as dd.mm.yyyy.", cell=ref, value=text[:20]))
            return None
    if (day.year, day.month) != (month.year, month.month):
        problems.append(_("Cell %(cell)s: %(day)s is not a day of %(month)s.", cell=ref,
                          day=day.strftime("%d.%m.%Y"), month=format_period(month)))
        return None
    return day


def _hour_problem(value: Any, index: int, ref: str) -> str | None:
    text = (cell_text(value) or "").replace(" ", "").replace("–", "-").replace("—", "-")
    match = _HOUR.match(text)
    if match is None:
        return _("Cell %(cell)s: “%(value)s” is not an hour label; the first column holds the hours “00-01” to "
                 "“23-24”.", cell=ref, value=text[:20])
    start, end = int(match.group(1)), int(match.group(2))
    if not (0 <= start <= 23 and end == start + 1):
        return _("Cell %(cell)s: the hour “%(value)s” is out of range: a day has the hours “00-01” to “23-24”.",
                 cell=ref, value=text[:20])
    if start != index:
        return _("Cell %(cell)s: the hour “%(value)s” is out of order: the hour here is “%(expected)s”.",
                 cell=ref, value=text[:20], expected=HOURS[index])
    return None


@dataclass(frozen=True)
class ParsedProfile:
    month: date
    values: dict[str, list[str]]     # ISO day → 24 exact decimal strings
    total: Decimal


def parse_profile(rows: list[Row], month: date) -> ParsedProfile:
    """Check and read the grid (see the module docstring); `IntervalProfileError` lists every problem."""
    problems: list[str] = []
    rows = [row for row in rows if not row.is_blank]
    if not rows:
        raise IntervalProfileError([_("The file has no hourly profile: fill in the template.")])
    header = rows[0]
    last = max((index for index in range(len(header.values)) if header.cell(index) is not None), default=0)
    days: list[date | None] = [_header_day(header.cell(column), month, _cell_ref(column, header.number), problems)
                               for column in range(1, last + 1)]
    good_days = [day for day in days if day is not None]
    if len(good_days) == len(days):
        expected = [month.replace(day=number) for number in range(1, days_in(month) + 1)]
        if good_days != expected:
            missing = [day.strftime("%d.%m.%Y") for day in expected if day not in good_days]
            if missing:
                problems.append(_("The first row must hold every day of %(month)s in order (%(days)s days); missing: "
                                  "%(missing)s.", month=format_period(month), days=len(expected),
                                  missing=", ".join(missing[:10])))
            else:
                problems.append(_("The first row must hold every day of %(month)s once and in order.",
                                  month=format_period(month)))
    hour_rows = rows[1:]
    if len(hour_rows) != len(HOURS):
        problems.append(_("The profile must have exactly 24 hour rows (“00-01” to “23-24”); the file has "
                          "%(count)s.", count=len(hour_rows)))
    for index, row in enumerate(hour_rows[:len(HOURS) + 2]):
        problem = _hour_problem(row.cell(0), index, _cell_ref(0, row.number))
        if problem:
            problems.append(problem)
    values: dict[str, list[str]] = {day.isoformat(): [] for day in good_days}
    total = Decimal(0)
    for row in hour_rows[:len(HOURS)]:
        for column, day in enumerate(days, start=1):
            ref = _cell_ref(column, row.number)
            raw = row.cell(column)
            try:
                number = cell_decimal(raw)
            except ValueError:
                problems.append(_("Cell %(cell)s: “%(value)s” is not a number.", cell=ref,
                                  value=(cell_text(raw) or "")[:20]))
                continue
            if number is None:
                problems.append(_("Cell %(cell)s is empty: enter the consumption of that hour (0 if none).",
                                  cell=ref))
                continue
            if number < 0:
                problems.append(_("Cell %(cell)s: the consumption cannot be negative (%(value)s).", cell=ref,
                                  value=cell_text(raw)))
                continue
            if day is not None:
                values[day.isoformat()].append(_exact(number))
                total += number
        extra = [column for column in range(last + 1, len(row.values)) if row.cell(column) is not None]
        if extra:
            problems.append(_("Cell %(cell)s: a value outside the days of the month.",
                              cell=_cell_ref(extra[0], row.number)))
    if problems:
        shown = problems[:MAX_PROBLEMS]
        if len(problems) > MAX_PROBLEMS:
            shown.append(_("… and %(count)s more problems.", count=len(problems) - MAX_PROBLEMS))
        raise IntervalProfileError(shown)
    return ParsedProfile(month=month, values=values, total=total)


def _exact(number: Decimal) -> str:
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


# --- saving: the primary act ------------------------------------------------------------------------

def upload_profile(grant: ContractGrant, user, meter_id: int, month: date, data: bytes,
                   filename: str = "") -> IntervalProfile:
    """Check the file and store it as a pending primary act of the meter for `month`; commits once.
    Raises `IntervalMeterNotFoundError` (404) or `IntervalProfileError` (every problem; nothing written)."""
    meter = interval_meter(grant, meter_id)
    try:
        rows = read_table(data, filename)
    except SpreadsheetError as exc:
        raise IntervalProfileError([exc.message]) from exc
    parsed = parse_profile(rows, month)
    profile = IntervalProfile(meter_id=meter.id, month=month, hourly_values=parsed.values, total=parsed.total,
                              act_number=_next_act_number(meter, month), act_status=PENDING,
                              uploaded_by_id=getattr(user, "id", None), uploaded_at=clock.now())
    db.session.add(profile)
    db.session.flush()
    audit.record("interval_profile.upload", actor=user, subject_type="interval_profile", subject_id=profile.id,
                 counterparty_id=grant.contract.counterparty_id,
                 detail={"act": profile.act_number, "meter": meter.serial, "month": month.isoformat(),
                         "total": str(parsed.total)})
    db.session.commit()
    return profile


def _next_act_number(meter: Meter, month: date) -> str:
    """`ПА-2210-12345` (month, meter serial's tail), with `/2`, `/3` … for further uploads."""
    base = f"ПА-{month:%y%m}-{meter.serial[-5:]}-{meter.id}"[:26]
    taken = set(db.session.scalars(select(IntervalProfile.act_number)
                                   .where(IntervalProfile.act_number.like(f"{base}%"))))
    if base not in taken:
        return base
    number = 2
    while f"{base}/{number}" in taken:
        number += 1
    return f"{base}/{number}"


# --- reading acts and the comparison ----------------------------------------------------------------

def meter_acts(meter: Meter) -> list[IntervalProfile]:
    """The meter's primary acts, newest first (one statement)."""
    return list(db.session.scalars(select(IntervalProfile).where(IntervalProfile.meter_id == meter.id)
                                   .order_by(IntervalProfile.month.desc(), IntervalProfile.uploaded_at.desc(),
                                             IntervalProfile.id.desc())))


def act_for(grant: ContractGrant, act_id: int) -> IntervalProfile:
    """One primary act of the contract within the grant's scope; `IntervalMeterNotFoundError` (404) otherwise."""
    row = db.session.execute(
        select(IntervalProfile, EnergyObject.id)
        .join(Meter, IntervalProfile.meter_id == Meter.id)
        .join(MeteringPoint, Meter.metering_point_id == MeteringPoint.id)
        .join(EnergyObject, MeteringPoint.energy_object_id == EnergyObject.id)
        .where(IntervalProfile.id == act_id, EnergyObject.contract_id == grant.contract.id)
    ).first()
    if row is None or not grant.covers_object(row[1]):
        raise IntervalMeterNotFoundError(_("The act is not one of this contract's acts available to you."))
    return row[0]


def act_workbook(act: IntervalProfile) -> bytes:
    """The primary act as xlsx: the hourly grid with the act's values and a sheet describing the act."""
    from crm.formatting import format_timestamp

    meter = act.meter
    rows = [(_("Primary act"), act.act_number), (_("Status"), status_label(act.act_status)),
            (_("Meter"), f"{meter.serial} {meter.model or ''}".strip()), (_("Month"), format_period(act.month)),
            (_("Direction"), "A+"), (_("Total, kWh"), _exact(act.total)),
            (_("Uploaded"), format_timestamp(act.uploaded_at))]
    if act.reject_reason:
        rows.append((_("Reason of rejection"), act.reject_reason))
    return build_profile_template(meter, act.month, act.hourly_values, rows)


def status_label(status: str) -> str:
    return {PENDING: _("Pending"), ACCEPTED: _("Accepted"), REJECTED: _("Rejected")}.get(status, status)


@dataclass(frozen=True)
class IntervalComparison:
    """One interval meter and month: the act's total, the integral A+ consumption and their delta."""

    meter_id: int
    serial: str
    month: date
    act: IntervalProfile | None
    interval: Decimal | None
    integral: Decimal | None

    @property
    def delta(self) -> Decimal | None:
        if self.interval is None or self.integral is None:
            return None
        return self.integral - self.interval


def interval_comparison(grant: ContractGrant, months: list[date],
                        meter_id: int | None = None) -> list[IntervalComparison]:
    """Per interval meter of the contract within the scope (or one meter) and per month of `months`:
    the latest act that is not rejected, the A+ readings' consumption, delta. Two statements: the meters
    with their acts (outer-joined), then the readings."""
    if not months:
        return []
    meters_query = (select(Meter.id, Meter.serial, IntervalProfile)
                    .join(MeteringPoint, Meter.metering_point_id == MeteringPoint.id)
                    .join(EnergyObject, MeteringPoint.energy_object_id == EnergyObject.id)
                    .outerjoin(IntervalProfile, and_(IntervalProfile.meter_id == Meter.id,
                                                     IntervalProfile.month.in_(months),
                                                     IntervalProfile.act_status != REJECTED))
                    .where(EnergyObject.contract_id == grant.contract.id, Meter.interval_metering.is_(True))
                    .order_by(EnergyObject.code, Meter.serial, Meter.id, IntervalProfile.uploaded_at,
                              IntervalProfile.id))
    if grant.object_ids is not None:
        meters_query = meters_query.where(EnergyObject.id.in_(sorted(grant.object_ids)))
    if meter_id is not None:
        meters_query = meters_query.where(Meter.id == meter_id)
    meters: dict[int, str] = {}
    acts: dict[tuple[int, date], IntervalProfile] = {}
    for id_, serial, act in db.session.execute(meters_query):
        meters.setdefault(id_, serial)
        if act is not None:
            acts[(act.meter_id, act.month)] = act      # the latest upload wins
    if not meters:
        return []
    ids = list(meters)
    integral: dict[tuple[int, date], Decimal] = {}
    # Summed here rather than by SUM(): SQLite's SUM of a NUMERIC is a float, and the delta must be exact.
    for meter, period, consumption in db.session.execute(
            select(Register.meter_id, Reading.period, Reading.consumption)
            .join(Register, Reading.register_id == Register.id)
            .where(Register.meter_id.in_(ids), Register.direction == Direction.IMPORT.value,
                   Reading.period.in_(months), Reading.status != ReadingStatus.REJECTED.value,
                   Reading.consumption.is_not(None))):
        integral[(meter, period)] = integral.get((meter, period), Decimal(0)) + consumption
    result = []
    for meter_id_, serial in meters.items():
        for month in months:
            act = acts.get((meter_id_, month))
            result.append(IntervalComparison(meter_id_, serial, month, act, act.total if act else None,
                                             integral.get((meter_id_, month))))
    return result
