"""Readings entry (SPEC C8, seed 004 §5.1–5.2): what a customer may enter for a period, and saving it.

- `entry_sheet(grant, …)`: objects → meters → registers within the grant's object scope, each register
  with its previous value, the value already submitted for the period (and its status), whether it
  accepts input now, and the window. A read helper: never commits, a constant number of statements.
- `submit_readings(grant, user, entries, …)`: all or nothing. Every problem is collected and raised
  at once as `ReadingsEntryError(problems)`, each problem `(register_id, message, kind)` with kind
  "error", "rollover" or "jump" (the last two are saved once the user confirms them: re-submit with
  the register id in `confirm_rollover` / `confirm_jump`). Commits once, with its audit row.

The consumption rules themselves are `crm.services.consumption` (the file upload applies the same).

Rules:
- a register must belong to the contract and to an object in the grant's scope (else nothing is saved);
- only objects and meters in status "Waiting" accept input, and only while the period's window is open;
- the registers of a multi-register meter (day/night, peak/semi-peak/night, A−, reactive) are given all
  together or nothing is saved;
- previous value = the latest non-rejected reading of an earlier period; a value below it is a rollover
  to confirm (or refused when implausible); consumption = difference × ratio, + losses %;
- consumption above three times the average of the last six periods asks for confirmation;
- a reading already submitted (or rejected) for the period is replaced in place (status back to
  "submitted"); an accepted one cannot be changed.

Decision on the meter's status (seed 004 §5.2: "submitted readings stay shown in the input fields until
the billing period is closed"): submitting does NOT change the status of the meter or the object. They
stay "Waiting" so the customer can correct a value while the window is open; the page marks a meter
whose registers all have a reading for the period with a check mark (that is the seed's "галочка"),
computed from the readings. "Readings received" / "not required" are set by staff or billing.
"""
from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

from flask_babel import gettext as _
from sqlalchemy import and_, func, insert, select
from sqlalchemy.orm import joinedload

from crm import clock
from crm.access import ContractGrant
from crm.extensions import db
from crm.formatting import format_number
from crm.models import (
    EnergyObject,
    InputStatus,
    Meter,
    MeteringPoint,
    Reading,
    ReadingSource,
    ReadingStatus,
    Register,
)
from crm.services import ServiceError, audit
from crm.services import consumption as rules
from crm.services.meter_pages import page_whole_meters
from crm.services.readings import ReadingsFilterError, add_months, month_start
from crm.services.readings_windows import WindowState, entry_window, window_state

#: the status filter of the entry page ("Передаваемые"): what a register line is waiting for
TO_SUBMIT, SUBMITTED, ACCEPTED, REJECTED, NOT_ACCEPTING = "to_submit", "submitted", "accepted", "rejected", "closed"
ENTRY_STATUSES: tuple[str, ...] = (TO_SUBMIT, SUBMITTED, ACCEPTED, REJECTED, NOT_ACCEPTING)
#: meters on one page of the entry form (whole meters: the registers of a meter stay together)
METERS_PER_PAGE = 50


class Problem(NamedTuple):
    """One reason a submission is refused: the register it concerns (None: the whole submission)."""

    register_id: int | None
    message: str
    kind: str = "error"          # "error" | "rollover" | "jump"


class ReadingsEntryError(ServiceError):
    """Nothing was saved; `problems` lists every reason at once (messages already localised)."""

    def __init__(self, problems: list[Problem]):
        problems = [Problem(*problem) for problem in problems]
        super().__init__(" ".join(problem.message for problem in problems), field="readings")
        self.problems = problems

    @property
    def messages(self) -> list[str]:
        return [problem.message for problem in self.problems]

    def for_register(self, register_id: int) -> list[Problem]:
        return [problem for problem in self.problems if problem.register_id == register_id]

    @property
    def general(self) -> list[Problem]:
        """Problems not tied to one register (window closed, nothing entered)."""
        return [problem for problem in self.problems if problem.register_id is None]

    @property
    def needs_confirmation_only(self) -> bool:
        """True when every problem is a rollover or jump the user may confirm."""
        return bool(self.problems) and all(problem.kind in ("rollover", "jump") for problem in self.problems)


