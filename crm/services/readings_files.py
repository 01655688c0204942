"""The integral readings file of SPEC C8 [004 §5.2]: the contract's xlsx template and its upload.

The template lists every register of the contract inside the user's object scope (object code, name,
status, meter, metering point, A+/A−, zone, previous value, current value) with a narrow technical
column at the end holding the register id, so rows are matched robustly even when the person sorts or
filters the sheet; without that column (removed or emptied) a row is matched by meter serial +
direction + zone.

The upload applies exactly the rules of the form: it goes through
`crm.services.readings_entry.submit_readings(source=FILE)`, and every problem that function reports per
register is mapped back to the file's row number. Problems of the file itself (a meter not on the
contract or outside the scope, a duplicate row, a register id that does not match its row, text in a
number) are collected first; all of them are reported at once and nothing is saved.

Reads are set-based (a constant number of statements whatever the number of meters) and the template
is written by xlsxwriter in `constant_memory` mode, so 10 000 meters take a second or two.
"""
from __future__ import annotations

import io
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import xlsxwriter
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, select
from sqlalchemy import inspect as sa_inspect

from crm import clock
from crm.access import ContractGrant
from crm.extensions import db
from crm.models import (
    Direction,
    EnergyObject,
    InputStatus,
    Meter,
    MeteringPoint,
    Reading,
    ReadingSource,
    ReadingStatus,
    Register,
    TariffZone,
)
from crm.services import ServiceError
from crm.services.consumption import ReadingValueError, consumption_between, parse_reading
from crm.services.readings_entry import ReadingsEntryError, submit_readings
from crm.services.readings_windows import entry_window
from crm.services.spreadsheets import Row, SpreadsheetError, cell_text, read_table

#: the template's columns, in order: key → header (msgid)
COLUMNS: tuple[tuple[str, Any], ...] = (
    ("object_code", _l("Object code")),
    ("object_name", _l("Object name")),
    ("status", _l("Status")),
    ("serial", _l("Meter")),
    ("point", _l("Metering point")),
    ("direction", _l("A+/A−")),
    ("zone", _l("Register")),
    ("previous", _l("Previous readings")),
    ("current", _l("Current readings")),
    ("register_id", _l("Register id")),
)
_INDEX = {key: index for index, (key, _header) in enumerate(COLUMNS)}
WIDTHS = {"object_code": 14, "object_name": 34, "status": 16, "serial": 16, "point": 28, "direction": 8,
          "zone": 16, "previous": 16, "current": 18, "register_id": 7}
#: rows above this are looked at when searching for the header row (a person may add a title)
HEADER_SEARCH_ROWS = 10

ZONE_LABELS = {TariffZone.ALL_DAY.value: _l("All day"), TariffZone.DAY.value: _l("Day"),
               TariffZone.NIGHT.value: _l("Night"), TariffZone.PEAK.value: _l("Peak"),
               TariffZone.SEMI_PEAK.value: _l("Semi-peak")}
STATUS_LABELS = {InputStatus.WAITING.value: _l("Waiting for readings"),
                 InputStatus.RECEIVED.value: _l("Readings received"),
                 InputStatus.NOT_REQUIRED.value: _l("Readings not required")}
LOCALES = ("ru", "en")


class ReadingsFileError(ServiceError):
    """The upload cannot be saved; `problems` lists every bad row (row number, message, kind)."""

    def __init__(self, problems: list[RowProblem]):
        super().__init__(" ".join(problem.message for problem in problems[:3]), field="file")
        self.problems = problems

    @property
    def needs_confirmation(self) -> bool:
        """Only rollovers and jumps are left: the person may confirm them and save."""
        return bool(self.problems) and all(problem.kind in ("rollover", "jump") for problem in self.problems)


@dataclass(frozen=True)
class RowProblem:
    row: int | None          # the row number as Excel shows it; None for the file as a whole
    message: str
    kind: str = "error"      # "error", or "rollover"/"jump" (the person may confirm)
    register_id: int | None = None


# --- the contract's registers -----------------------------------------------------------------------

