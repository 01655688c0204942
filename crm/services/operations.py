"""What operators watch (SPEC B10): queues and workers, failed jobs, periodic jobs, the outbox.

Everything here reads; the two actions (retry a failed RQ job, retry a failed background task) are
small and idempotent. Redis is asked with the queue's short timeouts, and every Redis problem becomes
`available=False` in the result: an operations page must work best exactly when Redis does not.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from crm import clock
from crm.extensions import db
from crm.models.integration import BackgroundTask, TaskStatus
from crm.models.outbox import EmailOutbox, OutboxStatus

log = logging.getLogger(__name__)

FAILED_LIMIT = 100


def _redis_errors() -> tuple[type[BaseException], ...]:
    from redis.exceptions import RedisError

    return (RedisError, OSError)


def in_process() -> bool:
    """True when jobs run inside the web process (no REDIS_URL)."""
    return bool(current_app.config.get("JOBS_INLINE"))


def _queue():
    from workflows.queue import get_rq_queue

    return get_rq_queue()


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- queues -----------------------------------------------------------------------------------------

@dataclass
class QueueState:
    mode: str                        # "in-process" or "rq"
    available: bool = True           # False: Redis did not answer
    queues: list[dict] = field(default_factory=list)
    workers: int = 0
    delayed: int = 0                 # in-process delayed jobs (retries, expiries) waiting in memory


def queue_state() -> QueueState:
    """Depth of every RQ queue and the number of workers, or the in-process mode."""
    if in_process():
        from workflows import queue as queue_module

        return QueueState(mode="in-process", delayed=len(queue_module._delayed))
    try:
        from rq import Queue, Worker

        connection = _queue().connection
        connection.ping()
        queues = Queue.all(connection=connection) or [_queue()]
        rows = [{"name": q.name, "queued": q.count, "started": q.started_job_registry.count,
                 "scheduled": q.scheduled_job_registry.count, "deferred": q.deferred_job_registry.count,
                 "failed": q.failed_job_registry.count} for q in sorted(queues, key=lambda q: q.name)]
        return QueueState(mode="rq", queues=rows, workers=Worker.count(connection=connection))
    except _redis_errors() as exc:
        log.warning("operations: Redis unavailable (%s)", exc.__class__.__name__)
        return QueueState(mode="rq", available=False)


# --- failed jobs ------------------------------------------------------------------------------------

@dataclass
class FailedJobs:
    available: bool
    jobs: list[dict] = field(default_factory=list)


def _last_line(text: str | None) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1][:500] if lines else ""


def failed_jobs(limit: int = FAILED_LIMIT) -> FailedJobs:
    """Jobs RQ gave up on (after their retries), newest first; empty in in-process mode."""
    if in_process():
        return FailedJobs(available=True)
    try:
        from rq import Queue
        from rq.job import Job

        connection = _queue().connection
        rows = []
        for queue in Queue.all(connection=connection) or [_queue()]:
            ids = queue.failed_job_registry.get_job_ids(0, limit - 1)
            for job in Job.fetch_many(ids, connection=connection):
                if job is None:  # expired between the two calls
                    continue
                result = job.latest_result()
                rows.append({"id": job.id, "queue": queue.name, "func": job.func_name,
                             "args": ", ".join(repr(arg) for arg in job.args or ())[:200],
                             "error": _last_line(result.exc_string if result else job.exc_info),
                             "ended_at": _aware(job.ended_at)})
        rows.sort(key=lambda row: row["ended_at"] or datetime.min.replace(tzinfo=UTC), reverse=True)
        return FailedJobs(available=True, jobs=rows[:limit])
    except _redis_errors() as exc:
        log.warning("operations: Redis unavailable (%s)", exc.__class__.__name__)
        return FailedJobs(available=False)


def retry_failed_job(job_id: str) -> bool:
    """Put a failed RQ job back on its queue; False if it is not (or no longer) failed."""
    if in_process():
        return False
    from rq import Queue
    from rq.exceptions import InvalidJobOperation, NoSuchJobError

    try:
        connection = _queue().connection
        for queue in Queue.all(connection=connection) or [_queue()]:
            if job_id in queue.failed_job_registry:
                queue.failed_job_registry.requeue(job_id)
                return True
    except (InvalidJobOperation, NoSuchJobError) + _redis_errors():
        return False
    return False


def failed_tasks(limit: int = FAILED_LIMIT) -> list[BackgroundTask]:
    """Background tasks (exports …) that ended in failure, newest first."""
    return list(db.session.scalars(
        select(BackgroundTask).where(BackgroundTask.status == TaskStatus.FAILED.value)
        .order_by(BackgroundTask.finished_at.desc(), BackgroundTask.id.desc()).limit(limit)))


def retry_task(task_id: int) -> bool:
    """Run a failed background task again from the start; False if it is not failed (a double
    click retries once). In in-process mode it runs before this returns."""
    changed = db.session.execute(
        update(BackgroundTask)
        .where(BackgroundTask.id == task_id, BackgroundTask.status == TaskStatus.FAILED.value)
        .values(status=TaskStatus.QUEUED.value, progress=0, error=None, started_at=None, finished_at=None,
                result_key=None, result_name=None)).rowcount
    db.session.commit()
    if not changed:
        return False
    from workflows.jobs import run_task_job
    from workflows.queue import enqueue

    try:
        enqueue(run_task_job, task_id)
    except _redis_errors() as exc:
        log.warning("operations: could not enqueue task %s: %s", task_id, exc)
        db.session.execute(update(BackgroundTask).where(BackgroundTask.id == task_id).values(
            status=TaskStatus.FAILED.value, finished_at=clock.now(), error="The queue is unavailable."))
        db.session.commit()
        return False
    return True


# --- periodic jobs ----------------------------------------------------------------------------------

@dataclass
class Schedule:
    source: str                      # "rq-cron" | "no-cron" | "in-process" | "unavailable"
    jobs: list[dict] = field(default_factory=list)


#: What each periodic job does, for the operations page (staff read Russian; the code path stays beside it).
JOB_TITLES = {
    "sweep_outbox_job": _l("Send e-mails waiting in the outbox (and retry stuck ones)"),
    "remove_expired_bindings_job": _l("Remove contract bindings not confirmed within 24 hours"),
    "block_unactivated_accounts_job": _l("Block accounts not activated in time"),
    "readings_reminders_job": _l("Send reminders about the readings period"),
    "send_scheduled_notifications_job": _l("Send notifications whose scheduled time has come"),
    "expire_appeal_drafts_job": _l("Delete appeal drafts older than a month, with their files"),
    "escalate_appeals_job": _l("Escalate appeals past their SLA to the branch lead"),
    "recover_interrupted_tasks_job": _l("Restart exports whose worker stopped or whose queue entry was lost"),
    "sweep_transient_uploads_job": _l("Delete files left by abandoned appeal and readings uploads"),
}


def scheduled_jobs() -> Schedule:
    """The periodic jobs of workflows/schedule.py with their interval, and — from the RQ cron
    scheduler's registry in Redis — when each was last enqueued and will be next. The in-process
    scheduler keeps its times in the web process's memory only, so there they are not known."""
    from workflows.schedule import PERIODIC_JOBS

    jobs = [{"name": f"{job.__module__}.{job.__name__}",
             "doc": str(JOB_TITLES[job.__name__]) if job.__name__ in JOB_TITLES
             else (job.__doc__ or "").strip().splitlines()[0] if job.__doc__ else "",
             "interval": interval, "last_run": None, "next_run": None}
            for job, interval in PERIODIC_JOBS]
    if in_process():
        return Schedule(source="in-process", jobs=jobs)
    try:
        from rq.cron import CronScheduler

        schedulers = CronScheduler.all(_queue().connection)
    except _redis_errors() as exc:
        log.warning("operations: Redis unavailable (%s)", exc.__class__.__name__)
        return Schedule(source="unavailable", jobs=jobs)
    if not schedulers:
        return Schedule(source="no-cron", jobs=jobs)
    registered = {}
    for scheduler in schedulers:
        for cron_job in scheduler.get_jobs():
            registered[cron_job.func_name] = cron_job
    for job in jobs:
        cron_job = registered.get(job["name"])
        if cron_job is not None:
            job["last_run"] = _aware(cron_job.latest_enqueue_time)
            nxt = cron_job.next_enqueue_time
            job["next_run"] = _aware(nxt) if nxt and nxt.year < 9999 else None
    return Schedule(source="rq-cron", jobs=jobs)


# --- outbox -----------------------------------------------------------------------------------------

def outbox_counts() -> dict[str, int]:
    """How many e-mails are in each outbox status (every status listed, zeros included)."""
    counts = dict(db.session.execute(select(EmailOutbox.status, func.count()).group_by(EmailOutbox.status)).all())
    return {status.value: counts.get(status.value, 0) for status in OutboxStatus}
