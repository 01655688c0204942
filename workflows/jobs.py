"""Background jobs: thin wrappers that take ids and call a service (idempotent, safe to retry).

They run inside an app context: the RQ worker (workflows/worker.py) preloads the app and keeps
its context open; in-process mode runs them inside the caller's app.
"""
from __future__ import annotations

from crm.extensions import db


def deliver_email_job(outbox_id: int) -> str:
    """Send one outbox e-mail."""
    from crm.services import outbox

    return outbox.deliver(outbox_id)


def run_task_job(task_id: int) -> str:
    """Run one background task (export, import…) to the end: progress, stored result (SPEC W3)."""
    from crm.services import tasks

    return tasks.run_task(task_id)


def recover_interrupted_tasks_job() -> int:
    """Requeue background tasks whose worker died or whose queue entry was lost."""
    from crm.services import tasks

    try:
        return tasks.recover_interrupted()
    finally:
        db.session.remove()


def sweep_transient_uploads_job() -> int:
    """Remove wizard uploads and unconfirmed readings files that nothing refers to any more."""
    from crm.storage import sweep_transient_areas

    return sweep_transient_areas()


def sweep_outbox_job() -> int:
    """Re-enqueue outbox rows left pending or stuck."""
    from crm.services import outbox

    try:
        return outbox.sweep()
    finally:
        db.session.remove()


def remove_expired_bindings_job() -> int:
    """Delete contract bindings left unconfirmed for 24 h (SPEC C1 a)."""
    from crm.services import signup

    try:
        return signup.remove_expired_bindings()
    finally:
        db.session.remove()


def block_unactivated_accounts_job() -> int:
    """Block staff-created accounts not activated within their 5-day window (SPEC C1 c)."""
    from crm.services import signup

    try:
        return signup.block_unactivated_accounts()
    finally:
        db.session.remove()


def readings_reminders_job() -> int:
    """E-mail readings-window reminders that are due (SPEC W2); reruns send nothing twice."""
    from crm.services import readings_reminders

    try:
        return readings_reminders.send_readings_reminders()
    finally:
        db.session.remove()


def send_document_job(document_id: int, user_id: int, contract_id: int) -> int | None:
    """Prepare a document's PDF and e-mail it to the user as an attachment (SPEC C10)."""
    from crm.services import documents

    return documents.send_document(document_id, user_id, contract_id)


def expire_appeal_drafts_job() -> int:
    """Delete appeal drafts a month after their last save, with their stored files (issue 6)."""
    from workflows import appeals

    try:
        return appeals.expire_drafts()
    finally:
        db.session.remove()


def escalate_appeals_job() -> int:
    """Escalate appeals whose SLA is breached to the branch lead, once per clock (SPEC B4)."""
    from workflows import appeals

    try:
        return appeals.escalate_overdue()
    finally:
        db.session.remove()


def deliver_email_batch_job(outbox_ids: list[int]) -> int:
    """Send a batch of outbox e-mails (sweeper, notification fan-out, a commit with several e-mails); each
    row is claimed on its own, so a row another job also picked up goes out once. Returns how many were
    sent. (One DB connection and one kept SMTP session for the whole batch.)"""
    from crm.services import outbox

    return sum(1 for status in outbox.deliver_many(outbox_ids).values() if status == "sent")


def send_scheduled_notifications_job() -> int:
    """Fan out notifications whose scheduled time has come (SPEC B6, W4)."""
    from workflows import notifications

    try:
        return notifications.send_scheduled()
    finally:
        db.session.remove()
