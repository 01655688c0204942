"""Contracts: the list of the user's contracts and the contract card (SPEC C5, C7)."""
from __future__ import annotations

from flask import render_template

from crm.access import Capability
from crm.services import contracts as contract_service
from customer_portal import account_route, bp, contract_route
from customer_portal.context import portal_grants


@bp.route("/contracts/")
@account_route
def contract_list():
    """Every contract the user has a role on, with counterparty, kind, status, role and branch."""
    return render_template("portal/contracts.html", rows=contract_service.contract_rows(portal_grants()))


@bp.route("/contracts/<int:contract_id>/")
@contract_route(Capability.VIEW_CONTRACT)
def contract_card(grant, contract_id: int):
    """Details, requisites, terms, contacts and the objects within the user's scope; 404 without a role."""
    card = contract_service.contract_card(grant)
    return render_template("portal/contract_card.html", grant=grant, card=card)
