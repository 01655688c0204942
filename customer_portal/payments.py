"""Payment history of a contract (SPEC C11, seed 004 §7.2): period and status filter, the payments
as a table, totals for the period. Read-only; paying comes with the pay flow.

Bad filter input never fails the page: each problem is shown under its field and the default list
(the current month, every status) is shown instead, with status 400.
"""
from __future__ import annotations

from datetime import date

from flask import render_template, request, url_for
from flask_babel import lazy_gettext as _l

from crm import clock
from crm.access import Capability
from crm.services import payments as payment_service
from customer_portal import bp, contract_route

#: label and badge colour of each payment status (the seed shows a pending payment as "В процессе")
STATUS_LABELS = {
    "paid": _l("Paid"),
    "pending": _l("In progress"),
    "failed": _l("Failed"),
    "refunded": _l("Refunded"),
}
STATUS_BADGES = {"paid": "success", "pending": "warning", "failed": "danger", "refunded": "secondary"}


def status_label(status: str) -> str:
    """The Russian (or English) name of a payment status; an unknown one as it is."""
    text = STATUS_LABELS.get(status)
    return str(text) if text is not None else status


def _iso(value: date) -> str:
    return value.isoformat()


def _wider_period_url(contract_id: int, today: date) -> str:
    """The last twelve months (the current one included), every status: the empty state's way out."""
    _first, last = payment_service.current_month(today)
    year, month = (today.year, today.month - 11) if today.month == 12 else (today.year - 1, today.month + 1)
    return url_for("portal.payments", contract_id=contract_id, date_from=_iso(date(year, month, 1)),
                   date_to=_iso(last))


@bp.route("/contracts/<int:contract_id>/payments")
@contract_route(Capability.VIEW_FINANCE)
def payments(grant, contract_id: int):
    """Payments of the contract for a period (the current month by default), filtered by status."""
    today = clock.today()
    args = request.args
    values = {"date_from": args.get("date_from", ""), "date_to": args.get("date_to", ""),
              "status": args.get("status", "")}
    errors: dict[str, str] = {}
    try:
        chosen = payment_service.parse_history_filter(values["date_from"], values["date_to"], values["status"],
                                                      today=today)
    except payment_service.PaymentFilterError as exc:
        errors = exc.errors
        chosen = payment_service.default_filter(today)
    history = payment_service.payment_history(contract_id, chosen.date_from, chosen.date_to, chosen.status)
    form = {
        # A field with an error keeps what was typed, so it can be corrected; the others show
        # what is applied.
        "date_from": values["date_from"] if "date_from" in errors else _iso(chosen.date_from),
        "date_to": values["date_to"] if "date_to" in errors else _iso(chosen.date_to),
        "status": chosen.status or payment_service.ALL_STATUSES,
    }
    default = payment_service.default_filter(today)
    return render_template(
        "portal/payments.html", grant=grant, history=history, chosen=chosen, form=form, errors=errors,
        statuses=payment_service.STATUSES, status_label=status_label, status_badges=STATUS_BADGES,
        is_default=chosen == default, max_rows=payment_service.MAX_ROWS,
        wider_url=_wider_period_url(contract_id, today),
    ), (400 if errors else 200)
