"""Readings history (SPEC C8 history, C12 meter chart): per object → meter, periods × registers, with a
consumption chart drawn by static/readings.js from data attributes (the CSP allows no inline script)."""
from __future__ import annotations

import io
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from urllib.parse import quote

import xlsxwriter
from babel import Locale
from babel.dates import format_date
from flask import Response, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from crm import clock
from crm.access import Capability
from crm.formatting import format_period, format_quantity
from crm.models import ContractKind, ReadingSource
from crm.services import readings as readings_service
from crm.services.contract_export import XLSX_MIMETYPE
from crm.services.readings import MeterHistory, ReadingsFilterError, ReadingsHistory
from customer_portal import bp, contract_route
from customer_portal.labels import badge, label

#: chart colour per register zone (A+); A− and reactive registers get the muted ones
ZONE_COLOURS = {"all_day": "#0d6efd", "day": "#f59f00", "night": "#4c3fb1", "peak": "#d63384",
                "semi_peak": "#20a39e"}
OTHER_COLOURS = ("#6c757d", "#198754", "#adb5bd", "#fd7e14")


def register_label(register) -> str:
    """`A+ · День`: the direction (with a real minus sign) and the tariff zone."""
    return f"{register.direction.replace('-', '−')} · {label('zone', register.zone)}"


def reading_value(value, fraction_digits: int) -> str:
    """A meter's reading with the meter's fraction digits, or more when the stored value has more (exact)."""
    exponent = -value.normalize().as_tuple().exponent if value is not None else 0
    return format_quantity(value, max(fraction_digits, exponent, 0))


class Numbers:
    """Babel's grouping and decimal symbols applied with Python's own formatting: the entry page formats
    a few hundred values per request, and babel's pattern engine costs ~0.1 ms per call. Same output as
    `crm.formatting.format_quantity` / `format_number` for the request's locale."""

    def __init__(self):
        locale = get_locale() or Locale.parse("ru")
        symbols = locale.number_symbols.get("latn", locale.number_symbols)
        self._table = str.maketrans({",": symbols["group"], ".": symbols["decimal"]})

    def quantity(self, value: Decimal, places: int) -> str:
        """Fixed `places` decimals, grouped by thousands."""
        exact = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
        return format(exact, ",f").translate(self._table)

    def reading(self, value: Decimal, fraction_digits: int) -> str:
        """A reading with the meter's fraction digits, or more when the stored value has more (exact)."""
        return self.quantity(value, max(fraction_digits, -value.normalize().as_tuple().exponent, 0))

    def number(self, value: Decimal, max_places: int = 4) -> str:
        """Only the decimals the value needs (`0,5`, `40`)."""
        exact = value.quantize(Decimal(1).scaleb(-max_places), rounding=ROUND_HALF_EVEN).normalize()
        if exact == exact.to_integral_value():
            exact = exact.quantize(Decimal(1))
        return format(exact, ",f").translate(self._table)


#: the seed's quick choices of period [001 §9, §10]: "half a year", "a year", "two years"
QUICK_PERIODS = ((6, _l("Half a year")), (12, _l("A year")), (24, _l("Two years")))


def quick_args(months: int) -> dict[str, str]:
    """The `from`/`to` query arguments of the last `months` months up to the current period."""
    current = readings_service.month_start(clock.today())
    return {"from": readings_service.add_months(current, 1 - months).strftime("%Y-%m"), "to": current.strftime("%Y-%m")}


def format_period_short(period) -> str:
    """`дек. 2025` / `Dec 2025`: a chart tick, where the full month name does not fit."""
    return format_date(period, "LLL yyyy", locale=str(get_locale() or "ru"))


def unit_of(contract) -> str:
    return _("Gcal") if contract.kind == ContractKind.HEAT else _("kWh")