# --- the sheet ------------------------------------------------------------------------------------

@dataclass
class RegisterLine:
    register: Register
    previous: Reading | None          # latest non-rejected reading of an earlier period
    current: Reading | None           # the reading of this period (any status)
    accepts_input: bool
    reason: str | None = None         # why it does not accept input (localised), None when it does

    @property
    def previous_value(self) -> Decimal | None:
        return self.previous.value if self.previous is not None else None

    @property
    def status(self) -> str:
        """The line's entry status (one of ENTRY_STATUSES)."""
        return _line_status(self.current, self.accepts_input)


@dataclass
class MeterSheet:
    meter: Meter
    metering_point: MeteringPoint
    lines: list[RegisterLine] = field(default_factory=list)

    @property
    def accepts_input(self) -> bool:
        return any(line.accepts_input for line in self.lines)

    @property
    def submitted(self) -> bool:
        """Every register has a submitted or accepted reading for the period (the seed's check mark)."""
        return bool(self.lines) and all(line.current is not None and line.current.status != ReadingStatus.REJECTED
                                        for line in self.lines)


@dataclass
class ObjectSheet:
    energy_object: EnergyObject
    meters: list[MeterSheet] = field(default_factory=list)

    @property
    def accepts_input(self) -> bool:
        return any(meter.accepts_input for meter in self.meters)

    @property
    def submitted(self) -> bool:
        return bool(self.meters) and all(meter.submitted for meter in self.meters)


@dataclass
class EntrySheet:
    grant: ContractGrant
    period: date
    window: WindowState
    available_objects: list[EnergyObject]        # within the scope, for the object filter
    objects: list[ObjectSheet]                   # shown (after the filters)
    object_id: int | None = None
    status: str | None = None
    q: str | None = None
    page: int = 1
    page_count: int = 1
    meter_total: int = 0                         # meters after the filters, on every page

    @property
    def lines(self) -> list[RegisterLine]:
        return [line for obj in self.objects for meter in obj.meters for line in meter.lines]

    def line(self, register_id: int) -> RegisterLine | None:
        return next((line for line in self.lines if line.register.id == register_id), None)

    @property
    def meter_count(self) -> int:
        return sum(len(obj.meters) for obj in self.objects)

    @property
    def accepts_input(self) -> bool:
        return any(obj.accepts_input for obj in self.objects)


def _previous_readings(register_ids_query, period: date) -> dict[int, Reading]:
    """Per register: the latest non-rejected reading of a period before `period` (one statement)."""
    latest = (select(Reading.register_id, func.max(Reading.period).label("period"))
              .where(Reading.register_id.in_(register_ids_query), Reading.period < period,
                     Reading.status != ReadingStatus.REJECTED.value)
              .group_by(Reading.register_id).subquery())
    rows = db.session.scalars(
        select(Reading).join(latest, and_(Reading.register_id == latest.c.register_id,
                                          Reading.period == latest.c.period))
        .where(Reading.status != ReadingStatus.REJECTED.value)
        .order_by(Reading.submitted_at.desc(), Reading.id.desc()))
    found: dict[int, Reading] = {}
    for reading in rows:
        found.setdefault(reading.register_id, reading)
    return found


