"""Payment history of a contract (SPEC C11, seed 004 §7.2): period and status filter, the payments
as a table, totals for the period. Read-only; paying comes with the pay flow.

Bad filter input never fails the page: each problem is shown under its field and the default list
(the current month, every status) is shown instead, with status 400.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass
from datetime import date, timedelta

from flask import render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm import clock
from crm.access import Capability
from crm.services import payments as payment_service
from customer_portal import bp, contract_route

STATUS_LABELS = payment_service.STATUS_LABELS
STATUS_BADGES = {"paid": "success", "pending": "warning", "failed": "danger", "refunded": "secondary"}
status_label = payment_service.status_label


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


@bp.route("/contracts/<int:contract_id>/payments/export")
@contract_route(Capability.VIEW_FINANCE)
def payments_export(grant, contract_id: int):
    """The filtered history as xlsx, csv or pdf: sent at once when small, otherwise made by a background
    task whose progress page the browser is sent to (SPEC W3)."""
    from flask import current_app, flash, redirect, send_file
    from flask_babel import get_locale
    from flask_login import current_user

    from crm.services import payment_exports
    from crm.services import tasks as task_service

    args = request.args
    back = url_for("portal.payments", contract_id=contract_id,
                   **{key: args[key] for key in ("date_from", "date_to", "status") if args.get(key)})
    try:
        chosen = payment_service.parse_history_filter(args.get("date_from", ""), args.get("date_to", ""),
                                                      args.get("status", ""), today=clock.today())
    except payment_service.PaymentFilterError:
        return redirect(back)
    fmt = args.get("format", "xlsx")
    if fmt not in payment_exports.FORMATS:
        fmt = "xlsx"
    export = payment_exports.ExportRequest(contract_id, chosen.date_from, chosen.date_to, chosen.status, fmt)
    rows = payment_exports.count_rows(export)
    if rows > current_app.config["EXPORT_INLINE_MAX_ROWS"]:
        if fmt == "pdf" and rows > payment_exports.PDF_MAX_ROWS:
            flash(_("A PDF can hold at most %(max)s payments. Choose a shorter period or xlsx or csv.",
                    max=payment_exports.PDF_MAX_ROWS), "warning")
            return redirect(back)
        params = dict(export.params(), locale=str(get_locale() or "ru"), capability=Capability.VIEW_FINANCE.value)
        task = task_service.create_task(current_user, "payments_export", params, contract_id=contract_id, total=rows)
        return redirect(url_for("portal.task_page", task_id=task.id))
    try:
        result = payment_exports.export_payments(export)
    except payment_exports.ExportError as exc:
        flash(exc.message, "warning")
        return redirect(back)
    try:
        with open(result.path, "rb") as handle:
            data = io.BytesIO(handle.read())
    finally:
        os.unlink(result.path)
    return send_file(data, mimetype=payment_exports.MIMETYPES[fmt], as_attachment=True, download_name=result.name)
