"""Households (SPEC C17) [001 §§3–9, 13]: houses with one personal account each, the readings wizard with
the amount to pay by the current tariff (issue 4 item 9), the payment wizard (amount → rules → provider),
the operations history and the printable receipt (filled or blank, HTML and PDF).

Houses belong to the signed-in user, so the routes are account routes: a house id that is not one of
the user's own answers 404. Reading and paying go through the account's contract grant (the role the
house gave), so the permission matrix of SPEC C6 still decides.
"""
from __future__ import annotations

import secrets

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from crm import clock
from crm.access import Capability
from crm.models import PaymentKind, ReadingSource
from crm.services import household_operations as history
from crm.services import household_receipts as receipts
from crm.services import households as service
from crm.services import payment_flow, readings_entry
from customer_portal import account_route, bp
from customer_portal.guards import grant_for_current_user

QUICK_PERIODS = (("half", _l("Half a year")), ("year", _l("A year")))
OPERATION_LABELS = {"bills": _l("Bills"), "readings": _l("Meter readings"), "payments": _l("Payments")}


def _house_or_404(house_id: int):
    try:
        return service.house_of(current_user, house_id)
    except service.HouseNotFoundError:
        abort(404)


def _grant(house, capability: Capability):
    """The user's grant on the house's account; 403 when the role lacks `capability` or is gone."""
    grant = grant_for_current_user(house.contract_id)
    if grant is None or not grant.can(capability):
        abort(403)
    return grant


def _switcher() -> list:
    """The houses for the quick switch on every household page [001 §9, fig. 9.5] (one statement)."""
    return service.houses_of(current_user)


def _render(template: str, status: int = 200, **context):
    context.setdefault("switch_houses", _switcher())
    return render_template(template, **context), status


# --- houses ---------------------------------------------------------------------------------

@bp.route("/houses")
@account_route
def houses():
    """"Managing personal accounts": every house with account, last reading and balance [001 §§3, 5]."""
    summaries = service.house_summaries(current_user)
    return _render("portal/households.html", summaries=summaries, switch_houses=[s.house for s in summaries])


@bp.route("/houses/add", methods=["GET", "POST"])
@account_route
def house_add():
    """Add a house with its personal account: name, address, account number and a meter number [001 §§3–4]."""
    values = {key: request.form.get(key, "") for key in ("name", "address", "account_number", "meter_serial")}
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            house = service.add_house(current_user, **values)
        except service.HouseholdError as exc:
            errors = exc.errors
        else:
            flash(_("The house “%(name)s” with personal account No. %(number)s has been added.",
                    name=house.name, number=house.contract.account_number), "success")
            return redirect(url_for("portal.house", house_id=house.id, added=1))
    return _render("portal/house_add.html", 422 if errors else 200, values=values, errors=errors)


@bp.route("/houses/<int:house_id>")
@account_route
def house(house_id: int):
    """One house: its account, balance, meters (with renaming) and last readings; the actions [001 §§4, 11]."""
    try:
        summary = service.house_detail(current_user, house_id)
    except service.HouseNotFoundError:
        abort(404)
    grant = grant_for_current_user(summary.house.contract_id)
    return _render("portal/house.html", summary=summary, grant=grant, capability=Capability,
                   added=request.args.get("added") == "1")


@bp.route("/houses/<int:house_id>/edit", methods=["GET", "POST"])
@account_route
def house_edit(house_id: int):
    """Rename a house or change its address; remove it [001 §8]."""
    house = _house_or_404(house_id)
    values = {"name": house.name, "address": house.address or ""}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {key: request.form.get(key, "") for key in ("name", "address")}
        try:
            service.rename_house(current_user, house_id, **values)
        except service.HouseholdError as exc:
            errors = exc.errors
        else:
            flash(_("The house has been saved."), "success")
            return redirect(url_for("portal.house", house_id=house_id))
    return _render("portal/house_edit.html", 422 if errors else 200, house=house, values=values, errors=errors)


