"""Customer 360 page (SPEC B2): parse the id, call the service, render."""
from __future__ import annotations

from flask import abort
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access

from crm.services.customer360 import customer_360
from crm.views import choices as ch


class Customer360View(BaseView):
    route_base = "/admin/customers"
    default_view = "show"
    staff_access = {"Curator": "read", "Billing operator": "read", "Auditor": "read"}

    @expose("/<int:counterparty_id>")
    @has_access
    def show(self, counterparty_id: int):
        """One counterparty: requisites, contracts, objects, users, money, appeals, audit trail."""
        view = customer_360(counterparty_id)
        if view is None:
            abort(404)
        return self.render_template("admin/customer360.html", c360=view, ch=ch, label_of=ch.label_of)