def chart_data(meter: MeterHistory, unit: str, cache: dict | None = None) -> dict:
    """What readings.js draws for one meter: consumption per month and register, as exact decimal strings.
    `cache` (one dict per request) keeps month names and register labels made for the previous meters."""
    cache = {} if cache is None else cache
    periods, series = meter.consumption_series()
    datasets = []
    others = iter(OTHER_COLOURS * 4)
    for register, values in zip(meter.registers, series, strict=True):
        colour = ZONE_COLOURS.get(register.zone) if register.direction == "A+" else None
        datasets.append({
            "label": cache.get(("register", register.zone, register.direction))
            or cache.setdefault(("register", register.zone, register.direction), register_label(register)),
            "stack": register.direction,
            "color": colour or next(others),
            "data": [None if value is None else str(value) for value in values],
        })
    for period in periods:
        if ("month", period) not in cache:
            cache["month", period] = (format_period(period), format_period_short(period))
    if "axis" not in cache:
        cache["axis"] = _("Consumption, %(unit)s", unit=unit)
    return {"labels": [cache["month", period][0] for period in periods],
            "ticks": [cache["month", period][1] for period in periods], "datasets": datasets,
            "unit": unit, "axis": cache["axis"]}


def row_summaries(history: ReadingsHistory) -> dict[tuple[int, date], tuple[list[str], list[str]]]:
    """Per (meter id, period): the distinct statuses and sources of the row's readings, in order."""
    summaries = {}
    for obj in history.objects:
        for meter in obj.meters:
            for row in meter.rows:
                present = row.present
                summaries[meter.meter.id, row.period] = (list(dict.fromkeys(r.status for r in present)),
                                                         list(dict.fromkeys(r.source for r in present)))
    return summaries


@bp.route("/contracts/<int:contract_id>/readings")
@contract_route(Capability.VIEW_READINGS)
def readings(grant, contract_id: int):
    """The readings history of the contract within the user's object scope; bad filters get a message and
    the default view, never data of an object outside the scope."""
    problems, history = _history(grant, per_page=readings_service.METERS_PER_PAGE)
    unit = unit_of(grant.contract)
    cache: dict = {}
    charts = {meter.meter.id: chart_data(meter, unit, cache) for obj in history.objects for meter in obj.meters}
    export_args = {key: value for key, value in request.args.items() if key in ("from", "to", "object", "status")}
    filters = {} if problems else export_args          # kept in the links to the other pages
    # Made once per request instead of per row: with hundreds of meters × months the page stays fast.
    badges = {status: Markup('<span class="badge rounded-pill status-badge status-{}">{}</span>').format(
        badge("reading_status", status), label("reading_status", status)) for status in readings_service.STATUSES}
    sources = {source.value: label("reading_source", source.value) for source in ReadingSource}
    months = {period: format_period(period) for period in
              readings_service.months_between(history.filter.period_from, history.filter.period_to)}
    return render_template("portal/readings.html", grant=grant, history=history, problems=problems,
                           badges=badges, sources=sources, months=months, numbers=Numbers(),
                           summaries=row_summaries(history),
                           unit=unit, charts=charts, register_label=register_label, reading_value=reading_value,
                           statuses=readings_service.STATUSES, quick_args=quick_args,
                           quick_periods=QUICK_PERIODS, export_args=filters, filters=filters,
                           per_page=readings_service.METERS_PER_PAGE), \
        (400 if problems else 200)


def _page(raw: str | None) -> int:
    """The `page` query argument; anything but a small positive number is page 1 (no error)."""
    raw = (raw or "").strip()
    return int(raw) if raw.isdigit() and len(raw) <= 6 else 1


