"""Readings and the billing system (SPEC B9): export of submitted readings, import of accepted ones.

One service, two entry points each way: the back office downloads the export as xlsx/CSV and uploads
files of accepted readings; the billing API (`crm/api/readings.py`) pages through the same export
and posts the same accepted readings as JSON.

The export's columns are stable machine names (`EXPORT_COLUMNS`), so billing can read them back. An
accepted reading is identified by `external_id` (billing's id) + `meter_serial` + `zone` + `direction`
+ `period` + `value` (+ optionally `contract`, when a serial is not unique). The import is idempotent
by external id (a second identical import changes nothing) and all-or-nothing: any bad row means
nothing is written and every bad row is reported with its number and reason.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import xlsxwriter
from flask_babel import gettext as _
from sqlalchemy import select

from crm import clock
from crm.extensions import db
from crm.models import (
    Branch,
    Contract,
    Direction,
    EnergyObject,
    Meter,
    MeteringPoint,
    Reading,
    ReadingSource,
    ReadingStatus,
    Register,
    TariffZone,
)
from crm.services import ServiceError, audit
from crm.services.consumption import ReadingValueError, consumption_between
from crm.services.spreadsheets import CSV, XLS, XLSX, Row, cell_decimal, cell_text, read_table

EXPORT_COLUMNS: tuple[str, ...] = ("contract", "account", "object_code", "meter_serial", "zone", "direction",
                                   "period", "value", "previous", "consumption", "submitted_at", "source",
                                   "reading_id")
IMPORT_REQUIRED: tuple[str, ...] = ("external_id", "meter_serial", "zone", "direction", "period", "value")
IMPORT_OPTIONAL: tuple[str, ...] = ("contract",)
#: the largest page of the API's keyset-paged export
MAX_PAGE = 5000
DEFAULT_PAGE = 1000
MAX_VALUE = Decimal(10) ** 12
ZONES = tuple(zone.value for zone in TariffZone)
DIRECTIONS = tuple(direction.value for direction in Direction)
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})(?:-01)?$")
_MONTH_RU = re.compile(r"^(?:01\.)?(\d{1,2})\.(\d{4})$")


class ExportFilterError(ServiceError):
    """The export cannot be made as asked (period, branch, paging); `message` is localised."""


class AcceptedReadingsError(ServiceError):
    """Accepted readings were refused; `problems` lists (row or item number, reason) for every bad one."""

    def __init__(self, problems: list[tuple[int, str]]):
        super().__init__(_("Nothing was imported: %(count)s rows have errors.", count=len(problems)), status=422)
        self.problems = problems


# --- export ---------------------------------------------------------------------------------------

def submitted_rows(period: date, branch_code: str | None = None, after_id: int | None = None,
                   limit: int | None = None) -> list[dict]:
    """Submitted readings of `period` (optionally one branch), ordered by reading id, as export rows
    (Decimals stay Decimal); keyset-paged by `after_id` and `limit`. One statement."""
    query = (
        select(Reading.id, Reading.period, Reading.value, Reading.previous_value, Reading.consumption,
               Reading.submitted_at, Reading.source, Register.zone, Register.direction, Meter.serial,
               EnergyObject.code, Contract.number, Contract.account_number)
        .join(Register, Reading.register_id == Register.id)
        .join(Meter, Register.meter_id == Meter.id)
        .join(MeteringPoint, Meter.metering_point_id == MeteringPoint.id)
        .join(EnergyObject, MeteringPoint.energy_object_id == EnergyObject.id)
        .join(Contract, EnergyObject.contract_id == Contract.id)
        .where(Reading.period == period.replace(day=1), Reading.status == ReadingStatus.SUBMITTED.value)
        .order_by(Reading.id)
    )
    if branch_code:
        query = query.join(Branch, Contract.branch_id == Branch.id).where(Branch.code == branch_code)
    if after_id is not None:
        query = query.where(Reading.id > min(after_id, 2 ** 31 - 1))  # PostgreSQL refuses a bigger INTEGER
    if limit is not None:
        query = query.limit(limit)
    return [{"contract": row.number, "account": row.account_number, "object_code": row.code,
             "meter_serial": row.serial, "zone": row.zone, "direction": row.direction,
             "period": row.period.strftime("%Y-%m"), "value": row.value, "previous": row.previous_value,
             "consumption": row.consumption, "submitted_at": row.submitted_at, "source": row.source,
             "reading_id": row.id}
            for row in db.session.execute(query)]


def export_filename(period: date, branch_code: str | None, extension: str) -> str:
    suffix = f"-{branch_code}" if branch_code else ""
    return f"readings-{period:%Y-%m}{suffix}.{extension}"


def _plain(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f").rstrip("0")
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value)


def export_csv(rows: Iterable[dict]) -> bytes:
    """The export as CSV: UTF-8 with a BOM (Excel opens it), `;` between fields, `.` in numbers."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    for row in rows:
        writer.writerow([_plain(row[column]) for column in EXPORT_COLUMNS])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def export_xlsx(rows: Iterable[dict]) -> bytes:
    """The export as an xlsx workbook: a header of column names, numbers as numbers, text as text."""
    output = io.BytesIO()
    workbook = xlsxwriter.Workbook(output, {"in_memory": True})
    sheet = workbook.add_worksheet("readings")
    bold = workbook.add_format({"bold": True})
    sheet.write_row(0, 0, EXPORT_COLUMNS, bold)
    sheet.freeze_panes(1, 0)
    numeric = {"value", "previous", "consumption", "reading_id"}
    for index, row in enumerate(rows, start=1):
        for column, name in enumerate(EXPORT_COLUMNS):
            value = row[name]
            if value is None:
                sheet.write_blank(index, column, None)
            elif name in numeric:
                sheet.write_number(index, column, float(value))
            else:
                sheet.write_string(index, column, _plain(value))
    sheet.set_column(0, len(EXPORT_COLUMNS) - 1, 16)
    workbook.close()
    return output.getvalue()