def _previous_values(register_ids, period: date) -> dict[int, Decimal]:
    """`_previous_readings` as plain values (what `submit_readings` needs; no ORM object per register)."""
    latest = (select(Reading.register_id, func.max(Reading.period).label("period"))
              .where(Reading.register_id.in_(register_ids), Reading.period < period,
                     Reading.status != ReadingStatus.REJECTED.value)
              .group_by(Reading.register_id).subquery())
    rows = db.session.execute(
        select(Reading.register_id, Reading.value).join(latest, and_(Reading.register_id == latest.c.register_id,
                                                                     Reading.period == latest.c.period))
        .where(Reading.status != ReadingStatus.REJECTED.value)
        .order_by(Reading.submitted_at.desc(), Reading.id.desc()))
    found: dict[int, Decimal] = {}
    for register_id, value in rows:
        found.setdefault(register_id, value)
    return found


def _current_readings(register_ids_query, period: date, *, lock: bool = False) -> dict[int, Reading]:
    """Per register: its reading of `period` (the latest should a register have two)."""
    query = (select(Reading).where(Reading.register_id.in_(register_ids_query), Reading.period == period)
             .order_by(Reading.submitted_at.desc(), Reading.id.desc()))
    if lock:
        query = query.with_for_update()
    found: dict[int, Reading] = {}
    for reading in db.session.scalars(query):
        found.setdefault(reading.register_id, reading)
    return found


def _closed_reason(energy_object: EnergyObject, meter: Meter, window: WindowState,
                   current: Reading | None) -> str | None:
    if current is not None and current.status == ReadingStatus.ACCEPTED:
        return _("The reading for this period is accepted and cannot be changed.")
    if energy_object.status != InputStatus.WAITING:
        return _("The energy object does not accept readings now (status “%(status)s”).",
                 status=_input_status(energy_object.status))
    if meter.status != InputStatus.WAITING:
        return _("The meter does not accept readings now (status “%(status)s”).", status=_input_status(meter.status))
    if not window.is_open:
        return window.status_message()
    return None


def _closed_reason_of(object_status: str, meter_status: str, window: WindowState,
                      current: Reading | None) -> str | None:
    """Like `_closed_reason`, from the statuses alone (used to filter before any meter object is built)."""
    if current is not None and current.status == ReadingStatus.ACCEPTED:
        return "accepted"
    if object_status != InputStatus.WAITING or meter_status != InputStatus.WAITING or not window.is_open:
        return "closed"
    return None


def _line_status(current: Reading | None, accepts_input: bool) -> str:
    if current is not None:
        return {ReadingStatus.ACCEPTED.value: ACCEPTED, ReadingStatus.REJECTED.value: REJECTED}.get(
            current.status, SUBMITTED)
    return TO_SUBMIT if accepts_input else NOT_ACCEPTING


def _input_status(value: str) -> str:
    return {InputStatus.WAITING.value: _("Waiting for readings"), InputStatus.RECEIVED.value: _("Readings received"),
            InputStatus.NOT_REQUIRED.value: _("Readings not required")}.get(value, value)


def _matches(text: str | None, q: str) -> bool:
    return bool(text) and q in text.casefold()


