"""Counterparties, contracts, payment terms and who has which role on a contract."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms.validators import NumberRange

from crm.formatting import format_quantity
from crm.models import Contract, ContractAccess, Counterparty, PaymentTerm
from crm.views import choices as ch
from crm.views.common import (
    ChoiceField,
    CounterpartyInnField,
    CrmModelView,
    EagerSQLAInterface,
    ReadOnlyModelView,
    choice_formatter,
    contract_number_check,
    contract_number_search,
    counterparty_link,
    day,
    inn_check,
    money,
    not_before,
    optional,
    related_filter,
    timestamp,
)
from crm.views.labels import labels
from crm.views.metering import EnergyObjectView

MONTH_OFFSETS = [(0, _l("The billing month")), (1, _l("The month after the billing month"))]


class PaymentTermView(CrmModelView):
    """When money is due under a contract (shown inside the contract)."""

    route_base = "/admin/payment-terms"
    datamodel = EagerSQLAInterface(PaymentTerm)
    staff_access = {"Curator": "edit", "Billing operator": "read", "Auditor": "read"}
    list_title = _l("Payment terms")
    show_title = _l("Payment term")
    add_title = _l("Add payment term")
    edit_title = _l("Edit payment term")
    label_columns = labels()
    list_columns = ["contract", "kind", "day_of_month", "month_offset", "percent"]
    show_columns = add_columns = edit_columns = ["contract", "kind", "day_of_month", "month_offset", "percent"]
    search_columns = ["contract", "kind"]
    related_search = contract_number_search()
    base_order = ("day_of_month", "asc")
    choice_columns = {"kind": ch.PAYMENT_TERM_KINDS}
    formatters_columns = {"month_offset": choice_formatter(MONTH_OFFSETS)}
    validators_columns = {"day_of_month": [NumberRange(1, 31)], "percent": [NumberRange(0, 100)]}
    # month_offset is an integer column: its own field coerces the choice.
    add_form_extra_fields = edit_form_extra_fields = {
        "month_offset": ChoiceField(_l("Month offset"), MONTH_OFFSETS, coerce=int),
    }


class ContractAccessView(ReadOnlyModelView):
    """Who has which role on which contract (granting is done through appeals and services)."""

    route_base = "/admin/contract-access"
    datamodel = EagerSQLAInterface(ContractAccess)
    staff_access = {"Curator": "read", "Auditor": "read"}
    list_title = _l("Access to contracts")
    show_title = _l("Access to a contract")
    label_columns = labels()
    list_columns = ["contract", "user", "role", "granted_at", "confirmed_at", "granted_by"]
    show_columns = ["contract", "user", "role", "energy_objects", "granted_at", "confirmed_at", "granted_by"]
    search_columns = ["contract", "user", "role", "granted_at", "confirmed_at"]
    # Typed filters (selects of 10 000 contracts and 20 000 users took 3 s); index 0 stays the contract's id
    # for the links `?_flt_0_contract=<id>` of the contract pages.
    related_search = {"contract": [related_filter("id", "eq", _l("Contract id equal to")),
                                   *contract_number_search()["contract"]],
                      "user": [related_filter("email", "ct", _l("User e-mail contains")),
                               related_filter("username", "eq", _l("User login equal to"))]}
    base_order = ("granted_at", "desc")
    choice_columns = {"role": ch.CONTRACT_ROLES}
    formatters_columns = {
        "granted_at": timestamp,
        "confirmed_at": timestamp,
        "energy_objects": lambda objects: ", ".join(str(o) for o in objects) if objects else _l("All objects"),
    }


CONTRACT_FORM_COLUMNS = ["number", "account_number", "counterparty", "branch", "kind", "status", "price_category",
                         "signed_on", "starts_on", "ends_on", "contract_volume", "opening_balance",
                         "opening_balance_on", "tariff", "curators"]


class ContractView(CrmModelView):
    route_base = "/admin/contracts"
    show_template = "admin/access_contract_show.html"
    datamodel = EagerSQLAInterface(Contract)
    staff_access = {"Curator": "edit", "Billing operator": "read", "Auditor": "read"}
    list_title = _l("Contracts")
    show_title = _l("Contract")
    add_title = _l("Add contract")
    edit_title = _l("Edit contract")
    label_columns = labels()
    list_columns = ["number", "counterparty", "branch", "kind", "status", "price_category", "starts_on"]
    search_columns = ["number", "account_number", "counterparty", "branch", "kind", "status", "price_category",
                      "starts_on", "ends_on", "external_id"]
    base_order = ("number", "asc")
    # Typed filters on the counterparty (a select of every counterparty would not scale).
    related_search = {"counterparty": [related_filter("inn", "eq", _l("Counterparty INN equal to")),
                                       related_filter("short_name", "ct", _l("Counterparty name contains")),
                                       related_filter("inn", "sw", _l("Counterparty INN starts with"))]}
    show_fieldsets = [
        (_l("Contract"), {"fields": ["number", "account_number", "counterparty", "kind", "status", "price_category",
                                     "signed_on", "starts_on", "ends_on"]}),
        (_l("Curation"), {"fields": ["branch", "curators", "tariff", "contract_volume"]}),
        (_l("Settlements"), {"fields": ["opening_balance", "opening_balance_on"]}),
        (_l("Billing system"), {"fields": ["external_id"], "expanded": False}),
    ]
    add_columns = edit_columns = CONTRACT_FORM_COLUMNS
    choice_columns = {"kind": ch.CONTRACT_KINDS, "status": ch.CONTRACT_STATUSES,
                      "price_category": optional(ch.PRICE_CATEGORY_CHOICES)}
    formatters_columns = {
        "signed_on": day, "starts_on": day, "ends_on": day, "opening_balance_on": day,
        "opening_balance": money,
        "curators": lambda curators: ", ".join(str(c) for c in curators),
        "tariff": lambda tariff: f"{tariff.name} ({ch.label_of(ch.TARIFF_ZONES, tariff.zone)})",
        "contract_volume": format_quantity,
    }
    validators_columns = {"number": [contract_number_check], "ends_on": [not_before("starts_on")]}
    # The counterparty typed as its INN: a <select> of 10 000 counterparties took ≈ 0.8 s per form.
    add_form_extra_fields = {"counterparty": CounterpartyInnField(_l("Counterparty INN"), Counterparty,
                                                                  description=_l("INN, or INN/KPP"))}
    edit_form_extra_fields = {"counterparty": CounterpartyInnField(_l("Counterparty INN"), Counterparty,
                                                                   description=_l("INN, or INN/KPP"))}
    # Documents and payments (hundreds per contract) live on their own filtered lists and customer 360;
    # rendering them as tabs made every contract page slow.
    related_views = [EnergyObjectView, PaymentTermView, ContractAccessView]


class CounterpartyView(CrmModelView):
    route_base = "/admin/counterparties"
    datamodel = EagerSQLAInterface(Counterparty)
    staff_access = {"Curator": "read", "Billing operator": "read", "Auditor": "read"}
    list_title = _l("Counterparties")
    show_title = _l("Counterparty")
    add_title = _l("Add counterparty")
    edit_title = _l("Edit counterparty")
    show_template = "admin/counterparty_show.html"
    label_columns = labels(full_name=_l("Full legal name"), id=_l("Customer 360"))
    list_columns = ["short_name", "inn", "kpp", "partner_code", "person_type", "id"]
    order_columns = ["short_name", "inn", "kpp", "partner_code", "person_type"]
    search_columns = ["short_name", "full_name", "inn", "kpp", "ogrn", "partner_code", "person_type", "email",
                      "external_id"]
    base_order = ("short_name", "asc")
    show_fieldsets = [
        (_l("Requisites"), {"fields": ["person_type", "full_name", "short_name", "inn", "kpp", "ogrn", "okpo",
                                       "partner_code"]}),
        (_l("Addresses and contacts"), {"fields": ["legal_address", "postal_address", "phone", "email"]}),
        (_l("Bank details"), {"fields": ["bank_name", "bank_bik", "bank_account", "bank_corr_account"]}),
        (_l("Billing system"), {"fields": ["external_id"], "expanded": False}),
    ]
    add_columns = edit_columns = ["person_type", "full_name", "short_name", "inn", "kpp", "ogrn", "okpo",
                                  "partner_code", "legal_address", "postal_address", "phone", "email", "bank_name",
                                  "bank_bik", "bank_account", "bank_corr_account"]
    choice_columns = {"person_type": ch.PERSON_TYPES}
    formatters_columns = {"id": counterparty_link}
    validators_columns = {"inn": [inn_check]}
    related_views = [ContractView]