def parse_period(raw) -> date:
    """A period from `YYYY-MM` (or a date); raises `ExportFilterError`."""
    period = _period_of(raw)
    if period is None:
        raise ExportFilterError(_("Give the period as a month: YYYY-MM."), field="period")
    return period


def _period_of(value) -> date | None:
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return value if value.day == 1 else None
    text = cell_text(value)
    if not text:
        return None
    for pattern, year_group, month_group in ((_MONTH, 1, 2), (_MONTH_RU, 2, 1)):
        match = pattern.match(text.strip())
        if match:
            year, month = int(match.group(year_group)), int(match.group(month_group))
            if 1900 <= year <= 2999 and 1 <= month <= 12:
                return date(year, month, 1)
    return None


# --- import ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AcceptedItem:
    """One accepted reading as billing sent it (already checked for form, not yet against the data)."""

    number: int
    external_id: str
    meter_serial: str
    zone: str
    direction: str
    period: date
    value: Decimal
    contract: str | None = None


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    unchanged: int

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


def _item(number: int, get, problems: list[tuple[int, str]]) -> AcceptedItem | None:
    """One item from a getter of raw values by column name; appends its problems."""
    mine: list[str] = []
    external_id = cell_text(get("external_id"))
    if not external_id:
        mine.append(_("no external id"))
    elif len(external_id) > 64:
        mine.append(_("the external id is longer than 64 characters"))
    serial = cell_text(get("meter_serial"))
    if not serial:
        mine.append(_("no meter serial number"))
    elif len(serial) > 64:
        mine.append(_("the meter serial number is longer than 64 characters"))
    zone = (cell_text(get("zone")) or "").lower()
    if zone not in ZONES:
        mine.append(_("unknown tariff zone “%(value)s” (expected one of: %(values)s)", value=zone[:20],
                      values=", ".join(ZONES)))
    direction = (cell_text(get("direction")) or "").upper().replace("\u2212", "-")
    if direction not in DIRECTIONS:
        mine.append(_("unknown direction “%(value)s” (expected one of: %(values)s)", value=direction[:10],
                      values=", ".join(DIRECTIONS)))
    period = _period_of(get("period"))
    if period is None:
        mine.append(_("the period “%(value)s” is not a month (YYYY-MM)", value=(cell_text(get("period")) or "")[:20]))
    value = None
    try:
        value = cell_decimal(get("value"))
    except ValueError:
        mine.append(_("the value “%(value)s” is not a number", value=(cell_text(get("value")) or "")[:30]))
    else:
        if value is None:
            mine.append(_("no value"))
        elif value < 0:
            mine.append(_("the value is negative"))
        elif value >= MAX_VALUE or value.as_tuple().exponent < -4:
            mine.append(_("the value has more digits than a reading can have"))
    contract = cell_text(get("contract"))
    if contract is not None and (len(contract) != 14 or not contract.isdigit()):
        mine.append(_("the contract number must have 14 digits"))
    if mine:
        problems.extend((number, message) for message in mine)
        return None
    return AcceptedItem(number, external_id, serial, zone, direction, period, value, contract)