@bp.route("/houses/<int:house_id>/remove", methods=["POST"])
@account_route
def house_remove(house_id: int):
    """Remove a house (its account leaves the cabinet with it)."""
    house = _house_or_404(house_id)
    name = house.name
    service.remove_house(current_user, house_id)
    flash(_("The house “%(name)s” has been removed.", name=name), "success")
    return redirect(url_for("portal.houses"))


@bp.route("/houses/<int:house_id>/meters/<int:meter_id>/rename", methods=["GET", "POST"])
@account_route
def house_meter_rename(house_id: int, meter_id: int):
    """Give a meter a name of one's own [001 §4, fig. 4.3]."""
    summary = _detail_or_404(house_id)
    info = next((m for m in summary.meters if m.meter.id == meter_id), None)
    if info is None:
        abort(404)
    value = info.meter.customer_label or ""
    errors: dict[str, str] = {}
    if request.method == "POST":
        value = request.form.get("label", "")
        try:
            service.rename_meter(current_user, house_id, meter_id, value)
        except service.HouseholdError as exc:
            errors = exc.errors
        else:
            flash(_("The meter has been renamed."), "success")
            return redirect(url_for("portal.house", house_id=house_id))
    return _render("portal/house_meter.html", 422 if errors else 200, summary=summary, info=info, value=value,
                   errors=errors)


def _detail_or_404(house_id: int):
    try:
        return service.house_detail(current_user, house_id)
    except service.HouseNotFoundError:
        abort(404)


# --- readings wizard [001 §7] ---------------------------------------------------------------

@bp.route("/houses/<int:house_id>/readings", methods=["GET", "POST"])
@account_route
def house_readings(house_id: int):
    """The meters of the account with the previous value and an input per register (the readings entry
    service decides what accepts input and saves it); then the result with the amount to pay."""
    house = _house_or_404(house_id)
    grant = _grant(house, Capability.SUBMIT_READINGS)
    sheet = readings_entry.entry_sheet(grant)
    values: dict[int, str] = {}
    problems: dict[int | None, list] = {}
    if request.method == "POST":
        values = {line.register.id: request.form.get(f"r{line.register.id}", "").strip() for line in sheet.lines}
        confirm = [int(rid) for rid in request.form.getlist("confirm") if rid.isdigit()]
        try:
            readings_entry.submit_readings(grant, current_user, values, source=ReadingSource.PORTAL.value,
                                           confirm_rollover=confirm, confirm_jump=confirm)
        except readings_entry.ReadingsEntryError as exc:
            for problem in exc.problems:
                problems.setdefault(problem.register_id, []).append(problem)
        else:
            return redirect(url_for("portal.house_readings_result", house_id=house_id))
    return _render("portal/house_readings.html", 422 if problems else 200, house=house, sheet=sheet, values=values,
                   problems=problems)


@bp.route("/houses/<int:house_id>/readings/result")
@account_route
def house_readings_result(house_id: int):
    """After submission: consumption and the amount to pay by the tariff in force today, with the
    computation, a link to the printable receipt and to the payment wizard [001 §7, fig. 7.2]."""
    _grant(_house_or_404(house_id), Capability.SUBMIT_READINGS)
    house, period, rows = service.latest_submission(current_user, house_id)
    consumption = {register: reading.consumption for _info, register, reading in rows
                   if reading.consumption is not None}
    charge = service.amount_to_pay(house.contract, consumption)
    labels = {register.id: info.label for info, register, _reading in rows}
    return _render("portal/house_readings_result.html", house=house, period=period, rows=rows, charge=charge,
                   meter_labels=labels)


# --- payment wizard [001 §6] ----------------------------------------------------------------

