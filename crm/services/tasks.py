"""Background tasks a person waits for (SPEC W3): exports now, imports and large documents later.

    task = tasks.create_task(user, "payments_export", {...}, contract_id=..., total=rows)
    → run_task_job(task.id) on the queue → the kind's runner writes a file, reporting progress
    → the portal shows /portal/tasks/<id> with a progress bar and, when done, a download link.

A kind is a runner registered under a name (`@register("payments_export")`, or lazily by a
"module:function" path in `BUILTIN_KINDS` so the worker needs no import side effects). A runner
gets the task and a `Progress` and returns a `TaskResult`: a file it wrote, its download name and
how many rows it holds. `run_task` stores the file with `crm.storage`, marks the task done (or
failed with a message) and, when the result is large (EXPORT_EMAIL_MIN_ROWS), e-mails the owner a
link through the outbox.

Progress and status are written through their own short connections, so a runner may keep its
read transaction (or server-side cursor) open while it reports; they are single UPDATEs, so a
retried job is harmless: a task already done or failed is not run again.
"""
from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select, update

from crm import clock
from crm.extensions import db
from crm.models.integration import BackgroundTask, TaskStatus
from crm.services import outbox
from crm.storage import get_storage

log = logging.getLogger(__name__)

#: write the progress at most every this many rows
PROGRESS_EVERY = 1000


@dataclass(frozen=True)
class TaskResult:
    path: str            # a temporary file the runner wrote; run_task stores it and removes it
    name: str            # the file name offered for download
    rows: int
    suffix: str          # ".xlsx", ".csv", ".pdf"


Runner = Callable[[BackgroundTask, "Progress"], TaskResult]
_REGISTRY: dict[str, Runner] = {}
BUILTIN_KINDS: dict[str, str] = {"payments_export": "crm.services.payment_exports:run_export_task"}


class TaskError(Exception):
    """A runner's expected failure; its message (already localised) is shown to the person."""


def register(kind: str):
    """Decorator: make `func(task, progress) -> TaskResult` the runner of `kind`."""

    def decorator(func: Runner) -> Runner:
        _REGISTRY[kind] = func
        return func

    return decorator


def runner_for(kind: str) -> Runner:
    if kind not in _REGISTRY and kind in BUILTIN_KINDS:
        module, name = BUILTIN_KINDS[kind].split(":")
        _REGISTRY[kind] = getattr(importlib.import_module(module), name)
    if kind not in _REGISTRY:
        raise KeyError(f"unknown task kind {kind!r}")
    return _REGISTRY[kind]


def _write(task_id: int, **values) -> int:
    """One UPDATE of the task on its own connection, committed at once."""
    with db.engine.begin() as connection:
        return connection.execute(update(BackgroundTask).where(BackgroundTask.id == task_id).values(**values)).rowcount


class Progress:
    """Reports rows done; writes at most every `every` rows (and always the last call of `finish`)."""

    def __init__(self, task_id: int, total: int, every: int | None = None):
        self.task_id, self.total, self.every = task_id, total, max(1, every or PROGRESS_EVERY)
        self.done = 0
        self._written = 0
        self.writes = 0

    def advance(self, rows: int = 1) -> None:
        self.done += rows
        if self.done - self._written >= self.every:
            self._flush()

    def set_total(self, total: int) -> None:
        self.total = total
        _write(self.task_id, total=total)

    def _flush(self) -> None:
        self._written = self.done
        self.writes += 1
        _write(self.task_id, progress=min(self.done, self.total) if self.total else self.done)


def create_task(user, kind: str, params: dict, *, contract_id: int | None = None, total: int = 0) -> BackgroundTask:
    """Record the task (queued) and hand it to the job queue after the commit."""
    runner_for(kind)  # an unknown kind fails here, not in the worker
    task = BackgroundTask(kind=kind, user_id=getattr(user, "id", None), contract_id=contract_id, params=params,
                          status=TaskStatus.QUEUED.value, progress=0, total=total)
    db.session.add(task)
    db.session.commit()
    from workflows.jobs import run_task_job
    from workflows.queue import enqueue

    try:
        enqueue(run_task_job, task.id)
    except Exception as exc:  # the queue is down: say so on the task page instead of waiting forever
        log.warning("could not enqueue task %s: %s", task.id, exc)
        _write(task.id, status=TaskStatus.FAILED.value, finished_at=clock.now(),
               error=_("The task could not be queued. Try again in a few minutes."))
    db.session.expire(task)
    return task


