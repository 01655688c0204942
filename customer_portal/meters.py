"""Objects and meters of a contract (SPEC C7): the objects within the user's scope, each expandable to its
metering points and meters, and a meter card. A meter outside the scope answers 404 like an object id."""
from __future__ import annotations

from flask import abort, render_template, request
from flask_babel import gettext as _

from crm.access import Capability
from crm.services import meters as meters_service
from crm.services.readings_windows import format_month_year
from customer_portal import bp, contract_route
from customer_portal.readings import reading_value, register_label
from customer_portal.readings_entry import register_unit


def digits_capacity(meter) -> str:
    """"6 digits, 2 after the comma" (the meter's display)."""
    return _("%(integer)s digits, %(fraction)s after the comma", integer=meter.digits_integer,
             fraction=meter.digits_fraction)


@bp.route("/contracts/<int:contract_id>/objects")
@contract_route(Capability.VIEW_READINGS)
def contract_objects(grant, contract_id: int):
    """The contract's objects (search by name, `q`) with their meters (search by serial or model, `meter`),
    a page of them at a time (`page`)."""
    page = meters_service.contract_objects(grant, request.args.get("q"), request.args.get("meter"),
                                           page=request.args.get("page"))
    return render_template("portal/objects.html", grant=grant, page=page, register_label=register_label,
                           digits_capacity=digits_capacity)


@bp.route("/contracts/<int:contract_id>/meters/<int:meter_id>")
@contract_route(Capability.VIEW_READINGS)
def meter_card(grant, contract_id: int, meter_id: int):
    """One meter: registers, capacity, ratio, losses, verification, status, last accepted reading per register."""
    card = meters_service.meter_card(grant, meter_id)
    if card is None:
        abort(404)
    return render_template("portal/meters_card.html", grant=grant, card=card, register_label=register_label,
                           reading_value=reading_value, register_unit=register_unit, month_year=format_month_year,
                           digits_capacity=digits_capacity)
