"""Readings history (SPEC C8 "history by period", C12 meter chart) [004 §7.3, 001 §10].

What was read on the contract, grouped object → meter, each meter a table of periods × registers.
Everything goes through the caller's `ContractGrant`, so a power engineer limited to some objects
never reaches the readings of the others, whatever the query string says.

`readings_history()` is a read helper: it never commits and issues a constant number of statements
whatever the number of objects, meters, registers or months (objects; the filter's meters with their
reading counts as plain rows; the page's meters with their points and registers; one query for the
page's readings). The page shows whole meters, `METERS_PER_PAGE` a page, so a meter's registers and
chart stay together; the totals (meters, readings) are those of the whole filter, counted in SQL.
Values stay `Decimal` end to end.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from crm import clock
from crm.access import ContractGrant
from crm.extensions import db
from crm.models import (
    EnergyObject,
    Meter,
    MeteringPoint,
    Reading,
    ReadingStatus,
    Register,
)
from crm.services import ServiceError
from crm.services.meter_pages import page_whole_meters

#: the default range: this many months up to and including the current one
DEFAULT_MONTHS = 12
#: the widest range one page shows (ten years); a wider one is refused with a message
MAX_MONTHS = 120
#: meters on one page of the history (whole meters: a meter's registers and chart stay together)
METERS_PER_PAGE = 20
STATUSES: tuple[str, ...] = tuple(status.value for status in ReadingStatus)
_MONTH = re.compile(r"^\s*(\d{4})-(\d{1,2})\s*$")


class ReadingsFilterError(ServiceError):
    """The history filter cannot be used; `messages` lists every problem (already localised)."""

    def __init__(self, messages: list[str]):
        super().__init__(" ".join(messages), field="filter")
        self.messages = messages


# --- periods --------------------------------------------------------------------------------------

def month_start(day: date) -> date:
    """The billing period of a day: the first day of its month."""
    return day.replace(day=1)


def add_months(period: date, months: int) -> date:
    """The first day of the month `months` after the month of `period` (negative goes back)."""
    index = period.year * 12 + period.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def months_between(first: date, last: date) -> list[date]:
    """Every period from `first` to `last`, both included, in order."""
    count = (last.year - first.year) * 12 + last.month - first.month
    return [add_months(first, offset) for offset in range(count + 1)]


# --- the filter ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class HistoryFilter:
    """Which readings to show: a range of periods, one object or all (None), one status or all (None)."""

    period_from: date
    period_to: date
    energy_object_id: int | None = None
    status: str | None = None


def default_filter(today: date | None = None) -> HistoryFilter:
    """The last 12 months up to the current period, every object, every status."""
    current = month_start(today or clock.today())
    return HistoryFilter(add_months(current, -(DEFAULT_MONTHS - 1)), current)


def _parse_month(raw: str | None, label: str, problems: list[str]) -> date | None:
    if raw is None or not raw.strip():
        return None
    match = _MONTH.match(raw)
    if match:
        year, month = int(match.group(1)), int(match.group(2))
        if 1900 <= year <= 2999 and 1 <= month <= 12:
            return date(year, month, 1)
    problems.append(_("The month “%(value)s” in “%(field)s” is not recognised: choose a month and a year.",
                      value=raw.strip()[:20], field=label))
    return None


def parse_filter(args: Mapping[str, str], today: date | None = None) -> HistoryFilter:
    """The filter from a query string (`from`, `to` as YYYY-MM, `object`, `status`); blank means default.

    Raises `ReadingsFilterError` listing every problem at once.
    """
    defaults = default_filter(today)
    problems: list[str] = []
    period_from = _parse_month(args.get("from"), _("From"), problems)
    period_to = _parse_month(args.get("to"), _("To"), problems)
    object_id = None
    raw_object = (args.get("object") or "").strip()
    if raw_object:
        if raw_object.isdigit() and len(raw_object) <= 12:
            object_id = int(raw_object)
        else:
            problems.append(_("The energy object is not one of this contract's objects available to you."))
    status = (args.get("status") or "").strip() or None
    if status is not None and status not in STATUSES:
        problems.append(_("Unknown readings status “%(value)s”: choose one from the list.", value=status[:20]))
        status = None
    if problems:
        raise ReadingsFilterError(problems)
    chosen = HistoryFilter(period_from or defaults.period_from, period_to or defaults.period_to, object_id, status)
    _check_range(chosen.period_from, chosen.period_to)
    return chosen


def _check_range(period_from: date, period_to: date) -> None:
    if period_from > period_to:
        raise ReadingsFilterError([_("The start of the period is after its end: choose “From” no later than “To”.")])
    if len(months_between(period_from, period_to)) > MAX_MONTHS:
        raise ReadingsFilterError([_("Choose a period of at most %(years)s years.", years=MAX_MONTHS // 12)])


# --- the history ----------------------------------------------------------------------------------

@dataclass
class PeriodRow:
    """One period of one meter: the reading of each register (None where it has none)."""

    period: date
    readings: list[Reading | None]

    @property
    def present(self) -> list[Reading]:
        return [reading for reading in self.readings if reading is not None]


@dataclass
class MeterHistory:
    meter: Meter
    metering_point: MeteringPoint
    registers: list[Register]
    rows: list[PeriodRow] = field(default_factory=list)   # newest period first

    @property
    def reading_count(self) -> int:
        return sum(len(row.present) for row in self.rows)

    def totals(self) -> list[Decimal | None]:
        """Consumption of each register over the shown periods (None when it has no consumption)."""
        sums: list[Decimal | None] = [None] * len(self.registers)
        for row in self.rows:
            for index, reading in enumerate(row.readings):
                if reading is not None and reading.consumption is not None:
                    sums[index] = (sums[index] or Decimal(0)) + reading.consumption
        return sums

    def consumption_series(self) -> tuple[list[date], list[list[Decimal | None]]]:
        """Periods in order (first to last shown) and, per register, the consumption of each."""
        periods = [row.period for row in reversed(self.rows)]
        by_period = {row.period: row for row in self.rows}
        series = [[by_period[period].readings[index].consumption if by_period[period].readings[index] else None
                   for period in periods]
                  for index in range(len(self.registers))]
        return periods, series


@dataclass
class ObjectHistory:
    energy_object: EnergyObject
    meters: list[MeterHistory] = field(default_factory=list)

    @property
    def reading_count(self) -> int:
        return sum(meter.reading_count for meter in self.meters)


@dataclass
class ReadingsHistory:
    """The history page's data: the filter used, the objects to choose from and the objects shown (those
    of the current page); `meter_total` and `reading_total` count the whole filter, every page."""

    filter: HistoryFilter
    available_objects: list[EnergyObject]     # within the grant's scope, for the filter
    objects: list[ObjectHistory]
    scoped: bool                              # the grant covers only some of the contract's objects
    page: int = 1
    page_count: int = 1
    meter_total: int = 0                      # meters of the filter, on every page
    reading_total: int = 0                    # readings of the filter, on every page

    @property
    def reading_count(self) -> int:
        """Readings of the shown page."""
        return sum(obj.reading_count for obj in self.objects)

    @property
    def meter_count(self) -> int:
        """Meters of the shown page."""
        return sum(len(obj.meters) for obj in self.objects)


def readings_history(grant: ContractGrant, period_from: date, period_to: date,
                     energy_object_id: int | None = None, status: str | None = None,
                     page: int = 1, per_page: int | None = None) -> ReadingsHistory:
    """The contract's readings from `period_from` to `period_to` (months), per object → meter, within
    the grant's object scope; one object or all (None); one status or all (None). Whole meters are paged,
    `per_page` a page (None: every meter, as the xlsx export wants); a page out of range gives the
    nearest one. Five statements, whatever the number of meters, registers or months.

    Raises `ReadingsFilterError` for a reversed or too long range, an unknown status, or an object
    that is not the contract's or is outside the grant's scope (nothing of it is read).
    """
    period_from, period_to = month_start(period_from), month_start(period_to)
    _check_range(period_from, period_to)
    if status is not None and status not in STATUSES:
        raise ReadingsFilterError([_("Unknown readings status “%(value)s”: choose one from the list.",
                                     value=str(status)[:20])])
    if energy_object_id is not None and not grant.covers_object(energy_object_id):
        raise ReadingsFilterError([_("The energy object is not one of this contract's objects available to you.")])

    objects_query = (select(EnergyObject).where(EnergyObject.contract_id == grant.contract.id)
                     .order_by(EnergyObject.code, EnergyObject.id))
    if grant.object_ids is not None:
        objects_query = objects_query.where(EnergyObject.id.in_(sorted(grant.object_ids)))
    available = list(db.session.scalars(objects_query))
    if energy_object_id is not None and energy_object_id not in {obj.id for obj in available}:
        raise ReadingsFilterError([_("The energy object is not one of this contract's objects available to you.")])
    shown = [obj for obj in available if energy_object_id is None or obj.id == energy_object_id]
    chosen = HistoryFilter(period_from, period_to, energy_object_id, status)
    history = ReadingsHistory(filter=chosen, available_objects=available, objects=[],
                              scoped=grant.object_ids is not None)
    if not shown:
        return history

    shown_ids = [obj.id for obj in shown]
    in_filter = [Reading.period >= period_from, Reading.period <= period_to]
    if status is not None:
        in_filter.append(Reading.status == status)
    # Per meter of the filter (plain rows, page order): how many (register, period) it has readings for
    # — a register shows one reading per period, the latest should a resubmission leave two.
    # Only the registers of the shown objects' meters (ix_reading_register_period), each with its meter:
    # aggregating the readings of every contract first and joining the meters after cost 1-2 s at scale 1.
    pairs = (select(Register.meter_id.label("meter_id"), Reading.register_id, Reading.period)
             .join(Register, Register.id == Reading.register_id)
             .join(Meter, Meter.id == Register.meter_id)
             .join(MeteringPoint, MeteringPoint.id == Meter.metering_point_id)
             .where(MeteringPoint.energy_object_id.in_(shown_ids), *in_filter)
             .group_by(Register.meter_id, Reading.register_id, Reading.period).subquery())
    counts = (select(pairs.c.meter_id, func.count().label("readings"))
              .group_by(pairs.c.meter_id).subquery())
    meter_rows = db.session.execute(
        select(Meter.id, MeteringPoint.energy_object_id, func.coalesce(counts.c.readings, 0))
        .join(MeteringPoint, Meter.metering_point_id == MeteringPoint.id)
        .outerjoin(counts, counts.c.meter_id == Meter.id)
        .where(MeteringPoint.energy_object_id.in_(shown_ids))
        .order_by(MeteringPoint.name, MeteringPoint.id, Meter.serial, Meter.id)).all()
    meters_of: dict[int, list[int]] = {}
    for meter_id, energy_object_id_, readings in meter_rows:
        # Filtering by status asks "which readings are rejected (…)": meters with none are noise.
        if status is not None and not readings:
            continue
        meters_of.setdefault(energy_object_id_, []).append(meter_id)
        history.reading_total += readings
    ordered = [(obj, meters_of.get(obj.id, [])) for obj in shown if meters_of.get(obj.id) or status is None]

    paged = page_whole_meters(ordered, page, per_page)
    history.page, history.page_count, history.meter_total = paged.page, paged.page_count, paged.total
    page_meters = paged.page_meters

    wanted = [meter_id for _obj, meter_ids in page_meters for meter_id in meter_ids]
    loaded: dict[int, Meter] = {}
    latest: dict[tuple[int, date], Reading] = {}
    if wanted:
        loaded = {meter.id: meter for meter in db.session.scalars(
            select(Meter).where(Meter.id.in_(wanted))
            .options(joinedload(Meter.metering_point), selectinload(Meter.registers)))}
        readings_query = (
            select(Reading)
            .join(Register, Reading.register_id == Register.id)
            .where(Register.meter_id.in_(wanted), *in_filter)
            .order_by(Reading.period.desc(), Reading.register_id, Reading.submitted_at.desc(), Reading.id.desc())
        )
        # A register has one reading per period; should a resubmission leave two, the latest one is shown.
        for reading in db.session.scalars(readings_query):
            latest.setdefault((reading.register_id, reading.period), reading)

    periods_of: dict[int, set[date]] = {}
    for register_id, period in latest:
        periods_of.setdefault(register_id, set()).add(period)

    for obj, meter_ids in page_meters:
        meters = []
        for meter_id in meter_ids:
            meter = loaded[meter_id]
            registers = list(meter.registers)
            periods = set().union(*(periods_of.get(register.id, set()) for register in registers))
            rows = [PeriodRow(period, [latest.get((register.id, period)) for register in registers])
                    for period in sorted(periods, reverse=True)]
            meters.append(MeterHistory(meter=meter, metering_point=meter.metering_point, registers=registers,
                                       rows=rows))
        history.objects.append(ObjectHistory(energy_object=obj, meters=meters))
    return history