def entry_sheet(grant: ContractGrant, period: date | None = None, object_id: int | None = None,
                status: str | None = None, q: str | None = None, today: date | None = None,
                page: int = 1, per_page: int | None = METERS_PER_PAGE) -> EntrySheet:
    """What the user may enter for `period` (default: the entry period of today, see readings_windows).

    `object_id` (one object of the scope), `status` (one of ENTRY_STATUSES) and `q` (a part of an
    object's code, name or address, or of a meter's serial or model) narrow what is shown; then whole
    meters are paged, `per_page` a page (None: all), so a contract with thousands of meters gets pages
    of a readable size (a meter's registers are always on one page, they are submitted together).
    Raises `ReadingsFilterError` for an object outside the scope or an unknown status. Five statements.
    """
    today = today or clock.today()
    window = window_state(grant.contract, period, today) if period is not None else entry_window(grant.contract, today)
    period = window.period
    if status is not None and status not in ENTRY_STATUSES:
        raise ReadingsFilterError([_("Unknown readings status “%(value)s”: choose one from the list.",
                                     value=str(status)[:20])])
    if object_id is not None and not grant.covers_object(object_id):
        raise ReadingsFilterError([_("The energy object is not one of this contract's objects available to you.")])
    # The objects of the scope and their meters as plain rows, in one statement (outer joins: an object
    # without meters is still listed). Filters and paging work on plain rows (no ORM objects for meters
    # of other pages): with hundreds of meters most of the cost of the page was building objects it did
    # not show.
    objects_query = (
        select(EnergyObject, Meter.id, Meter.serial, Meter.model, Meter.customer_label, Meter.status)
        .outerjoin(MeteringPoint, MeteringPoint.energy_object_id == EnergyObject.id)
        .outerjoin(Meter, Meter.metering_point_id == MeteringPoint.id)
        .where(EnergyObject.contract_id == grant.contract.id)
        .order_by(EnergyObject.code, EnergyObject.id, MeteringPoint.name, MeteringPoint.id, Meter.serial, Meter.id))
    if grant.object_ids is not None:
        objects_query = objects_query.where(EnergyObject.id.in_(sorted(grant.object_ids)))
    available_by_id: dict[int, EnergyObject] = {}
    all_meter_rows = []
    for energy_object, meter_id, serial, model, label, meter_status in db.session.execute(objects_query):
        available_by_id.setdefault(energy_object.id, energy_object)
        if meter_id is not None:
            all_meter_rows.append((meter_id, serial, model, label, meter_status, energy_object.id))
    available = list(available_by_id.values())
    if object_id is not None and object_id not in available_by_id:
        raise ReadingsFilterError([_("The energy object is not one of this contract's objects available to you.")])
    q = (q or "").strip() or None
    sheet = EntrySheet(grant=grant, period=period, window=window, available_objects=available, objects=[],
                       object_id=object_id, status=status, q=q)
    shown = [obj for obj in available if object_id is None or obj.id == object_id]
    if not shown:
        return sheet
    shown_ids = [obj.id for obj in shown]
    shown_set = set(shown_ids)
    meter_rows = [row for row in all_meter_rows if row[5] in shown_set]
    registers_of: dict[int, list[int]] = {}
    current: dict[int, Reading] = {}
    for register_id, meter_id, reading in db.session.execute(
            select(Register.id, Register.meter_id, Reading)
            .join(Meter, Register.meter_id == Meter.id)
            .join(MeteringPoint, Meter.metering_point_id == MeteringPoint.id)
            .outerjoin(Reading, and_(Reading.register_id == Register.id, Reading.period == period))
            .where(MeteringPoint.energy_object_id.in_(shown_ids))
            .order_by(Register.meter_id, Register.position, Register.id, Reading.submitted_at.desc(),
                      Reading.id.desc())):
        ids = registers_of.setdefault(meter_id, [])
        if not ids or ids[-1] != register_id:
            ids.append(register_id)
        if reading is not None:
            current.setdefault(register_id, reading)

    needle = q.casefold() if q else None
    objects_by_id = {obj.id: obj for obj in shown}
    chosen: dict[int, list[int]] = {}          # object id → meter ids, in page order
    for meter_id, serial, model, label, meter_status, energy_object_id in meter_rows:
        energy_object = objects_by_id[energy_object_id]
        if needle is not None and not any(_matches(text, needle) for text in (
                energy_object.code, energy_object.name, energy_object.address, serial, model, label)):
            continue
        if status is not None and not any(
                _line_status(current.get(register_id), _closed_reason_of(energy_object.status, meter_status,
                                                                         window, current.get(register_id)) is None)
                == status for register_id in registers_of.get(meter_id, [])):
            continue
        chosen.setdefault(energy_object_id, []).append(meter_id)
    ordered = [(obj, chosen.get(obj.id, [])) for obj in shown
               if chosen.get(obj.id) or (needle is None and status is None)]

    paged = page_whole_meters(ordered, page, per_page)
    sheet.page, sheet.page_count, sheet.meter_total = paged.page, paged.page_count, paged.total
    page_meters = paged.page_meters

    wanted = [meter_id for _obj, meter_ids in page_meters for meter_id in meter_ids]
    loaded = {meter.id: meter for meter in db.session.scalars(
        select(Meter).where(Meter.id.in_(wanted))
        .options(joinedload(Meter.metering_point), joinedload(Meter.registers))).unique()} if wanted else {}
    for obj, meter_ids in page_meters:
        meters = []
        for meter_id in meter_ids:
            meter = loaded[meter_id]
            lines = []
            for register in meter.registers:
                reading = current.get(register.id)
                reason = _closed_reason(obj, meter, window, reading)
                lines.append(RegisterLine(register, None, reading, reason is None, reason))
            meters.append(MeterSheet(meter, meter.metering_point, lines))
        sheet.objects.append(ObjectSheet(obj, meters))
    page_lines = sheet.lines
    if page_lines:
        previous = _previous_readings([line.register.id for line in page_lines], period)
        for line in page_lines:
            line.previous = previous.get(line.register.id)
    return sheet


