"""The integral readings file (SPEC C8 [004 §5.2]): the contract's template and its upload.

The upload form lives on the readings entry page (`portal/_readings_files.html`); this module answers
its POST with the result page: "Readings saved" with the consumption per register, every bad row with
its number, or the rollovers/jumps to confirm. A file that needs a confirmation is kept in the file
storage under a key remembered in the session (never a path from the form), so "Confirm and save"
submits exactly the file that was checked.
"""
from __future__ import annotations

import json
import secrets

from flask import Response, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from crm import clock
from crm.access import Capability
from crm.formatting import format_period
from crm.services import readings_files as files_service
from crm.services.readings_files import ReadingsFileError
from crm.services.readings_windows import entry_window
from crm.storage import StorageError, get_storage
from customer_portal import bp, contract_route

#: the session key of an upload waiting for the person's confirmation
PENDING_KEY = "readings_upload"
STORAGE_AREA = "readings_uploads"
#: saved rows listed on the result page (a file of 10 000 rows is summarised, not listed whole)
SHOWN_ROWS = 300
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def xlsx_response(data: bytes, filename: str) -> Response:
    """An xlsx download that is never cached (it holds the customer's data)."""
    response = Response(data, mimetype=XLSX_MIME)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/contracts/<int:contract_id>/readings/template.xlsx")
@contract_route(Capability.SUBMIT_READINGS)
def readings_template(grant, contract_id: int):
    """The integral readings template of the contract for the entry period, within the user's scope."""
    window = entry_window(grant.contract, clock.today())
    data = files_service.build_template(grant, window.period, format_period(window.period))
    return xlsx_response(data, f"readings-{grant.contract.number}-{window.period:%Y-%m}.xlsx")


def _pending(contract_id: int) -> dict | None:
    pending = session.get(PENDING_KEY)
    return pending if isinstance(pending, dict) and pending.get("contract_id") == contract_id else None


def _forget_pending() -> None:
    pending = session.pop(PENDING_KEY, None)
    if isinstance(pending, dict):
        for key in ("key", "confirmed_key"):
            if pending.get(key):
                get_storage().delete(pending[key])


def _confirmed(pending: dict) -> tuple[list[int], list[int]]:
    """The register ids shown for confirmation so far (kept next to the file: a session cookie is small)."""
    if not pending.get("confirmed_key"):
        return [], []
    try:
        with get_storage().open(pending["confirmed_key"]) as stored:
            confirmed = json.load(stored)
        return ([int(i) for i in confirmed.get("rollover", [])], [int(i) for i in confirmed.get("jump", [])])
    except (StorageError, ValueError, TypeError, AttributeError):
        return [], []


def entry_url(contract_id: int) -> str:
    """The readings entry page («Передать показания»), where the upload form lives."""
    return url_for("portal.readings_entry", contract_id=contract_id)


def _render(grant, status: int = 200, **values):
    window = entry_window(grant.contract, clock.today())
    values.setdefault("problems", [])
    return render_template("portal/readings_upload.html", grant=grant, window=window,
                           register_text=files_service.register_text, entry_url=entry_url(grant.contract.id),
                           shown_rows=SHOWN_ROWS,
                           **values), status


@bp.route("/contracts/<int:contract_id>/readings/upload", methods=["POST"])
@contract_route(Capability.SUBMIT_READINGS)
def readings_upload(grant, contract_id: int):
    """Check and save an uploaded readings file; or, with `confirm`, the file kept for confirmation."""
    confirm_rollover: list[int] = []
    confirm_jump: list[int] = []
    if request.form.get("confirm"):
        pending = _pending(contract_id)
        if pending is None or not secrets.compare_digest(str(pending.get("token", "")),
                                                         request.form.get("token", "")):
            return _render(grant, 400, problems=[files_service.RowProblem(None, _(
                "The upload to confirm is no longer available: choose the file and upload it again."))])
        try:
            with get_storage().open(pending["key"]) as stored:
                data = stored.read()
        except StorageError:
            session.pop(PENDING_KEY, None)
            return _render(grant, 400, problems=[files_service.RowProblem(None, _(
                "The upload to confirm is no longer available: choose the file and upload it again."))])
        filename = pending.get("filename", "")
        confirm_rollover, confirm_jump = _confirmed(pending)
    else:
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            return _render(grant, 400, problems=[files_service.RowProblem(None, _(
                "Choose the readings file (.xlsx or .xls) to upload."))], field_error=True)
        _forget_pending()
        data, filename = upload.read(), upload.filename
    try:
        result = files_service.import_readings(grant, current_user, data, filename,
                                               confirm_rollover=confirm_rollover, confirm_jump=confirm_jump)
    except ReadingsFileError as exc:
        if exc.needs_confirmation:
            return _ask_confirmation(grant, contract_id, exc, data, filename, confirm_rollover, confirm_jump)
        _forget_pending()
        return _render(grant, 400, problems=exc.problems, filename=filename,
                       rows=files_service.row_numbers(exc.problems))
    _forget_pending()
    return _render(grant, 200, result=result, filename=filename)


def _ask_confirmation(grant, contract_id, exc, data, filename, confirm_rollover, confirm_jump):
    pending = _pending(contract_id)
    if pending is None:
        pending = {"contract_id": contract_id, "key": get_storage().put(STORAGE_AREA, data, ".bin"),
                   "filename": filename[:200], "token": secrets.token_urlsafe(16)}
    confirmed = {
        "rollover": sorted(set(confirm_rollover) | {p.register_id for p in exc.problems
                                                    if p.kind == "rollover" and p.register_id}),
        "jump": sorted(set(confirm_jump) | {p.register_id for p in exc.problems if p.kind == "jump" and p.register_id}),
    }
    if pending.get("confirmed_key"):
        get_storage().delete(pending["confirmed_key"])
    pending["confirmed_key"] = get_storage().put(STORAGE_AREA, json.dumps(confirmed).encode(), ".json")
    session[PENDING_KEY] = pending
    return _render(grant, 200, problems=exc.problems, filename=filename, confirm_token=pending["token"])