@dataclass
class SheetRow:
    """One register of the contract inside the scope, with what the template shows about it."""

    register_id: int
    meter_id: int
    object_id: int
    object_code: str
    object_name: str
    object_status: str
    meter_status: str
    serial: str
    point: str
    direction: str
    zone: str
    digits_integer: int
    digits_fraction: int
    previous: Decimal | None = None
    submitted: Decimal | None = None     # what is already submitted for the period (not rejected)
    accepted: bool = False               # that reading is accepted: it cannot change any more

    @property
    def status(self) -> str:
        """The object's status when it does not wait for readings, else the meter's."""
        return self.object_status if self.object_status != InputStatus.WAITING.value else self.meter_status


def sheet_rows(grant: ContractGrant, period: date) -> list[SheetRow]:
    """Every register of the contract within the grant's object scope, in template order, with the
    previous value (the latest reading before `period`, rejected ones aside) and the value already
    submitted for `period`. Three statements whatever the number of meters; never commits."""
    query = (
        select(Register.id, Meter.id, EnergyObject.id, EnergyObject.code, EnergyObject.name, EnergyObject.status,
               Meter.status, Meter.serial, MeteringPoint.name, Register.direction, Register.zone,
               Meter.digits_integer, Meter.digits_fraction)
        .join(Meter, Register.meter_id == Meter.id)
        .join(MeteringPoint, Meter.metering_point_id == MeteringPoint.id)
        .join(EnergyObject, MeteringPoint.energy_object_id == EnergyObject.id)
        .where(EnergyObject.contract_id == grant.contract.id)
        .order_by(EnergyObject.code, EnergyObject.id, MeteringPoint.name, MeteringPoint.id, Meter.serial, Meter.id,
                  Register.position, Register.id)
    )
    if grant.object_ids is not None:
        query = query.where(EnergyObject.id.in_(sorted(grant.object_ids)))
    rows = [SheetRow(*values) for values in db.session.execute(query)]
    if not rows:
        return rows
    by_id = {row.register_id: row for row in rows}
    contract_registers = _contract_register_ids(grant)
    not_rejected = Reading.status != ReadingStatus.REJECTED.value

    # The previous value: the register's latest period before `period`; should that period hold two
    # readings (a resubmission), the latest submitted one counts.
    latest = (select(Reading.register_id.label("register_id"), func.max(Reading.period).label("period"))
              .where(Reading.register_id.in_(contract_registers), Reading.period < period, not_rejected)
              .group_by(Reading.register_id).subquery())
    previous = db.session.execute(
        select(Reading.register_id, Reading.value)
        .join(latest, and_(Reading.register_id == latest.c.register_id, Reading.period == latest.c.period))
        .where(not_rejected)
        .order_by(Reading.register_id, Reading.submitted_at, Reading.id))
    for register_id, value in previous:
        if register_id in by_id:
            by_id[register_id].previous = value
    submitted = db.session.execute(
        select(Reading.register_id, Reading.value, Reading.status)
        .where(Reading.register_id.in_(contract_registers), Reading.period == period, not_rejected)
        .order_by(Reading.register_id, Reading.submitted_at, Reading.id))
    for register_id, value, status in submitted:
        if register_id in by_id:
            by_id[register_id].submitted = value
            by_id[register_id].accepted = status == ReadingStatus.ACCEPTED.value
    return rows


def _contract_register_ids(grant: ContractGrant):
    query = (select(Register.id).join(Meter, Register.meter_id == Meter.id)
             .join(MeteringPoint, Meter.metering_point_id == MeteringPoint.id)
             .join(EnergyObject, MeteringPoint.energy_object_id == EnergyObject.id)
             .where(EnergyObject.contract_id == grant.contract.id))
    if grant.object_ids is not None:
        query = query.where(EnergyObject.id.in_(sorted(grant.object_ids)))
    return query.scalar_subquery()


def direction_text(direction: str) -> str:
    """`A−` with a real minus sign, as the form shows it."""
    return direction.replace("-", "−")


# --- the template ---------------------------------------------------------------------------------