def _history(grant, per_page: int | None = None) -> tuple[list[str], ReadingsHistory]:
    """The history of the query string's filter, or of the default filter with the problems found;
    `per_page` meters of the query string's page (None: the whole filter, for the export)."""
    problems: list[str] = []
    page = _page(request.args.get("page"))
    try:
        chosen = readings_service.parse_filter(request.args)
    except ReadingsFilterError as exc:
        problems, chosen = exc.messages, readings_service.default_filter()
    try:
        history = readings_service.readings_history(grant, chosen.period_from, chosen.period_to,
                                                    chosen.energy_object_id, chosen.status,
                                                    page=page, per_page=per_page)
    except ReadingsFilterError as exc:
        problems += exc.messages
        chosen = readings_service.default_filter()
        history = readings_service.readings_history(grant, chosen.period_from, chosen.period_to,
                                                    page=page, per_page=per_page)
    return problems, history


def history_xlsx(history: ReadingsHistory, unit: str) -> bytes:
    """The history as one sheet, a row per reading: object, meter, register, period, value, consumption,
    source, status, reject reason. Values are written as numbers with the meter's fraction digits."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    heading = workbook.add_format({"bold": True, "bg_color": "#E7EEF7", "border": 1, "text_wrap": True,
                                   "valign": "top"})
    month = workbook.add_format({"num_format": "mm.yyyy", "align": "left"})
    number_formats: dict[int, object] = {}

    def number(places: int):
        if places not in number_formats:
            number_formats[places] = workbook.add_format(
                {"num_format": "0." + "0" * places if places else "0"})
        return number_formats[places]

    sheet = workbook.add_worksheet(_("Readings")[:31])
    headers = [(_("Object code"), 14), (_("Object"), 32), (_("Meter number"), 16), (_("Model"), 18),
               (_("Register"), 16), (_("Period"), 10), (_("Reading"), 14),
               (_("Consumption, %(unit)s", unit=unit), 16), (_("Source"), 30), (_("Status"), 14),
               (_("Reject reason"), 40)]
    for col, (header, width) in enumerate(headers):
        sheet.set_column(col, col, width)
        sheet.write_string(0, col, header, heading)
    sheet.freeze_panes(1, 0)
    row = 1
    for obj in history.objects:
        for mh in obj.meters:
            meter = mh.meter
            for period_row in mh.rows:
                for register, reading in zip(mh.registers, period_row.readings, strict=True):
                    if reading is None:
                        continue
                    sheet.write_string(row, 0, obj.energy_object.code)
                    sheet.write_string(row, 1, obj.energy_object.name)
                    sheet.write_string(row, 2, meter.serial)
                    sheet.write_string(row, 3, meter.model or "")
                    sheet.write_string(row, 4, register_label(register))
                    sheet.write_datetime(row, 5, reading.period, month)
                    value_places = max(meter.digits_fraction, -reading.value.normalize().as_tuple().exponent, 0)
                    sheet.write_number(row, 6, reading.value, number(min(value_places, 4)))
                    if reading.consumption is not None:
                        sheet.write_number(row, 7, reading.consumption, number(4))
                    sheet.write_string(row, 8, label("reading_source", reading.source))
                    sheet.write_string(row, 9, label("reading_status", reading.status))
                    if reading.reject_reason:
                        sheet.write_string(row, 10, reading.reject_reason)
                    row += 1
    if row > 1:
        sheet.autofilter(0, 0, row - 1, len(headers) - 1)
    workbook.close()
    return buffer.getvalue()


@bp.route("/contracts/<int:contract_id>/readings/export.xlsx")
@contract_route(Capability.VIEW_READINGS)
def readings_export(grant, contract_id: int):
    """The history page's current filter as an xlsx download (a bad filter exports the default view):
    every meter of the filter, not one page of them."""
    _problems, history = _history(grant, per_page=None)
    body = history_xlsx(history, unit_of(grant.contract))
    chosen = history.filter
    name = f"readings-{grant.contract.number}-{chosen.period_from:%Y-%m}-{chosen.period_to:%Y-%m}.xlsx"
    response = Response(body, mimetype=XLSX_MIMETYPE)
    response.headers["Content-Disposition"] = f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}"
    response.headers["Cache-Control"] = "private, no-store"
    return response
