"""Hourly interval profiles (SPEC C8 [004 §5.3]) of interval meters: template, upload, primary acts, and
the interval vs integral comparison (also shown on the readings entry page through `interval_overview`).
"""
from __future__ import annotations

from flask import render_template, request
from flask_babel import gettext as _
from flask_login import current_user

from crm import clock
from crm.access import Capability
from crm.services import interval_profiles as profiles
from crm.services.interval_profiles import IntervalMeterNotFoundError, IntervalProfileError
from crm.services.readings import add_months
from crm.services.readings_windows import entry_window
from customer_portal import bp, contract_route
from customer_portal.readings_files import entry_url, xlsx_response

#: months compared on a meter's page (the entry period and the ones before it)
COMPARED_MONTHS = 6


class _UnavailableError(Exception):
    def __init__(self, grant, message: str):
        self.grant, self.message = grant, message


@bp.errorhandler(_UnavailableError)
def _unavailable(exc: _UnavailableError):
    return render_template("portal/interval_unavailable.html", grant=exc.grant, message=exc.message,
                           entry_url=entry_url(exc.grant.contract.id)), 404


def _meter_or_404(grant, meter_id: int):
    """The interval meter, or a 404 page that says why (not the contract's / not in the scope — as if it
    did not exist — or not interval-metered)."""
    try:
        return profiles.interval_meter(grant, meter_id)
    except IntervalMeterNotFoundError as exc:
        raise _UnavailableError(grant, exc.message) from exc


@bp.route("/contracts/<int:contract_id>/meters/<int:meter_id>/profile-template.xlsx")
@contract_route(Capability.SUBMIT_READINGS)
def interval_template(grant, contract_id: int, meter_id: int):
    """The hourly profile template of seed 004 §5.3.1 for `?month=YYYY-MM` (default: the entry period)."""
    meter = _meter_or_404(grant, meter_id)
    month = entry_window(grant.contract, clock.today()).period
    if request.args.get("month"):
        try:
            month = profiles.parse_month(request.args["month"])
        except IntervalProfileError as exc:
            return _render(grant, meter, 400, problems=exc.messages)
    data = profiles.build_profile_template(meter, month)
    return xlsx_response(data, f"profile-{meter.serial}-{month:%Y-%m}.xlsx")


@bp.route("/contracts/<int:contract_id>/meters/<int:meter_id>/profile", methods=["GET", "POST"])
@contract_route(Capability.SUBMIT_READINGS)
def interval_profile(grant, contract_id: int, meter_id: int):
    """A meter's hourly profiles: the upload form, its primary acts and the comparison with the integral
    readings; POST uploads a filled template for the chosen month."""
    meter = _meter_or_404(grant, meter_id)
    if request.method == "GET":
        return _render(grant, meter)
    upload = request.files.get("file")
    problems: list[str] = []
    try:
        month = profiles.parse_month(request.form.get("month"))
    except IntervalProfileError as exc:
        month, problems = None, list(exc.messages)
    if upload is None or not upload.filename:
        problems.append(_("Choose the hourly profile file (.xlsx or .xls) to upload."))
    if problems:
        return _render(grant, meter, 400, problems=problems, month=month)
    try:
        act = profiles.upload_profile(grant, current_user, meter.id, month, upload.read(), upload.filename)
    except IntervalProfileError as exc:
        return _render(grant, meter, 400, problems=exc.messages, month=month, filename=upload.filename)
    return _render(grant, meter, 200, saved=act, month=month)


@bp.route("/contracts/<int:contract_id>/acts/<int:act_id>.xlsx")
@contract_route(Capability.SUBMIT_READINGS)
def interval_act(grant, contract_id: int, act_id: int):
    """A primary act (an uploaded hourly profile) as xlsx."""
    try:
        act = profiles.act_for(grant, act_id)
    except IntervalMeterNotFoundError as exc:
        raise _UnavailableError(grant, exc.message) from exc
    return xlsx_response(profiles.act_workbook(act), f"act-{act.id}-{act.month:%Y-%m}.xlsx")


def _render(grant, meter, status: int = 200, **values):
    period = entry_window(grant.contract, clock.today()).period
    months = [add_months(period, -offset) for offset in range(COMPARED_MONTHS)]
    values.setdefault("month", None)
    values["month"] = values["month"] or period
    return render_template(
        "portal/interval_profile.html", grant=grant, meter=meter, acts=profiles.meter_acts(meter),
        comparison=profiles.interval_comparison(grant, months, meter.id), period=period,
        status_label=profiles.status_label, entry_url=entry_url(grant.contract.id),
        problems=values.pop("problems", []), **values), status


@bp.app_template_global("interval_overview")
def interval_overview(grant, period):
    """For the readings entry page: each interval meter of the scope for `period` (two statements when
    the contract has interval meters, one otherwise)."""
    return profiles.interval_comparison(grant, [period])


@bp.app_template_global("act_status_label")
def act_status_label(status: str) -> str:
    return profiles.status_label(status)