def build_template(grant: ContractGrant, period: date, period_label: str) -> bytes:
    """The contract's integral readings template for `period` as xlsx bytes (labels in the current
    locale); `period_label` is the period as the page names it ("Октябрь 2022")."""
    rows = sheet_rows(grant, period)
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"constant_memory": True, "in_memory": True})
    header = workbook.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#E9ECEF",
                                  "border": 1})
    fill_header = workbook.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#FFF3CD",
                                       "border": 1})
    technical = workbook.add_format({"font_color": "#6C757D", "font_size": 8})
    previous_formats = [workbook.add_format({"num_format": _number_format(digits)}) for digits in range(5)]
    current_formats = [workbook.add_format({"num_format": _number_format(digits), "bg_color": "#FFFBEA",
                                            "border": 1, "border_color": "#DEE2E6"}) for digits in range(5)]

    sheet = workbook.add_worksheet(_("Readings")[:31])
    for index, (key, _header) in enumerate(COLUMNS):
        fmt = technical if key == "register_id" else None
        sheet.set_column(index, index, WIDTHS[key], fmt)
        sheet.write_string(0, index, str(_header), fill_header if key == "current" else header)
    sheet.write_comment(0, _INDEX["register_id"],
                        _("Technical column: the register's id in our system, used to match the row. "
                          "Do not change it; you may sort and filter the rows."),
                        {"x_scale": 2, "y_scale": 1.5})
    sheet.write_comment(0, _INDEX["current"],
                        _("Enter the current readings for %(period)s here; leave the cell empty to skip "
                          "the register.", period=period_label), {"x_scale": 2, "y_scale": 1.2})
    sheet.freeze_panes(1, 0)
    sheet.set_row(0, 32)
    statuses = {key: str(value) for key, value in STATUS_LABELS.items()}
    zones = {key: str(value) for key, value in ZONE_LABELS.items()}
    for number, row in enumerate(rows, start=1):
        fraction = min(max(row.digits_fraction, 0), 4)
        sheet.write_string(number, 0, row.object_code)
        sheet.write_string(number, 1, row.object_name)
        sheet.write_string(number, 2, statuses.get(row.status, row.status))
        sheet.write_string(number, 3, row.serial)
        sheet.write_string(number, 4, row.point)
        sheet.write_string(number, 5, direction_text(row.direction))
        sheet.write_string(number, 6, zones.get(row.zone, row.zone))
        if row.previous is not None:
            sheet.write_number(number, 7, float(row.previous), previous_formats[fraction])
        if row.submitted is not None:
            sheet.write_number(number, 8, float(row.submitted), current_formats[fraction])
        else:
            sheet.write_blank(number, 8, None, current_formats[fraction])
        sheet.write_number(number, 9, row.register_id, technical)
    if rows:
        sheet.autofilter(0, 0, len(rows), len(COLUMNS) - 1)
    _write_instructions(workbook, header, period_label)
    workbook.close()
    return buffer.getvalue()


def _number_format(digits: int) -> str:
    return "0" if digits <= 0 else "0." + "0" * digits


def _write_instructions(workbook, header, period_label: str) -> None:
    sheet = workbook.add_worksheet(_("Instructions")[:31])
    sheet.set_column(0, 0, 110, workbook.add_format({"text_wrap": True, "valign": "top"}))
    lines = [
        _("How to fill in the readings file for %(period)s", period=period_label),
        _("1. On the “Readings” sheet, enter the current reading of each register in the “Current reading” "
          "column, as the meter shows it. A comma or a dot separates the fraction."),
        _("2. Leave the cell empty for registers you do not submit now. Only rows with a new value are saved."),
        _("3. A meter with several registers (day and night, peak and semi-peak, A+ and A−, reactive) is "
          "submitted with all its registers together, or not at all."),
        _("4. Do not change the meter, direction, register and “Register id” columns; you may sort and filter "
          "the rows, and remove rows you do not need."),
        _("5. Save the file as .xlsx (or .xls) and upload it on the “Submit readings” page."),
        _("6. If any row has a mistake, nothing is saved: the page lists every row with its number and "
          "the reason. Correct them and upload the file again."),
        _("7. A value below the previous one is accepted only as a rollover of the meter (it passed its "
          "maximum), and a consumption much higher than usual asks for a confirmation."),
    ]
    sheet.write_string(0, 0, lines[0], header)
    for number, line in enumerate(lines[1:], start=2):
        sheet.write_string(number, 0, line)