def items_from_table(rows: list[Row]) -> tuple[list[AcceptedItem], list[tuple[int, str]]]:
    """Items of an uploaded table: a header row naming the columns (any order), then one row each."""
    problems: list[tuple[int, str]] = []
    rows = [row for row in rows if not row.is_blank]
    if not rows:
        return [], [(1, _("The file has no header row and no readings."))]
    header = {(cell_text(value) or "").strip().lower(): index for index, value in enumerate(rows[0].values)}
    missing = [name for name in IMPORT_REQUIRED if name not in header]
    if missing:
        return [], [(rows[0].number, _("The header row lacks the columns: %(columns)s.", columns=", ".join(missing)))]
    if len(rows) == 1:
        return [], [(rows[0].number, _("The file has no readings under its header row."))]
    items = []
    for row in rows[1:]:
        item = _item(row.number, lambda name, row=row: row.cell(header[name]) if name in header else None, problems)
        if item is not None:
            items.append(item)
    return items, problems


def items_from_json(payload) -> tuple[list[AcceptedItem], list[tuple[int, str]]]:
    """Items of the API's JSON body: a list of objects (numbered from 1)."""
    if not isinstance(payload, list) or not payload:
        return [], [(0, _("Send a non-empty JSON list of accepted readings."))]
    problems: list[tuple[int, str]] = []
    items = []
    for number, entry in enumerate(payload, start=1):
        if not isinstance(entry, dict):
            problems.append((number, _("not a JSON object")))
            continue
        value = entry.get("value")
        if isinstance(value, float):  # JSON numbers: exact by their shortest repr, like spreadsheet cells
            value = repr(value)
        values = {**entry, "value": value}
        item = _item(number, lambda name, values=values: values.get(name), problems)
        if item is not None:
            items.append(item)
    return items, problems


def read_accepted_file(data: bytes, filename: str) -> tuple[list[AcceptedItem], list[tuple[int, str]]]:
    """Items of an uploaded .xlsx/.xls/.csv (through the one safe reader)."""
    return items_from_table(read_table(data, filename, allowed=(XLSX, XLS, CSV)))


