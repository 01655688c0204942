"""Energy objects, metering points, meters with their registers, and readings windows."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms.validators import NumberRange

from crm.models import Contract, EnergyObject, Meter, MeteringPoint, ReadingsWindow, Register
from crm.views import choices as ch
from crm.views.common import (
    CrmModelView,
    EagerSQLAInterface,
    RelatedKeyField,
    contract_number_search,
    day,
    first_of_month_check,
    not_before,
    period,
    related_filter,
    yes_no,
)
from crm.views.labels import labels


# Add/edit forms take a relation typed as a key instead of a <select> of every row (60 000 metering
# points or meters at scale 1: 2–7 s and 2–4 MB per form); rows without a unique business key by id.
def _contract_field() -> RelatedKeyField:
    return RelatedKeyField(_l("Contract number"), Contract, "number", description=_l("14 digits"))


def _id_field(label, model) -> RelatedKeyField:
    return RelatedKeyField(label, model, "id", description=_l("The number in its card's address"))

CURATION = {"Curator": "edit", "Auditor": "read"}


class RegisterView(CrmModelView):
    """Scales of a meter (tariff zone × direction); edited inside the meter."""

    route_base = "/admin/registers"
    datamodel = EagerSQLAInterface(Register)
    staff_access = CURATION
    list_title = _l("Registers")
    show_title = _l("Register")
    add_title = _l("Add register")
    edit_title = _l("Edit register")
    label_columns = labels(position=_l("Order"))
    list_columns = show_columns = add_columns = edit_columns = ["meter", "zone", "direction", "position"]
    search_columns = ["meter", "zone", "direction"]
    related_search = {"meter": [related_filter("serial", "eq", _l("Meter serial number equal to")),
                                related_filter("serial", "sw", _l("Meter serial number starts with"))]}
    add_form_extra_fields = {"meter": _id_field(_l("Meter id"), Meter)}
    edit_form_extra_fields = {"meter": _id_field(_l("Meter id"), Meter)}
    base_order = ("position", "asc")
    choice_columns = {"zone": ch.TARIFF_ZONES, "direction": ch.DIRECTIONS}


class MeterView(CrmModelView):
    route_base = "/admin/meters"
    datamodel = EagerSQLAInterface(Meter)
    staff_access = CURATION
    list_title = _l("Meters")
    show_title = _l("Meter")
    add_title = _l("Add meter")
    edit_title = _l("Edit meter")
    label_columns = labels()
    list_columns = ["serial", "model", "metering_point", "status", "digits_integer", "digits_fraction",
                    "next_verification_date"]
    search_columns = ["serial", "model", "metering_point", "status", "interval_metering", "verification_date",
                      "next_verification_date", "external_id"]
    base_order = ("serial", "asc")
    related_search = {"metering_point": [related_filter("name", "ct", _l("Metering point name contains"))]}
    add_form_extra_fields = {"metering_point": _id_field(_l("Metering point id"), MeteringPoint)}
    edit_form_extra_fields = {"metering_point": _id_field(_l("Metering point id"), MeteringPoint)}
    show_columns = ["serial", "model", "metering_point", "status", "digits_integer", "digits_fraction",
                    "verification_date", "next_verification_date", "interval_metering", "customer_label",
                    "external_id"]
    add_columns = edit_columns = ["metering_point", "serial", "model", "status", "digits_integer", "digits_fraction",
                                  "verification_date", "next_verification_date", "interval_metering",
                                  "customer_label"]
    choice_columns = {"status": ch.INPUT_STATUSES}
    formatters_columns = {"verification_date": day, "next_verification_date": day, "interval_metering": yes_no}
    validators_columns = {"digits_integer": [NumberRange(1, 12)], "digits_fraction": [NumberRange(0, 4)],
                          "next_verification_date": [not_before("verification_date")]}
    related_views = [RegisterView]


class MeteringPointView(CrmModelView):
    route_base = "/admin/metering-points"
    datamodel = EagerSQLAInterface(MeteringPoint)
    staff_access = CURATION
    list_title = _l("Metering points")
    show_title = _l("Metering point")
    add_title = _l("Add metering point")
    edit_title = _l("Edit metering point")
    label_columns = labels()
    list_columns = ["name", "energy_object", "voltage_level", "transformation_ratio", "losses_percent"]
    search_columns = ["name", "energy_object", "voltage_level", "external_id"]
    related_search = {"energy_object": [related_filter("code", "eq", _l("Energy object code equal to")),
                                        related_filter("name", "ct", _l("Energy object name contains"))]}
    add_form_extra_fields = {"energy_object": _id_field(_l("Energy object id"), EnergyObject)}
    edit_form_extra_fields = {"energy_object": _id_field(_l("Energy object id"), EnergyObject)}
    base_order = ("name", "asc")
    show_columns = ["name", "energy_object", "voltage_level", "transformation_ratio", "losses_percent",
                    "external_id"]
    add_columns = edit_columns = ["energy_object", "name", "voltage_level", "transformation_ratio",
                                  "losses_percent"]
    validators_columns = {"losses_percent": [NumberRange(0, 100)], "transformation_ratio": [NumberRange(min=0)]}
    related_views = [MeterView]


class EnergyObjectView(CrmModelView):
    route_base = "/admin/energy-objects"
    datamodel = EagerSQLAInterface(EnergyObject)
    staff_access = CURATION
    list_title = _l("Energy objects")
    show_title = _l("Energy object")
    add_title = _l("Add energy object")
    edit_title = _l("Edit energy object")
    label_columns = labels()
    list_columns = ["code", "name", "contract", "address", "status"]
    search_columns = ["code", "name", "contract", "address", "status", "external_id"]
    related_search = contract_number_search()
    add_form_extra_fields = {"contract": _contract_field()}
    edit_form_extra_fields = {"contract": _contract_field()}
    base_order = ("code", "asc")
    show_columns = ["code", "name", "contract", "address", "status", "external_id"]
    add_columns = edit_columns = ["contract", "code", "name", "address", "status"]
    choice_columns = {"status": ch.INPUT_STATUSES}
    related_views = [MeteringPointView]


class ReadingsWindowView(CrmModelView):
    """When readings for a period are accepted (for all branches or one)."""

    route_base = "/admin/readings-windows"
    datamodel = EagerSQLAInterface(ReadingsWindow)
    staff_access = CURATION
    list_title = _l("Readings windows")
    show_title = _l("Readings window")
    add_title = _l("Add readings window")
    edit_title = _l("Edit readings window")
    label_columns = labels(branch=_l("Branch (empty means all)"))
    list_columns = ["period", "branch", "opens_on", "closes_on", "note"]
    show_columns = add_columns = edit_columns = ["period", "branch", "opens_on", "closes_on", "note"]
    search_columns = ["period", "branch", "opens_on", "closes_on"]
    base_order = ("period", "desc")
    formatters_columns = {"period": period, "opens_on": day, "closes_on": day}
    validators_columns = {"period": [first_of_month_check], "closes_on": [not_before("opens_on")]}

    # One window per period and branch, and one general window (no branch) per period: the database's
    # unique constraint cannot see two NULL branches as equal, so the view checks (issue 4, readings windows).
    def pre_add(self, item):
        self._check_unique(item)

    def pre_update(self, item):
        self._check_unique(item)

    def _check_unique(self, item):
        from sqlalchemy import select

        from crm.extensions import db

        branch_id = item.branch.id if item.branch is not None else None
        query = select(ReadingsWindow.id).where(ReadingsWindow.period == item.period)
        query = query.where(ReadingsWindow.branch_id.is_(None) if branch_id is None
                            else ReadingsWindow.branch_id == branch_id)
        if item.id is not None:
            query = query.where(ReadingsWindow.id != item.id)
        with db.session.no_autoflush:
            taken = db.session.scalar(query.limit(1))
        if taken is not None:
            raise ValueError(_("A readings window for this period and branch already exists: edit that one."))