# --- reading an upload ------------------------------------------------------------------------------

@dataclass
class ParsedUpload:
    """What a file says: the value per register, and where each register's row is in the file."""

    entries: dict[int, Decimal] = field(default_factory=dict)     # register id → value (filled rows)
    rows_of: dict[int, int] = field(default_factory=dict)         # register id → row number
    problems: list[RowProblem] = field(default_factory=list)
    filled_rows: int = 0
    unreadable: set[int] = field(default_factory=set)             # filled, but not a valid value


def _header_names() -> dict[str, str]:
    """Every language's header text (lower case) → column key."""
    names: dict[str, str] = {}
    for locale in LOCALES:
        with force_locale(locale):
            for key, header in COLUMNS:
                names[_normal(str(header))] = key
    return names


def _normal(text: Any) -> str:
    return " ".join(str(text).replace("−", "-").replace("–", "-").lower().split())


def _labels_back(labels: dict[str, Any]) -> dict[str, str]:
    back = {}
    for locale in LOCALES:
        with force_locale(locale):
            for code, text in labels.items():
                back[_normal(str(text))] = code
    for code in labels:
        back[_normal(code)] = code
    return back


def _find_header(rows: list[Row]) -> tuple[int, dict[str, int]] | None:
    names = _header_names()
    for position, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        columns = {}
        for index in range(len(row.values)):
            key = names.get(_normal(row.cell(index) or ""))
            if key is not None and key not in columns:
                columns[key] = index
        if "current" in columns and "serial" in columns:
            return position, columns
    return None


def parse_upload(rows: list[Row], sheet: list[SheetRow]) -> ParsedUpload:
    """Match the file's rows to the contract's registers (by register id, else by meter serial +
    direction + zone) and parse the filled values with the meter's capacity; collects every problem."""
    parsed = ParsedUpload()
    found = _find_header(rows)
    if found is None:
        parsed.problems.append(RowProblem(None, _("The file is not the readings template: the header row with "
                                                  "the “Meter” and “Current reading” columns was not found. "
                                                  "Download the template and fill it in.")))
        return parsed
    header_position, columns = found
    by_id = {row.register_id: row for row in sheet}
    by_key = {(_normal(row.serial), row.direction, row.zone): row for row in sheet}
    serials = {_normal(row.serial) for row in sheet}
    directions = _labels_back({direction.value: direction.value for direction in Direction})
    zones = _labels_back(ZONE_LABELS)

    def cell(row: Row, key: str):
        return row.cell(columns[key]) if key in columns else None

    for row in rows[header_position + 1:]:
        if row.is_blank:
            continue
        serial = cell_text(cell(row, "serial"))
        raw_id = cell(row, "register_id")
        raw_value = cell(row, "current")
        target: SheetRow | None = None
        if raw_id is not None:
            register_id = _as_id(raw_id)
            target = by_id.get(register_id) if register_id is not None else None
            if target is None:
                parsed.problems.append(RowProblem(row.number, _(
                    "Meter “%(serial)s” is not among this contract's meters available to you.",
                    serial=serial or cell_text(raw_id))))
                continue
            if serial is not None and _normal(serial) != _normal(target.serial):
                parsed.problems.append(RowProblem(row.number, _(
                    "The meter “%(serial)s” does not match the row's register id (meter “%(expected)s”): do not "
                    "change the meter and “Register id” columns.", serial=serial, expected=target.serial)))
                continue
        else:
            if serial is None:
                if raw_value is None:
                    continue   # a note or a subtotal line the person added
                parsed.problems.append(RowProblem(row.number, _("The row has no meter number.")))
                continue
            if _normal(serial) not in serials:
                parsed.problems.append(RowProblem(row.number, _(
                    "Meter “%(serial)s” is not among this contract's meters available to you.", serial=serial)))
                continue
            direction = directions.get(_normal(cell_text(cell(row, "direction")) or "A+"))
            zone = zones.get(_normal(cell_text(cell(row, "zone")) or TariffZone.ALL_DAY.value))
            target = by_key.get((_normal(serial), direction, zone))
            if target is None:
                parsed.problems.append(RowProblem(row.number, _(
                    "Meter “%(serial)s” has no register “%(direction)s %(zone)s”.", serial=serial,
                    direction=cell_text(cell(row, "direction")) or "", zone=cell_text(cell(row, "zone")) or "")))
                continue
        if target.register_id in parsed.rows_of:
            parsed.problems.append(RowProblem(row.number, _(
                "Duplicate row: meter “%(serial)s”, register %(register)s is already in row %(row)s.",
                serial=target.serial, register=register_text(target), row=parsed.rows_of[target.register_id])))
            continue
        parsed.rows_of[target.register_id] = row.number
        if raw_value is None:
            continue
        try:
            value = parse_reading(_raw_text(raw_value), target.digits_integer, target.digits_fraction)
        except ReadingValueError as exc:
            parsed.problems.append(RowProblem(row.number, _register_prefix(target) + exc.message))
            parsed.unreadable.add(target.register_id)
            continue
        parsed.entries[target.register_id] = value
        parsed.filled_rows += 1
    return parsed