@bp.route("/houses/<int:house_id>/pay", methods=["GET", "POST"])
@account_route
def house_pay(house_id: int):
    """Step 1 the amount (the debt, editable) → step 2 the payment rules accepted → the provider (the payment
    flow service: the whole debt when there is one, else a prepayment)."""
    summary = _detail_or_404(house_id)
    grant = _grant(summary.house, Capability.PAY)
    debt = summary.balance if summary.balance is not None and summary.balance > 0 else None
    step, errors = 1, {}
    amount_text = request.form.get("amount", f"{debt:.2f}".replace(".", ",") if debt else "")
    key = request.form.get("key", "")
    if not (16 <= len(key) <= 64 and key.isalnum()):
        key = secrets.token_hex(16)
    if request.method == "POST":
        try:
            amount = payment_flow.parse_amount(amount_text)
        except ValueError as exc:
            errors = {"amount": str(exc)}
        else:
            step = 2
            if request.form.get("step") == "2":
                if request.form.get("rules") != "accepted":
                    errors = {"rules": _("Read the payment rules and confirm that you accept them.")}
                else:
                    # The debt preselects every unpaid document; a debt with none of them (an opening balance)
                    # or no debt at all is paid as a prepayment.
                    owed = debt is not None and payment_flow.unpaid_documents(summary.house.contract_id)
                    kind = PaymentKind.DEBT if owed else PaymentKind.PREPAYMENT
                    try:
                        _intent, url = payment_flow.start_payment(grant, current_user, kind, amount, [], key)
                    except payment_flow.PaymentForbiddenError:
                        abort(403)
                    except payment_flow.PaymentError as exc:
                        errors = exc.errors
                        step = 1 if "amount" in errors else 2
                    else:
                        return redirect(url)
    return _render("portal/house_pay.html", 422 if errors else 200, summary=summary, house=summary.house, step=step,
                   debt=debt, amount_text=amount_text, key=key, errors=errors)


# --- operations history [001 §9] -------------------------------------------------------------

@bp.route("/houses/<int:house_id>/operations")
@account_route
def house_operations(house_id: int):
    """Bills, readings and payments of the account for a period: quick "half a year", "a year", or dates."""
    house = _house_or_404(house_id)
    _grant(house, Capability.VIEW_CONTRACT)
    errors: dict[str, str] = {}
    kinds = request.args.getlist("kind")
    try:
        chosen = history.parse_operations_filter(request.args, kinds)
    except history.OperationsFilterError as exc:
        errors = exc.errors
        chosen = history.parse_operations_filter({}, [])
    rows = history.operations(house.contract, chosen)
    quick = {key: history.quick_period(history.QUICK_MONTHS[key]) for key, _label in QUICK_PERIODS}
    return _render("portal/house_operations.html", 400 if errors else 200, house=house, chosen=chosen, rows=rows,
                   errors=errors, quick_periods=QUICK_PERIODS, quick=quick, kinds=history.OPERATION_KINDS,
                   kind_labels=OPERATION_LABELS, checked=set(kinds) & set(history.OPERATION_KINDS),
                   form={"date_from": request.args.get("date_from", chosen.date_from.isoformat()),
                         "date_to": request.args.get("date_to", chosen.date_to.isoformat())})


# --- receipts [001 §§7, 9] -------------------------------------------------------------------

def _receipt(house_id: int):
    _grant(_house_or_404(house_id), Capability.VIEW_CONTRACT)
    amount = None
    raw = request.args.get("amount", "").strip()
    if raw:
        try:
            amount = payment_flow.parse_amount(raw)
        except ValueError as exc:
            flash(str(exc), "warning")
    return receipts.filled_receipt(current_user, house_id, amount, clock.today())


@bp.route("/houses/<int:house_id>/receipt")
@account_route
def house_receipt(house_id: int):
    """The filled receipt as a print page (amount from `?amount=`, else the readings' amount or the debt)."""
    return receipts.render_receipt_html(_receipt(house_id))


@bp.route("/houses/<int:house_id>/receipt.pdf")
@account_route
def house_receipt_pdf(house_id: int):
    """The filled receipt as PDF."""
    receipt = _receipt(house_id)
    return _pdf(receipts.receipt_pdf(receipt), f"receipt-{receipt.account_number}.pdf")


@bp.route("/houses/receipt/blank")
@account_route
def house_receipt_blank():
    """A blank receipt to fill in by hand."""
    return receipts.render_receipt_html(receipts.blank_receipt())


@bp.route("/houses/receipt/blank.pdf")
@account_route
def house_receipt_blank_pdf():
    """A blank receipt as PDF."""
    return _pdf(receipts.receipt_pdf(receipts.blank_receipt()), "receipt-blank.pdf")


def _pdf(data: bytes, filename: str) -> Response:
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{filename}"'})