# --- submission -----------------------------------------------------------------------------------

class _MeterFacts(NamedTuple):
    """What `submit_readings` needs of a meter, read as plain columns (with its Register objects)."""

    id: int
    serial: str
    status: str
    digits_integer: int
    digits_fraction: int
    registers: list[Register]


@dataclass(frozen=True, slots=True)
class NewReading:
    """The values of a reading inserted in bulk by `submit_readings` (a file of 10 000 rows builds no ORM
    object per row); it has a reading's attributes except `id`."""

    register_id: int
    period: date
    value: Decimal
    previous_value: Decimal | None
    consumption: Decimal | None
    rollover: bool
    source: str
    status: str
    submitted_by_id: int | None
    submitted_at: datetime
    reject_reason: str | None = None


@dataclass(frozen=True)
class SavedReading:
    register: Register
    reading: Reading | NewReading     # the updated row, or the values of a row inserted in bulk
    consumption: Decimal | None       # None when there is no previous reading
    replaced: bool                    # an earlier submission of the period was replaced


@dataclass
class SubmissionResult:
    period: date
    saved: list[SavedReading]

    @property
    def count(self) -> int:
        return len(self.saved)


def _register_id(raw) -> int | None:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    text = str(raw).strip()
    return int(text) if text.isdigit() and len(text) <= 12 else None


def _recent_consumption(register_ids: list[int], period: date) -> dict[int, list[Decimal]]:
    """Per register: the consumption of its last six periods before `period`, newest first (one statement)."""
    rows = db.session.execute(
        select(Reading.register_id, Reading.period, Reading.consumption)
        .where(Reading.register_id.in_(register_ids), Reading.period < period,
               Reading.period >= add_months(period, -rules.JUMP_PERIODS),
               Reading.status != ReadingStatus.REJECTED.value, Reading.consumption.is_not(None))
        .order_by(Reading.register_id, Reading.period.desc(), Reading.submitted_at.desc(), Reading.id.desc()))
    recent: dict[int, dict[date, Decimal]] = {}
    for register_id, reading_period, value in rows:
        recent.setdefault(register_id, {}).setdefault(reading_period, value)
    return {register_id: list(values.values()) for register_id, values in recent.items()}