def run_task(task_id: int) -> str:
    """Run one queued task to the end; returns its final status. A task not queued is left alone."""
    with db.engine.begin() as connection:
        claimed = connection.execute(
            update(BackgroundTask)
            .where(BackgroundTask.id == task_id, BackgroundTask.status == TaskStatus.QUEUED.value)
            .values(status=TaskStatus.RUNNING.value, started_at=clock.now())).rowcount
    task = db.session.get(BackgroundTask, task_id)
    if task is None:
        return "missing"
    db.session.refresh(task)
    if not claimed:  # already run (a retried or duplicated job)
        return task.status
    progress = Progress(task.id, task.total)
    try:
        result = runner_for(task.kind)(task, progress)
    except TaskError as exc:
        db.session.rollback()
        _write(task_id, status=TaskStatus.FAILED.value, finished_at=clock.now(), error=str(exc)[:2000])
        return TaskStatus.FAILED.value
    except Exception:
        db.session.rollback()
        log.exception("task %s (%s) failed", task_id, task.kind)
        _write(task_id, status=TaskStatus.FAILED.value, finished_at=clock.now(),
               error=_("The task failed. Try again; if it fails again, write to the support service."))
        return TaskStatus.FAILED.value
    try:
        with open(result.path, "rb") as handle:
            key = get_storage().put("exports", handle, result.suffix)
    finally:
        os.unlink(result.path)
    _write(task_id, status=TaskStatus.DONE.value, finished_at=clock.now(), progress=result.rows, total=result.rows,
           result_key=key, result_name=result.name[:255])
    db.session.expire_all()
    if result.rows >= current_app.config.get("EXPORT_EMAIL_MIN_ROWS", 20000):
        _mail_result(db.session.get(BackgroundTask, task_id))
    return TaskStatus.DONE.value


def _mail_result(task: BackgroundTask) -> None:
    """E-mail the owner a link to a large result (it also stays on the task page)."""
    from crm.models import CrmUser

    user = db.session.get(CrmUser, task.user_id) if task.user_id else None
    if user is None or not user.email:
        return
    base = current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/")
    with force_locale(user.locale or current_app.config.get("BABEL_DEFAULT_LOCALE", "ru")):
        body = render_template("email/task_done.txt", user=user, task=task,
                               link=f"{base}/portal/tasks/{task.id}")
        outbox.queue_email(user.email, _("Your file is ready: %(name)s", name=task.result_name), body,
                           user_id=user.id, category="task_done")
    db.session.commit()


def task_for_user(user, task_id: int) -> BackgroundTask | None:
    """The task if it belongs to the user, else None (pages answer 404)."""
    task = db.session.get(BackgroundTask, task_id)
    if task is None or task.user_id is None or task.user_id != getattr(user, "id", None):
        return None
    return task


def percent(task: BackgroundTask) -> int:
    """Progress in whole per cent (100 when done)."""
    if task.status == TaskStatus.DONE.value:
        return 100
    if not task.total:
        return 0
    return max(0, min(100, task.progress * 100 // task.total))


#: the mark a requeued task carries in its params, so a task that keeps killing its worker fails
INTERRUPTED_KEY = "_interrupted"


def recover_interrupted(stuck_after: timedelta | None = None) -> int:
    """Give lost tasks a way out instead of a progress bar that never moves (SPEC W3, nothing lost).

    A task still "running" `stuck_after` after it started lost its worker: it is queued again from
    the start once, and fails with a message if it is interrupted again (a task that kills its
    worker must not loop). A task still "queued" that long lost its queue entry (Redis restarted
    empty): it is enqueued again — `run_task` claims a task once, so a duplicate entry is harmless.
    Returns how many tasks were requeued or failed."""
    from workflows.jobs import run_task_job
    from workflows.queue import enqueue

    if stuck_after is None:
        stuck_after = timedelta(minutes=current_app.config.get("TASK_STUCK_AFTER_MINUTES", 15))
    cutoff = clock.now() - stuck_after
    lost = db.session.scalars(select(BackgroundTask.id).where(
        BackgroundTask.status == TaskStatus.QUEUED.value, BackgroundTask.created_at <= cutoff)).all()
    running = db.session.scalars(select(BackgroundTask).where(
        BackgroundTask.status == TaskStatus.RUNNING.value, BackgroundTask.started_at <= cutoff)
        .with_for_update(skip_locked=True)).all()
    to_enqueue: list[int] = []
    for task in running:
        params = dict(task.params or {})
        if params.get(INTERRUPTED_KEY):
            task.status = TaskStatus.FAILED.value
            task.finished_at = clock.now()
            task.error = _("The task was interrupted twice and has been stopped. Try again; if it fails again, "
                           "write to the support service.")
            continue
        params[INTERRUPTED_KEY] = 1
        task.params = params
        task.status = TaskStatus.QUEUED.value
        task.progress = 0
        task.started_at = None
        to_enqueue.append(task.id)
    db.session.commit()
    for task_id in dict.fromkeys([*to_enqueue, *lost]):
        try:
            enqueue(run_task_job, task_id)
        except Exception as exc:  # the queue is down: the next sweep tries again
            log.warning("could not re-enqueue task %s: %s", task_id, exc)
    if running or lost:
        log.warning("tasks: %s interrupted, %s re-enqueued", len(running), len(lost))
    return len(running) + len(lost)
