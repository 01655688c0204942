"""Payment history of a contract (SPEC C11, seed 004 §7.2): period and status filter, the payments
as a table, totals for the period. Read-only; paying comes with the pay flow.

Bad filter input never fails the page: each problem is shown under its field and the default list
(the current month, every status) is shown instead, with status 400.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

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


@dataclass(frozen=True)
class Preset:
    label: str
    url: str
    active: bool


def _months_back(today: date, months: int) -> date:
    """The first day of the month `months` before the current one."""
    index = today.year * 12 + today.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def _presets(contract_id: int, today: date, chosen: payment_service.HistoryFilter) -> list[Preset]:
    """One-click periods: this month, the previous month, the last twelve months (status kept)."""
    first, last = payment_service.current_month(today)
    previous_last = first - timedelta(days=1)
    periods = [(_l("Current month"), first, last),
               (_l("Previous month"), previous_last.replace(day=1), previous_last),
               (_l("Last 12 months"), _months_back(today, 11), last)]
    status = chosen.status or payment_service.ALL_STATUSES
    return [Preset(str(label), url_for("portal.payments", contract_id=contract_id, date_from=_iso(start),
                                       date_to=_iso(end), status=status),
                   (start, end) == (chosen.date_from, chosen.date_to))
            for label, start, end in periods]


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
    # After a mistake the fields keep what was typed, so it can be corrected (an unknown status
    # falls back to "all"); otherwise they show the filter applied.
    form = {"date_from": _iso(chosen.date_from), "date_to": _iso(chosen.date_to),
            "status": chosen.status or payment_service.ALL_STATUSES}
    if errors:
        form.update({key: values[key].strip()[:32] for key in ("date_from", "date_to") if values[key].strip()})
        if "status" not in errors and values["status"].strip():
            form["status"] = values["status"].strip()
    return render_template(
        "portal/payments.html", grant=grant, history=history, chosen=chosen, form=form, errors=errors,
        statuses=payment_service.STATUSES, status_label=status_label, status_badges=STATUS_BADGES,
        presets=_presets(contract_id, today, chosen),
    ), (400 if errors else 200)