def submit_readings(grant: ContractGrant, user, entries: Mapping[int, str | Decimal], *,
                    source: str = ReadingSource.PORTAL, period: date | None = None,
                    confirm_rollover: Collection[int] = (), confirm_jump: Collection[int] = (),
                    today: date | None = None) -> SubmissionResult:
    """Save the readings in `entries` (register id → typed value; blank values are ignored) for `period`
    (default: the entry period of today). All or nothing; raises `ReadingsEntryError` listing every
    problem. Commits once, with an audit row "readings.submitted"."""
    today = today or clock.today()
    contract = grant.contract
    window = window_state(contract, period, today) if period is not None else entry_window(contract, today)
    period = window.period
    problems: list[Problem] = []

    given: dict[int, str | Decimal] = {}
    for raw_id, raw_value in entries.items():
        if raw_value is None or (isinstance(raw_value, str) and not raw_value.strip()):
            continue
        register_id = _register_id(raw_id)
        if register_id is None:
            problems.append(Problem(None, _("“%(value)s” is not a register of this contract.", value=str(raw_id)[:20])))
            continue
        given[register_id] = raw_value
    if not given and not problems:
        raise ReadingsEntryError([Problem(None, _("Enter at least one reading."))])
    if not window.is_open:
        problems.append(Problem(None, window.status_message()))

    # Where each given register is, as plain columns (a 10 000-row file builds no object it does not need):
    # its meter, object and contract, and per meter the point's ratio and losses and the object's status.
    rows = db.session.execute(
        select(Register.id, Register.meter_id, EnergyObject.id, EnergyObject.contract_id,
               MeteringPoint.transformation_ratio, MeteringPoint.losses_percent, EnergyObject.status)
        .join(Meter, Register.meter_id == Meter.id)
        .join(MeteringPoint, Meter.metering_point_id == MeteringPoint.id)
        .join(EnergyObject, MeteringPoint.energy_object_id == EnergyObject.id)
        .where(Register.id.in_(sorted(given)))).all() if given else []
    located = {row[0]: (row[1], row[2], row[3]) for row in rows}
    place_of_meter = {row[1]: (row[4], row[5], row[6]) for row in rows}
    found: dict[int, int] = {}                  # register id → meter id, for the registers that may be saved
    for register_id in given:
        hit = located.get(register_id)
        if hit is None or hit[2] != contract.id or not grant.covers_object(hit[1]):
            problems.append(Problem(register_id, _("Register %(id)s is not one of this contract's registers "
                                                   "available to you.", id=register_id)))
            continue
        found[register_id] = hit[0]
    if not found:
        db.session.rollback()
        raise ReadingsEntryError(problems)

    meter_ids = sorted(set(found.values()))
    # The meters are locked for the rest of the transaction so two submissions of one meter queue up.
    meters = {row.id: _MeterFacts(*row, []) for row in db.session.execute(
        select(Meter.id, Meter.serial, Meter.status, Meter.digits_integer, Meter.digits_fraction)
        .where(Meter.id.in_(meter_ids)).with_for_update(of=Meter))}
    for register in db.session.scalars(select(Register).where(Register.meter_id.in_(meter_ids))
                                       .order_by(Register.meter_id, Register.position, Register.id)):
        meters[register.meter_id].registers.append(register)
    all_register_ids = [register.id for meter in meters.values() for register in meter.registers]
    previous = _previous_values(all_register_ids, period)
    current = _current_readings(all_register_ids, period)
    recent = _recent_consumption(all_register_ids, period)

    planned: list[tuple[Register, Decimal, Decimal | None, Decimal | None, bool]] = []
    for meter_id in meter_ids:
        meter = meters[meter_id]
        ratio, losses_percent, object_status = place_of_meter[meter_id]
        open_registers = [register.id for register in meter.registers
                          if not (current.get(register.id) and current[register.id].status == ReadingStatus.ACCEPTED)]
        given_here = [register.id for register in meter.registers if register.id in given and register.id in found]
        for missing_id in rules.missing_registers(open_registers, given_here):
            problems.append(Problem(missing_id, _("Enter this register's reading too: every register of meter "
                                                  "№ %(serial)s is submitted together, or nothing is saved.",
                                                  serial=meter.serial)))
        for register in meter.registers:
            if register.id not in given or register.id not in found:
                continue
            reading = current.get(register.id)
            if reading is not None and reading.status == ReadingStatus.ACCEPTED:
                problems.append(Problem(register.id, _("The reading for this period is accepted and cannot be "
                                                       "changed.")))
                continue
            if object_status != InputStatus.WAITING:
                problems.append(Problem(register.id, _("The energy object does not accept readings now (status "
                                                       "“%(status)s”).", status=_input_status(object_status))))
                continue
            if meter.status != InputStatus.WAITING:
                problems.append(Problem(register.id, _("The meter does not accept readings now (status "
                                                       "“%(status)s”).", status=_input_status(meter.status))))
                continue
            try:
                value = rules.parse_reading(given[register.id], meter.digits_integer, meter.digits_fraction)
            except rules.ReadingValueError as exc:
                problems.append(Problem(register.id, exc.message, exc.kind))
                continue
            previous_value = previous.get(register.id)
            try:
                result = rules.consumption_between(previous_value, value, meter.digits_integer,
                                                   ratio, losses_percent,
                                                   rollover_confirmed=register.id in confirm_rollover)
            except rules.ReadingValueError as exc:
                problems.append(Problem(register.id, exc.message, exc.kind))
                continue
            used = result.consumption if result is not None else None
            if (used is not None and register.id not in confirm_jump
                    and rules.is_jump(used, recent.get(register.id, []))):
                problems.append(Problem(register.id, _(
                    "The consumption %(value)s is more than three times the average of the last periods: check "
                    "the reading and confirm it.", value=format_number(used, 4)), "jump"))
                continue
            planned.append((register, value, previous_value, used, bool(result and result.rollover)))
    if problems:
        db.session.rollback()
        raise ReadingsEntryError(problems)

    now = clock.now()
    saved: list[SavedReading] = []
    new_rows: list[dict] = []
    new_of: list[tuple[Register, Decimal | None]] = []
    for register, value, previous_value, used, rolled in planned:
        reading = current.get(register.id)
        if reading is None:
            # New readings are inserted in bulk below (one multi-row statement per batch where the
            # database allows): a 10 000-row file is not 10 000 unit-of-work inserts.
            new_rows.append(dict(register_id=register.id, period=period, value=value, previous_value=previous_value,
                                 consumption=used, rollover=rolled, source=str(source),
                                 status=ReadingStatus.SUBMITTED.value, submitted_by_id=getattr(user, "id", None),
                                 submitted_at=now))
            new_of.append((register, used))
            continue
        reading.value, reading.previous_value, reading.consumption, reading.rollover = (
            value, previous_value, used, rolled)
        reading.source, reading.status, reading.reject_reason = str(source), ReadingStatus.SUBMITTED.value, None
        reading.submitted_by_id, reading.submitted_at = getattr(user, "id", None), now
        reading.reviewed_by_id = reading.reviewed_at = None
        saved.append(SavedReading(register, reading, used, True))
    if new_rows:
        # A plain executemany (no RETURNING: SQLite would fall back to a statement per row for it); the
        # result lists each new reading as a plain record of its values (no id, no ORM object per row).
        db.session.execute(insert(Reading), new_rows)
        saved.extend(SavedReading(register, NewReading(**row), used, False)
                     for (register, used), row in zip(new_of, new_rows, strict=True))
    audit.record("readings.submitted", actor=user, subject_type="contract", subject_id=contract.id,
                 counterparty_id=contract.counterparty_id,
                 detail={"period": period.isoformat(), "source": str(source),
                         "readings": [{"register_id": item.register.id, "value": str(item.reading.value),
                                       "consumption": None if item.consumption is None else str(item.consumption),
                                       "replaced": item.replaced} for item in saved]})
    db.session.commit()
    return SubmissionResult(period=period, saved=saved)


__all__ = ["ENTRY_STATUSES", "EntrySheet", "MeterSheet", "ObjectSheet", "Problem", "ReadingsEntryError",
           "RegisterLine", "SavedReading", "SubmissionResult", "entry_sheet", "month_start", "submit_readings"]
