"""Periodic jobs: what runs every N seconds, for the RQ cron scheduler and the in-process thread."""
from __future__ import annotations

import logging
import threading
import time

from flask import Flask

from workflows import jobs

log = logging.getLogger(__name__)

# (job, interval in seconds). Later issues add expiries, reminders and SLA escalation here.
PERIODIC_JOBS = [
    (jobs.sweep_outbox_job, 60),
    (jobs.remove_expired_bindings_job, 600),
    (jobs.block_unactivated_accounts_job, 600),
    (jobs.readings_reminders_job, 3600),
    (jobs.send_scheduled_notifications_job, 60),
    (jobs.expire_appeal_drafts_job, 3600),
    (jobs.escalate_appeals_job, 300),
    (jobs.recover_interrupted_tasks_job, 300),
    (jobs.sweep_transient_uploads_job, 6 * 3600),
]


def register_rq_cron(scheduler, queue_name: str) -> None:
    """Register every periodic job on an rq.cron.CronScheduler."""
    for func, interval in PERIODIC_JOBS:
        # ttl: a run still queued when the next one is due is dropped, so a worker outage does not
        # leave a pile of identical sweeps behind (each would only repeat the last one's work).
        scheduler.register(func, queue_name, interval=interval, ttl=interval)


def start_inprocess_scheduler(app: Flask, tick_seconds: float = 5.0) -> threading.Thread:
    """For the embedded default (`make run`, no Redis): a daemon thread that runs periodic jobs
    and the in-process delayed jobs."""
    from workflows.queue import run_due

    last_run = {func: 0.0 for func, _ in PERIODIC_JOBS}

    def loop():
        while True:
            with app.app_context():
                try:
                    run_due()
                    now = time.monotonic()
                    for func, interval in PERIODIC_JOBS:
                        if now - last_run[func] >= interval:
                            last_run[func] = now
                            func()
                except Exception:
                    log.exception("in-process scheduler tick failed")
            time.sleep(tick_seconds)

    thread = threading.Thread(target=loop, name="crm-scheduler", daemon=True)
    thread.start()
    return thread
