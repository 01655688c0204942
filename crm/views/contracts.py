"""Back-office views of counterparties and contracts."""
from __future__ import annotations

from flask_appbuilder import ModelView
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_babel import lazy_gettext as _l

from crm.models import Contract, Counterparty


class CounterpartyView(ModelView):
    route_base = "/admin/counterparties"
    datamodel = SQLAInterface(Counterparty)
    list_title = _l("Counterparties")
    list_columns = ["short_name", "inn", "kpp", "partner_code", "person_type"]
    search_columns = ["short_name", "full_name", "inn", "partner_code"]
    label_columns = {
        "short_name": _l("Short name"), "full_name": _l("Full name"), "inn": _l("INN"), "kpp": _l("KPP"),
        "partner_code": _l("Partner code"), "person_type": _l("Person type"),
    }


class ContractView(ModelView):
    route_base = "/admin/contracts"
    datamodel = SQLAInterface(Contract)
    list_title = _l("Contracts")
    list_columns = ["number", "counterparty", "branch", "kind", "status", "price_category", "signed_on"]
    search_columns = ["number", "counterparty", "branch", "kind", "status"]
    label_columns = {
        "number": _l("Number"), "counterparty": _l("Counterparty"), "branch": _l("Branch"),
        "kind": _l("Kind"), "status": _l("Status"), "price_category": _l("Price category"),
        "signed_on": _l("Signed on"),
    }


def register(appbuilder) -> None:
    appbuilder.add_view(CounterpartyView, "Counterparties", label=_l("Counterparties"),
                        category="Customers", category_label=_l("Customers"))
    appbuilder.add_view(ContractView, "Contracts", label=_l("Contracts"),
                        category="Customers", category_label=_l("Customers"))