def _as_id(value: Any) -> int | None:
    text = cell_text(value)
    if text is None or not text.isdigit() or len(text) > 12:
        return None
    return int(text)


def _raw_text(value: Any) -> str:
    """A cell as the text a person would have typed: a number cell keeps its exact decimal digits."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (date,)):
        return value.isoformat()
    return str(value)


def register_text(row: SheetRow) -> str:
    """`A+ Day`: the register as the template names it."""
    return f"{direction_text(row.direction)} {ZONE_LABELS.get(row.zone, row.zone)}"


def _register_prefix(row: SheetRow) -> str:
    return _("Meter “%(serial)s”, %(register)s: ", serial=row.serial, register=register_text(row))


def changed_entries(parsed: ParsedUpload, sheet: list[SheetRow]) -> dict[int, Decimal]:
    """The entries to submit: every filled register of each meter that has at least one new value
    (different from what is already submitted for the period). Unchanged registers of such a meter go
    along so that a multi-register meter stays complete; meters with nothing new are left alone."""
    by_id = {row.register_id: row for row in sheet}
    changed_meters = {by_id[register_id].meter_id for register_id, value in parsed.entries.items()
                      if by_id[register_id].submitted is None or by_id[register_id].submitted != value}
    return {register_id: value for register_id, value in parsed.entries.items()
            if by_id[register_id].meter_id in changed_meters}


def _closed_reason(row: SheetRow) -> str | None:
    """Why a register refuses a new value, in the form's words (None when it accepts one)."""
    if row.accepted:
        return _("The reading for this period is accepted and cannot be changed.")
    if row.object_status != InputStatus.WAITING.value:
        return _("The energy object does not accept readings now (status “%(status)s”).",
                 status=str(STATUS_LABELS.get(row.object_status, row.object_status)))
    if row.meter_status != InputStatus.WAITING.value:
        return _("The meter does not accept readings now (status “%(status)s”).",
                 status=str(STATUS_LABELS.get(row.meter_status, row.meter_status)))
    return None


def check_rows(parsed: ParsedUpload, sheet: list[SheetRow], entries: dict[int, Decimal]) -> None:
    """The form's refusals that a file can be checked for before saving, on the meters being submitted:
    a register that does not accept input, a register of a multi-register meter left out, a value below
    the previous one that cannot be a rollover. Adds to `parsed.problems` (rollovers and jumps are left
    to the confirmation step of `submit_readings`)."""
    by_meter: dict[int, list[SheetRow]] = {}
    for row in sheet:
        by_meter.setdefault(row.meter_id, []).append(row)
    for meter_id in sorted({row.meter_id for row in sheet if row.register_id in entries}):
        registers = by_meter[meter_id]
        first_row = min(parsed.rows_of[row.register_id] for row in registers if row.register_id in entries)
        for row in registers:
            number = parsed.rows_of.get(row.register_id, first_row)
            if row.register_id not in entries:
                if not row.accepted and row.register_id not in parsed.unreadable:
                    parsed.problems.append(RowProblem(number, _register_prefix(row) + _(
                        "Enter this register's reading too: every register of meter № %(serial)s is submitted "
                        "together, or nothing is saved.", serial=row.serial)))
                continue
            reason = _closed_reason(row)
            if reason is not None:
                parsed.problems.append(RowProblem(number, _register_prefix(row) + reason))
                continue
            try:
                consumption_between(row.previous, entries[row.register_id], row.digits_integer,
                                    rollover_confirmed=True)
            except ReadingValueError as exc:
                parsed.problems.append(RowProblem(number, _register_prefix(row) + exc.message))


