"""Portal section: services (SPEC C14, seed 004 §6, 001 §12). Thin routes over
crm/services/service_orders.py: catalog cards, the order form, the confirmation, the history and
the price list."""
from __future__ import annotations

import io

from flask import abort, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from crm.extensions import db
from crm.services import service_orders
from customer_portal import account_route, bp
from customer_portal.content_forms import ServiceOrderForm, apply_problems
from customer_portal.context import portal_grants, selected_grant

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.route("/services/")
@account_route
def services():
    """The catalog: a card per service with its approximate price."""
    return render_template("portal/services/catalog.html", services=service_orders.catalog())


@bp.route("/services/<int:service_id>/picture")
@account_route
def service_picture(service_id: int):
    """The service's picture from the file storage (the card shows an icon when there is none)."""
    service = service_orders.get_active_service(service_id)
    found = service_orders.picture(service) if service is not None else None
    if found is None:
        abort(404)
    data, content_type = found
    response = send_file(io.BytesIO(data), mimetype=content_type, max_age=3600)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _contract_choices():
    choices = [("", "—")]
    for grant in portal_grants():
        contract = grant.contract
        choices.append((str(contract.id), f"{contract.number} · {contract.counterparty.short_name}"))
    return choices


@bp.route("/services/<int:service_id>/order", methods=["GET", "POST"])
@account_route
def service_order(service_id: int):
    """The service card with the order form, prefilled from the profile and the selected contract."""
    service = service_orders.get_active_service(service_id)
    if service is None:
        abort(404)
    if request.method == "POST":
        form = ServiceOrderForm()
    else:
        selected = selected_grant()
        draft = service_orders.draft_for(current_user, selected.contract.id if selected else None)
        form = ServiceOrderForm(formdata=None, data={"contract_id": draft.contract_id,
                                                     "contact_name": draft.contact_name, "phone": draft.phone})
    form.contract_id.choices = _contract_choices()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                order = service_orders.place_order(current_user, service.id, form.contract_id.data,
                                                   form.contact_name.data, form.phone.data, form.task.data)
            except service_orders.OrderError as exc:
                db.session.rollback()
                apply_problems(form, exc.problems, "task")
                status = 400
            else:
                return redirect(url_for("portal.service_order_done", order_id=order.id, placed=1))
        else:
            status = 400
    return render_template("portal/services/order.html", service=service, form=form), status


@bp.route("/services/orders/<int:order_id>")
@account_route
def service_order_done(order_id: int):
    """One of the user's orders: the confirmation right after ordering, later its status."""
    order = service_orders.get_own_order(current_user, order_id)
    if order is None:
        abort(404)
    return render_template("portal/services/order_done.html", order=order, bill=service_orders.order_bill(order),
                           status_label=service_orders.status_label,
                           just_placed=request.args.get("placed") is not None)


@bp.route("/services/orders/")
@account_route
def service_orders_history():
    """The user's orders with their statuses, newest first."""
    return render_template("portal/services/orders.html", orders=service_orders.order_history(current_user),
                           status_label=service_orders.status_label)


@bp.route("/services/price-list.xlsx")
@account_route
def service_price_list():
    """The price list of services as a spreadsheet."""
    return send_file(io.BytesIO(service_orders.price_list_xlsx()), mimetype=XLSX_TYPE, as_attachment=True,
                     download_name="price-list.xlsx")
