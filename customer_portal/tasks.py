"""Background tasks in the portal (SPEC W3): a page with a progress bar (refreshed by
static/task_progress.js polling the JSON), the JSON itself, and the download of the result.

Only the task's own user sees them (404 for anyone else); a task made for a contract also needs
the capability it was made under, still held today (a revoked role cannot download an old export).
"""
from __future__ import annotations

from flask import abort, jsonify, render_template, send_file, url_for
from flask_login import current_user

from crm.access import Capability
from crm.models.integration import TaskStatus
from crm.services import tasks as task_service
from crm.storage import StorageError, get_storage
from customer_portal import account_route, bp
from customer_portal.guards import grant_for_current_user


def _own_task(task_id: int):
    task = task_service.task_for_user(current_user, task_id)
    if task is None:
        abort(404)
    capability = (task.params or {}).get("capability")
    if task.contract_id is not None and capability:
        grant = grant_for_current_user(task.contract_id)
        if grant is None or not grant.can(Capability(capability)):
            abort(404)
    return task


def _state(task) -> dict:
    done = task.status == TaskStatus.DONE.value
    return {"id": task.id, "status": task.status, "progress": task.progress, "total": task.total,
            "percent": task_service.percent(task), "error": task.error,
            "download_url": url_for("portal.task_download", task_id=task.id) if done else None}


@bp.route("/tasks/<int:task_id>")
@account_route
def task_page(task_id: int):
    """The task's progress; a download link once it is done."""
    task = _own_task(task_id)
    return render_template("portal/task.html", task=task, state=_state(task),
                           finished=task.status in (TaskStatus.DONE.value, TaskStatus.FAILED.value))


@bp.route("/tasks/<int:task_id>.json")
@account_route
def task_status(task_id: int):
    """The task's progress as JSON (polled by the page)."""
    response = jsonify(_state(_own_task(task_id)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/tasks/<int:task_id>/download")
@account_route
def task_download(task_id: int):
    """The result file of a finished task."""
    task = _own_task(task_id)
    if task.status != TaskStatus.DONE.value or not task.result_key:
        abort(404)
    try:
        handle = get_storage().open(task.result_key)
    except StorageError:
        abort(404)
    return send_file(handle, as_attachment=True, download_name=task.result_name or "result")
