"""Readings history (SPEC C8 history, C12 meter chart): per object → meter, periods × registers, with a
consumption chart drawn by static/readings.js from data attributes (the CSP allows no inline script)."""
from __future__ import annotations

from babel.dates import format_date
from flask import render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm import clock
from crm.access import Capability
from crm.formatting import format_period, format_quantity
from crm.models import ContractKind
from crm.services import readings as readings_service
from crm.services.readings import MeterHistory, ReadingsFilterError
from customer_portal import bp, contract_route
from customer_portal.labels import label

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


def chart_data(meter: MeterHistory, unit: str) -> dict:
    """What readings.js draws for one meter: consumption per month and register, as exact decimal strings."""
    periods, series = meter.consumption_series()
    datasets = []
    others = iter(OTHER_COLOURS * 4)
    for register, values in zip(meter.registers, series, strict=True):
        colour = ZONE_COLOURS.get(register.zone) if register.direction == "A+" else None
        datasets.append({
            "label": register_label(register),
            "stack": register.direction,
            "color": colour or next(others),
            "data": [None if value is None else str(value) for value in values],
        })
    return {"labels": [format_period(period) for period in periods],
            "ticks": [format_period_short(period) for period in periods], "datasets": datasets,
            "unit": unit, "axis": _("Consumption, %(unit)s", unit=unit)}


@bp.route("/contracts/<int:contract_id>/readings")
@contract_route(Capability.VIEW_READINGS)
def readings(grant, contract_id: int):
    """The readings history of the contract within the user's object scope; bad filters get a message and
    the default view, never data of an object outside the scope."""
    problems: list[str] = []
    try:
        chosen = readings_service.parse_filter(request.args)
    except ReadingsFilterError as exc:
        problems, chosen = exc.messages, readings_service.default_filter()
    try:
        history = readings_service.readings_history(grant, chosen.period_from, chosen.period_to,
                                                    chosen.energy_object_id, chosen.status)
    except ReadingsFilterError as exc:
        problems += exc.messages
        chosen = readings_service.default_filter()
        history = readings_service.readings_history(grant, chosen.period_from, chosen.period_to)
    unit = unit_of(grant.contract)
    charts = {meter.meter.id: chart_data(meter, unit) for obj in history.objects for meter in obj.meters}
    return render_template("portal/readings.html", grant=grant, history=history, problems=problems,
                           unit=unit, charts=charts, register_label=register_label, reading_value=reading_value,
                           statuses=readings_service.STATUSES, quick_args=quick_args,
                           quick_periods=QUICK_PERIODS), (400 if problems else 200)
