"""Portal home: the user's contracts at a glance."""
from __future__ import annotations

from flask import redirect, render_template, url_for
from flask_login import current_user, login_required

from crm import access
from customer_portal import bp


@bp.route("/")
@login_required
def index():
    grants = access.accessible_contracts(current_user)
    if len(grants) == 1:
        return redirect(url_for("portal.contract_card", contract_id=grants[0].contract.id))
    return render_template("portal/index.html", grants=grants)
