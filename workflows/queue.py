"""enqueue(): RQ on Redis when REDIS_URL is set, in-process otherwise.

In-process mode runs a job at once, inside the caller's app. Delayed jobs are kept in memory and
run by `run_due()` (called by the in-process scheduler thread of `make run`, and by tests after
moving the clock). That memory is not durable, and need not be: every delayed job here is a retry
or an expiry whose truth lives in the database (outbox rows, codes, drafts), and the periodic
sweeps in workflows/schedule.py pick up whatever a restart dropped.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app

from crm import clock

log = logging.getLogger(__name__)

# Retry policy for RQ jobs: a transient failure (SMTP down, lock timeout) is tried again.
RETRY_INTERVALS = [10, 60, 300, 900]

_delayed: list[tuple[Any, int, Callable, tuple, dict]] = []
_counter = itertools.count()
_lock = threading.Lock()


def init_queue(app: Flask) -> None:
    """Remember the mode on the app; nothing connects until the first enqueue."""
    app.extensions["crm_queue"] = {"inline": app.config["JOBS_INLINE"], "rq_queue": None}


def _state() -> dict:
    return current_app.extensions["crm_queue"]


def get_rq_queue():
    """The RQ queue of this app (created lazily), or None in in-process mode."""
    state = _state()
    if state["inline"]:
        return None
    if state["rq_queue"] is None:
        from redis import Redis
        from rq import Queue

        # Short timeouts: a web request that enqueues must not hang on a dead Redis (the outbox
        # keeps the work safe in the database meanwhile).
        connection = Redis.from_url(current_app.config["REDIS_URL"], socket_connect_timeout=2,
                                    socket_timeout=5)
        state["rq_queue"] = Queue(current_app.config["RQ_QUEUE"], connection=connection,
                                  default_timeout=600)
    return state["rq_queue"]


def enqueue(func: Callable, *args: Any, delay: timedelta | None = None, at: datetime | None = None,
            **kwargs: Any):
    """Run `func(*args, **kwargs)` in the background: now, after `delay`, or at `at` (aware).

    Returns the RQ job, or None in in-process mode (where an undelayed job has already run, and
    its exceptions propagate to the caller). Raises whatever Redis raises if it is unreachable:
    callers that must not fail (the outbox) catch it and rely on a sweeper."""
    if delay and at:
        raise ValueError("give either delay or at, not both")
    if delay:
        at = clock.now() + delay
    queue = get_rq_queue()
    if queue is None:
        if at is not None and at > clock.now():
            with _lock:
                heapq.heappush(_delayed, (at, next(_counter), func, args, kwargs))
            return None
        func(*args, **kwargs)
        return None
    from rq import Retry

    retry = Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS)
    if at is not None:
        # RQ schedules in whole seconds, dropping the fraction: round up, so a job never runs
        # before the time its data says it is due (the outbox claim would then refuse it).
        if at.microsecond:
            at = at.replace(microsecond=0) + timedelta(seconds=1)
        return queue.enqueue_at(at, func, *args, retry=retry, **kwargs)
    return queue.enqueue(func, *args, retry=retry, **kwargs)


def run_due() -> int:
    """Run the in-process delayed jobs whose time has come; returns how many ran."""
    ran = 0
    while True:
        with _lock:
            if not _delayed or _delayed[0][0] > clock.now():
                return ran
            _, _, func, args, kwargs = heapq.heappop(_delayed)
        try:
            func(*args, **kwargs)
        except Exception:  # a failed in-process job must not stop the others
            log.exception("in-process delayed job %s failed", getattr(func, "__name__", func))
        ran += 1


def clear_delayed() -> None:
    """Forget in-process delayed jobs (tests)."""
    with _lock:
        _delayed.clear()


def queue_health() -> dict:
    """Queue state for /healthz: mode, state ("ok" or "error") and what an operator watches."""
    state = _state()
    if state["inline"]:
        return {"mode": "in-process", "state": "ok", "delayed": len(_delayed)}
    try:
        from rq import Worker

        queue = get_rq_queue()
        queue.connection.ping()
        return {"mode": "rq", "state": "ok", "queue": queue.name, "queued": queue.count,
                "scheduled": queue.scheduled_job_registry.count, "failed": queue.failed_job_registry.count,
                "workers": Worker.count(queue=queue)}
    except Exception as exc:  # a health check reports; it must not raise
        # The class name only: the message carries internal host names and ports.
        return {"mode": "rq", "state": "error", "error": exc.__class__.__name__}
