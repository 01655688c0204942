"""Portal home: straight to the contract when there is one, else the list of contracts."""
from __future__ import annotations

from flask import redirect, render_template, url_for

from crm.services import contracts as contract_service
from customer_portal import account_route, bp
from customer_portal.context import portal_grants


@bp.route("/")
@account_route
def index():
    """The only contract's card, or the list of the user's contracts."""
    grants = portal_grants()
    if len(grants) == 1:
        return redirect(url_for("portal.contract_card", contract_id=grants[0].contract.id))
    return render_template("portal/contracts.html", rows=contract_service.contract_rows(grants))
