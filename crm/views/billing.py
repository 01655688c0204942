"""Tariffs, billing documents and payments (the billing system is their source of truth)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from crm.formatting import format_quantity
from crm.models import BillingDocument, Contract, Payment, Tariff
from crm.views import choices as ch
from crm.views.common import (
    CrmModelView,
    EagerSQLAInterface,
    RelatedKeyField,
    contract_number_search,
    day,
    money,
    not_before,
    period,
)
from crm.views.labels import labels

BILLING = {"Billing operator": "edit", "Curator": "read", "Auditor": "read"}

# Filter by the contract's number typed as text (a select of every contract would not scale).
CONTRACT_NUMBER_SEARCH = contract_number_search()


def contract_number_field() -> RelatedKeyField:
    """The contract of a document or payment form, typed as its number."""
    return RelatedKeyField(_l("Contract number"), Contract, "number", description=_l("14 digits"))


PAYMENT_CHANNELS = [("bank", _l("Bank transfer")), ("portal", _l("Online in the portal"))]


class TariffView(CrmModelView):
    route_base = "/admin/tariffs"
    datamodel = EagerSQLAInterface(Tariff)
    staff_access = BILLING
    list_title = _l("Tariffs")
    show_title = _l("Tariff")
    add_title = _l("Add tariff")
    edit_title = _l("Edit tariff")
    label_columns = labels()
    list_columns = ["group_code", "name", "zone", "rate", "unit", "valid_from", "valid_to"]
    show_columns = add_columns = edit_columns = ["group_code", "name", "zone", "rate", "unit", "valid_from",
                                                 "valid_to"]
    search_columns = ["group_code", "name", "zone", "valid_from", "valid_to"]
    base_order = ("valid_from", "desc")
    choice_columns = {"zone": ch.TARIFF_ZONES}
    formatters_columns = {"valid_from": day, "valid_to": day, "rate": lambda value: format_quantity(value, places=5)}
    validators_columns = {"valid_to": [not_before("valid_from")]}


class BillingDocumentView(CrmModelView):
    route_base = "/admin/documents"
    datamodel = EagerSQLAInterface(BillingDocument)
    staff_access = BILLING
    list_title = _l("Billing documents")
    show_title = _l("Billing document")
    add_title = _l("Add billing document")
    edit_title = _l("Edit billing document")
    label_columns = labels(doc_date=_l("Document date"))
    list_columns = ["doc_type", "number", "doc_date", "contract", "period", "sale_kind", "amount", "amount_due",
                    "due_date"]
    search_columns = ["doc_type", "number", "doc_date", "contract", "period", "sale_kind", "due_date",
                      "external_id"]
    base_order = ("doc_date", "desc")
    related_search = CONTRACT_NUMBER_SEARCH
    show_columns = ["doc_type", "number", "doc_date", "contract", "period", "sale_kind", "amount", "amount_due",
                    "due_date", "file_key", "external_id"]
    add_columns = edit_columns = ["contract", "doc_type", "number", "doc_date", "period", "sale_kind", "amount",
                                  "amount_due", "due_date"]
    choice_columns = {"doc_type": ch.DOCUMENT_TYPES, "sale_kind": ch.SALE_KINDS}
    add_form_extra_fields = {"contract": contract_number_field()}
    edit_form_extra_fields = {"contract": contract_number_field()}
    formatters_columns = {"doc_date": day, "due_date": day, "period": period, "amount": money, "amount_due": money}


class PaymentView(CrmModelView):
    route_base = "/admin/payments"
    datamodel = EagerSQLAInterface(Payment)
    staff_access = BILLING
    list_title = _l("Payments")
    show_title = _l("Payment")
    add_title = _l("Add payment")
    edit_title = _l("Edit payment")
    label_columns = labels(number=_l("Payment order number"))
    list_columns = ["paid_on", "number", "contract", "amount", "status", "bank", "channel"]
    search_columns = ["paid_on", "number", "contract", "amount", "status", "bank", "channel", "purpose",
                      "external_id"]
    base_order = ("paid_on", "desc")
    related_search = CONTRACT_NUMBER_SEARCH
    show_columns = ["paid_on", "number", "contract", "document", "amount", "status", "bank", "purpose", "channel",
                    "provider_payment_id", "external_id"]
    # The document link comes from the billing import: a select of every document would not scale.
    add_columns = edit_columns = ["contract", "paid_on", "number", "amount", "status", "bank", "purpose"]
    choice_columns = {"status": ch.PAYMENT_STATUSES, "channel": PAYMENT_CHANNELS}
    add_form_extra_fields = {"contract": contract_number_field()}
    edit_form_extra_fields = {"contract": contract_number_field()}
    formatters_columns = {"paid_on": day, "amount": money}