def import_accepted(items: list[AcceptedItem], problems: list[tuple[int, str]] | None = None, *, actor=None,
                    channel: str = "file") -> ImportResult:
    """Write accepted readings: by external id (update), else the register's reading of that period
    without one (it becomes accepted), else a new reading from billing. All or nothing: raises
    `AcceptedReadingsError` with every bad row (including `problems` found while parsing). Commits."""
    problems = list(problems or [])
    if not items and not problems:
        problems.append((0, _("There are no readings to import.")))
    serials = sorted({item.meter_serial for item in items})
    meters: dict[str, list] = {}
    for row in db.session.execute(
        select(Meter.id, Meter.serial, Meter.digits_integer, MeteringPoint.transformation_ratio,
               MeteringPoint.losses_percent, Contract.number)
        .join(MeteringPoint, Meter.metering_point_id == MeteringPoint.id)
        .join(EnergyObject, MeteringPoint.energy_object_id == EnergyObject.id)
        .join(Contract, EnergyObject.contract_id == Contract.id)
        .where(Meter.serial.in_(serials))
    ) if serials else []:
        meters.setdefault(row.serial, []).append(row)
    meter_ids = sorted({row.id for rows in meters.values() for row in rows})
    registers = {(row.meter_id, row.zone, row.direction): row.id for row in db.session.execute(
        select(Register.id, Register.meter_id, Register.zone, Register.direction)
        .where(Register.meter_id.in_(meter_ids)))} if meter_ids else {}

    resolved: list[tuple[AcceptedItem, int, object]] = []   # item, register id, meter row
    seen_external: dict[str, int] = {}
    seen_register: dict[tuple[int, date], int] = {}
    for item in items:
        candidates = [row for row in meters.get(item.meter_serial, [])
                      if item.contract is None or row.number == item.contract]
        if not candidates:
            problems.append((item.number, _("no meter with serial number %(serial)s", serial=item.meter_serial)
                             if item.contract is None else
                             _("no meter with serial number %(serial)s on contract %(contract)s",
                               serial=item.meter_serial, contract=item.contract)))
            continue
        if len(candidates) > 1:
            problems.append((item.number, _("several meters have serial number %(serial)s: give the contract "
                                            "number too", serial=item.meter_serial)))
            continue
        meter = candidates[0]
        register_id = registers.get((meter.id, item.zone, item.direction))
        if register_id is None:
            problems.append((item.number, _("meter %(serial)s has no register %(direction)s %(zone)s",
                                            serial=item.meter_serial, direction=item.direction, zone=item.zone)))
            continue
        if item.external_id in seen_external:
            problems.append((item.number, _("external id %(id)s repeats row %(row)s", id=item.external_id,
                                            row=seen_external[item.external_id])))
            continue
        if (register_id, item.period) in seen_register:
            problems.append((item.number, _("the same register and period as row %(row)s",
                                            row=seen_register[(register_id, item.period)])))
            continue
        seen_external[item.external_id] = item.number
        seen_register[(register_id, item.period)] = item.number
        resolved.append((item, register_id, meter))

    register_ids = sorted({register_id for _item_, register_id, _meter in resolved})
    by_external = {reading.external_id: reading for reading in db.session.scalars(
        select(Reading).where(Reading.external_id.in_(sorted(seen_external))))} if seen_external else {}
    last_period = max((item.period for item, *_rest in resolved), default=None)
    history: dict[int, list[Reading]] = {}
    if register_ids:
        for reading in db.session.scalars(
            select(Reading).where(Reading.register_id.in_(register_ids), Reading.period <= last_period)
            .order_by(Reading.period, Reading.submitted_at, Reading.id)
        ):
            history.setdefault(reading.register_id, []).append(reading)
    plan: list[tuple[AcceptedItem, object, Reading | None, int]] = []
    for item, register_id, meter in resolved:
        target = by_external.get(item.external_id)
        if target is not None and (target.register_id != register_id or target.period != item.period):
            problems.append((item.number, _("external id %(id)s already belongs to another meter register or "
                                            "period", id=item.external_id)))
            continue
        if target is None:
            same_period = [reading for reading in history.get(register_id, []) if reading.period == item.period]
            taken = [reading for reading in same_period if reading.external_id]
            if taken:
                problems.append((item.number, _("the register already has the accepted reading %(id)s from billing "
                                                "for this period", id=taken[-1].external_id)))
                continue
            target = same_period[-1] if same_period else None
        plan.append((item, meter, target, register_id))
    if problems:
        db.session.rollback()
        raise AcceptedReadingsError(sorted(problems, key=lambda problem: problem[0]))

    now = clock.now()
    created = updated = unchanged = 0
    for item, meter, target, register_id in plan:
        previous = next((reading.value for reading in reversed(history.get(register_id, []))
                         if reading.period < item.period and reading.status != ReadingStatus.REJECTED.value), None)
        try:
            result = consumption_between(previous, item.value, meter.digits_integer, meter.transformation_ratio,
                                         meter.losses_percent, rollover_confirmed=True)
        except ReadingValueError:   # billing's value stands; consumption is billing's business then
            result = None
        values = {"value": item.value, "previous_value": previous, "status": ReadingStatus.ACCEPTED.value,
                  "external_id": item.external_id, "reject_reason": None,
                  "consumption": result.consumption if result else None, "rollover": bool(result and result.rollover)}
        if target is None:
            db.session.add(Reading(register_id=register_id, period=item.period, source=ReadingSource.BILLING.value,
                                   submitted_at=now, reviewed_at=now, **values))
            created += 1
            continue
        changed = {key: value for key, value in values.items() if getattr(target, key) != value}
        if not changed:
            unchanged += 1
            continue
        if "status" in changed:
            target.reviewed_at = now
            target.reviewed_by_id = getattr(actor, "id", None)
        for key, value in changed.items():
            setattr(target, key, value)
        updated += 1
    result = ImportResult(created, updated, unchanged)
    audit.record("readings.import_accepted", actor=actor, subject_type="reading",
                 detail={"channel": channel, "created": created, "updated": updated, "unchanged": unchanged})
    db.session.commit()
    return result
