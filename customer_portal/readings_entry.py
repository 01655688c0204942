"""Readings entry by form (SPEC C8, seed 004 §5.1–5.2): the registers of the contract within the user's
object scope, previous values, one input per register, the readings window, rollover/jump confirmations.

GET shows the sheet (filters: object, status, search); POST saves through
`crm.services.readings_entry.submit_readings` and redirects back with the saved readings listed
(`?saved=…`), so a reload never submits twice. A refused submission re-renders the page with the typed
values, each problem next to its input and a checkbox "I confirm …" for a rollover or a jump.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from crm.access import Capability
from crm.models import ContractKind
from crm.services import readings_entry as entry_service
from crm.services.readings import ReadingsFilterError
from crm.services.readings_entry import ReadingsEntryError
from crm.services.readings_windows import format_month_year
from customer_portal import bp, contract_route
from customer_portal.readings import Numbers, reading_value, register_label

FIELD_PREFIX = "reading-"


def register_unit(contract, register) -> str:
    """kWh for active registers, kvarh for reactive ones, Gcal on a heat contract."""
    if contract.kind == ContractKind.HEAT:
        return _("Gcal")
    return _("kvarh") if register.direction.startswith("R") else _("kWh")


@dataclass
class LineView:
    """What the page prints for one register, formatted once in Python (the template only places it)."""

    label: str
    field_label: str                  # the input's label: "Current reading, register A+ · Day, meter No. …"
    unit: str
    previous: str | None
    previous_period: str | None       # "for May 2024"
    current: str | None
    consumption: str | None


@dataclass
class MeterView:
    caption: str
    ratio: str
    losses: str | None


def present(sheet, contract) -> tuple[dict[int, MeterView], dict[int, LineView]]:
    """Per meter and per register id: labels and formatted values. Each message is translated once and
    filled in Python (`_()` without arguments gives the pattern), each month and register label made once."""
    numbers = Numbers()
    field_pattern = _("Current reading, register %(register)s, meter No. %(serial)s")
    for_pattern = _("for %(period)s")
    caption_pattern = _("Readings of meter No. %(serial)s for %(period)s")
    period_text = format_month_year(sheet.period)
    labels: dict[tuple[str, str], str] = {}
    months: dict[date, str] = {}
    units: dict[str, str] = {}
    meters: dict[int, MeterView] = {}
    lines: dict[int, LineView] = {}
    for obj in sheet.objects:
        for meter_sheet in obj.meters:
            meter, point = meter_sheet.meter, meter_sheet.metering_point
            digits, serial = meter.digits_fraction, meter.serial
            meters[meter.id] = MeterView(
                caption=caption_pattern % {"serial": serial, "period": period_text},
                ratio=numbers.number(point.transformation_ratio),
                losses=numbers.number(point.losses_percent, 3) if point.losses_percent else None)
            for line in meter_sheet.lines:
                register = line.register
                key = (register.zone, register.direction)
                if key not in labels:
                    labels[key] = register_label(register)
                    units[register.direction] = register_unit(contract, register)
                previous, current = line.previous, line.current
                if previous is not None and previous.period not in months:
                    months[previous.period] = for_pattern % {"period": format_month_year(previous.period)}
                lines[register.id] = LineView(
                    label=labels[key], field_label=field_pattern % {"register": labels[key], "serial": serial},
                    unit=units[register.direction],
                    previous=numbers.reading(previous.value, digits) if previous is not None else None,
                    previous_period=months[previous.period] if previous is not None else None,
                    current=numbers.reading(current.value, digits) if current is not None else None,
                    consumption=(numbers.number(current.consumption) if current is not None
                                 and current.consumption is not None else None))
    return meters, lines


def _ids(values: list[str]) -> set[int]:
    return {int(value) for value in values if value.isdigit() and len(value) <= 12}


def _filter_args(args) -> tuple[dict[str, str], int | None, str | None, str | None, list[str]]:
    """The filters from the query string: (args to keep in links, object id, status, search, problems)."""
    problems: list[str] = []
    raw_object = (args.get("object") or "").strip()
    object_id = None
    if raw_object:
        if raw_object.isdigit() and len(raw_object) <= 12:
            object_id = int(raw_object)
        else:
            problems.append(_("The energy object is not one of this contract's objects available to you."))
    status = (args.get("status") or "").strip() or None
    q = (args.get("q") or "").strip()[:100] or None
    kept = {key: value for key, value in (("object", raw_object), ("status", status or ""), ("q", q or "")) if value}
    return kept, object_id, status, q, problems


def _page(raw: str | None) -> int:
    raw = (raw or "").strip()
    return int(raw) if raw.isdigit() and len(raw) <= 6 else 1


def _period(raw: str | None) -> date | None:
    try:
        year, month = (raw or "").split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        return None


@bp.route("/contracts/<int:contract_id>/readings/submit", methods=["GET", "POST"])
@contract_route(Capability.SUBMIT_READINGS)
def readings_entry(grant, contract_id: int):
    """The entry form; POST saves every typed reading at once or none (all problems shown at once)."""
    kept, object_id, status, q, problems = _filter_args(request.args)
    error: ReadingsEntryError | None = None
    typed: dict[int, str] = {}
    confirmed_rollover = _ids(request.form.getlist("confirm_rollover"))
    confirmed_jump = _ids(request.form.getlist("confirm_jump"))
    if request.method == "POST":
        entries = {key[len(FIELD_PREFIX):]: value for key, value in request.form.items()
                   if key.startswith(FIELD_PREFIX)}
        typed = {int(key): value for key, value in entries.items() if key.isdigit() and len(key) <= 12}
        try:
            result = entry_service.submit_readings(grant, _current_user(), entries,
                                                   period=_period(request.form.get("period")),
                                                   confirm_rollover=confirmed_rollover, confirm_jump=confirmed_jump)
        except ReadingsEntryError as exc:
            error = exc
        else:
            flash(_("Readings saved"), "success")
            saved = ",".join(str(item.reading.register_id) for item in result.saved)
            page = _page(request.args.get("page"))
            return redirect(url_for("portal.readings_entry", contract_id=contract_id, saved=saved,
                                    **kept, **({"page": str(page)} if page > 1 else {})))
    try:
        sheet = entry_service.entry_sheet(grant, object_id=None if problems else object_id, status=status, q=q,
                                          page=_page(request.args.get("page")))
    except ReadingsFilterError as exc:
        problems += exc.messages
        kept = {}
        sheet = entry_service.entry_sheet(grant)
    saved_ids = _ids((request.args.get("saved") or "").split(","))
    saved_lines = [line for line in sheet.lines if line.register.id in saved_ids and line.current is not None]
    filters = dict(kept)
    if sheet.page > 1:
        kept = {**kept, "page": str(sheet.page)}     # a POST comes back to the same page
    status_code = 400 if (problems or error) else 200
    return render_template("portal/readings_entry.html", grant=grant, sheet=sheet, problems=problems, error=error,
                           typed=typed, kept=kept, filters=filters, saved_lines=saved_lines, field_prefix=FIELD_PREFIX,
                           confirmed_rollover=confirmed_rollover, confirmed_jump=confirmed_jump,
                           statuses=entry_service.ENTRY_STATUSES, register_label=register_label,
                           reading_value=reading_value, register_unit=register_unit, month_year=format_month_year,
                           presented=present(sheet, grant.contract),
                           per_page=entry_service.METERS_PER_PAGE), status_code


def _current_user():
    from flask_login import current_user

    return current_user._get_current_object()