@dataclass(frozen=True)
class SavedRow:
    row: int
    sheet_row: SheetRow
    value: Decimal
    consumption: Decimal | None


@dataclass
class ImportResult:
    """A saved upload: the period, each saved register with its row and consumption, rows left unchanged."""

    period: date
    saved: list[SavedRow]
    unchanged: int

    @property
    def count(self) -> int:
        return len(self.saved)


def import_readings(grant: ContractGrant, user, data: bytes, filename: str = "", *,
                    confirm_rollover: Collection[int] = (), confirm_jump: Collection[int] = (),
                    today: date | None = None) -> ImportResult:
    """Read an integral readings file and submit its new values through `submit_readings` (source
    "file"): all or nothing. Raises `ReadingsFileError` listing every bad row with its number; when only
    rollovers and jumps are left, `needs_confirmation` is true and the problems carry the register ids
    to confirm (`RowProblem.register_id`)."""
    today = today or clock.today()
    rows = read_upload(data, filename)
    window = entry_window(grant.contract, today)
    period = window.period
    sheet = sheet_rows(grant, period)
    parsed = parse_upload(rows, sheet)
    entries = changed_entries(parsed, sheet)
    check_rows(parsed, sheet, entries)
    if not window.is_open:
        parsed.problems.insert(0, RowProblem(None, window.status_message()))
    if parsed.problems:
        raise ReadingsFileError(_sorted(parsed.problems))
    if not entries:
        raise ReadingsFileError([RowProblem(None, _(
            "The file has no new readings: fill in the “Current reading” column (values equal to those already "
            "submitted are not submitted again)."))])
    by_id = {row.register_id: row for row in sheet}
    try:
        result = submit_readings(grant, user, entries, source=ReadingSource.FILE.value, period=period,
                                 confirm_rollover=confirm_rollover, confirm_jump=confirm_jump, today=today)
    except ReadingsEntryError as exc:
        problems = []
        for problem in exc.problems:
            target = by_id.get(problem.register_id) if problem.register_id is not None else None
            if target is None:
                problems.append(RowProblem(None, problem.message, problem.kind))
                continue
            problems.append(RowProblem(parsed.rows_of.get(problem.register_id), _register_prefix(target)
                                       + problem.message, problem.kind, problem.register_id))
        raise ReadingsFileError(_sorted(problems)) from exc
    saved = []
    for item in result.saved:
        # The ORM objects are expired by the commit: their ids come from the identity map, values from
        # the file, so reporting the result issues no statement per row.
        register_id = sa_inspect(item.register).identity[0]
        saved.append(SavedRow(parsed.rows_of[register_id], by_id[register_id], entries[register_id],
                              item.consumption))
    saved.sort(key=lambda item: item.row)
    return ImportResult(period=result.period, saved=saved, unchanged=parsed.filled_rows - len(saved))


def _sorted(problems: list[RowProblem]) -> list[RowProblem]:
    return sorted(problems, key=lambda problem: (problem.row is not None, problem.row or 0))


def read_upload(data: bytes, filename: str) -> list[Row]:
    """The file's first sheet as rows; a wrong type, a damaged file or a zip bomb → `ReadingsFileError`."""
    try:
        return read_table(data, filename)
    except SpreadsheetError as exc:
        raise ReadingsFileError([RowProblem(None, exc.message)]) from exc


def row_numbers(problems: Iterable[RowProblem]) -> list[int]:
    """The distinct row numbers of `problems`, in order (for the summary line)."""
    return sorted({problem.row for problem in problems if problem.row is not None})


__all__ = ["ImportResult", "ReadingsFileError", "RowProblem", "SheetRow", "build_template", "changed_entries",
           "import_readings", "parse_upload", "read_upload", "sheet_rows"]
