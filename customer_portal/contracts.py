"""Contract list and card."""
from __future__ import annotations

from flask import render_template
from flask_login import current_user, login_required

from crm import access
from crm.access import Capability
from crm.services import contracts as contract_service
from customer_portal import bp


@bp.route("/contracts/")
@login_required
def contract_list():
    return render_template("portal/contracts.html", grants=access.accessible_contracts(current_user))


@bp.route("/contracts/<int:contract_id>/")
@login_required
def contract_card(contract_id: int):
    grant = access.require(current_user, contract_id, Capability.VIEW_CONTRACT)
    card = contract_service.contract_card(grant)
    return render_template("portal/contract_card.html", grant=grant, card=card)
