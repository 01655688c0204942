"""The job queue's in-process mode, the outbox's retry backoff and the periodic-job registration."""
from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from crm import clock
from crm.services.outbox import backoff
from tests.services import closed_port_url
from workflows import queue

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _app(**config) -> Flask:
    app = Flask("queue-unit")
    app.config.update({"JOBS_INLINE": True, "REDIS_URL": None, "RQ_QUEUE": "crm-unit", **config})
    queue.init_queue(app)
    return app


@pytest.fixture()
def inline_app():
    """A bare app in in-process mode (no Redis), with no delayed jobs left from elsewhere."""
    queue.clear_delayed()
    app = _app()
    with app.app_context():
        yield app
    queue.clear_delayed()


def test_job_runs_at_once_when_enqueued_in_process(inline_app):
    calls = []

    assert queue.enqueue(calls.append, "now") is None
    assert calls == ["now"]


def test_delayed_job_runs_only_after_clock_passes_its_due_time_when_in_process(inline_app):
    calls = []
    clock.set_now(T0)
    queue.enqueue(calls.append, "later", delay=timedelta(minutes=5))

    assert calls == []
    assert queue.run_due() == 0
    clock.advance(timedelta(minutes=4, seconds=59))
    assert queue.run_due() == 0
    assert calls == []
    clock.advance(timedelta(seconds=1))
    assert queue.run_due() == 1
    assert calls == ["later"]
    assert queue.run_due() == 0, "a delayed job runs once"


def test_due_jobs_run_in_due_order_when_several_are_waiting(inline_app):
    calls = []
    clock.set_now(T0)
    queue.enqueue(calls.append, "third", delay=timedelta(minutes=3))
    queue.enqueue(calls.append, "first", delay=timedelta(minutes=1))
    queue.enqueue(calls.append, "second", delay=timedelta(minutes=2))
    queue.enqueue(calls.append, "not yet", delay=timedelta(hours=1))

    clock.advance(timedelta(minutes=10))
    assert queue.run_due() == 3
    assert calls == ["first", "second", "third"]
    assert queue.queue_health()["delayed"] == 1


def test_other_due_jobs_still_run_when_one_delayed_job_fails(inline_app):
    calls = []

    def broken():
        raise RuntimeError("boom")

    clock.set_now(T0)
    queue.enqueue(broken, delay=timedelta(seconds=1))
    queue.enqueue(calls.append, "after", delay=timedelta(seconds=2))
    clock.advance(timedelta(seconds=5))

    assert queue.run_due() == 2
    assert calls == ["after"]


def test_health_reports_in_process_mode_when_no_redis_is_configured(inline_app):
    assert queue.queue_health() == {"mode": "in-process", "state": "ok", "delayed": 0}


def test_enqueue_raises_quickly_when_redis_is_unreachable():
    """The outbox relies on this: a dead Redis is an error the caller can catch, not a hang."""
    from redis.exceptions import ConnectionError as RedisConnectionError

    app = _app(JOBS_INLINE=False, REDIS_URL=closed_port_url("redis") + "/0")
    with app.app_context():
        started = time.monotonic()
        with pytest.raises(RedisConnectionError):
            queue.enqueue(print, "never")
        assert time.monotonic() - started < 3
        health = queue.queue_health()
    assert health == {"mode": "rq", "state": "error", "error": "ConnectionError"}


@pytest.mark.parametrize(("attempts", "seconds"), [
    (1, 30), (2, 60), (3, 120), (4, 240), (5, 480), (6, 960), (7, 1920), (8, 3600), (20, 3600),
])
def test_retry_waits_double_each_time_up_to_an_hour_when_delivery_keeps_failing(attempts, seconds):
    assert backoff(attempts) == timedelta(seconds=seconds)


def test_default_retry_schedule_spans_about_an_hour_when_smtp_stays_down():
    """OUTBOX_MAX_ATTEMPTS=8: the last try comes ~1 h after the first, so a short SMTP outage
    (a restart, a maintenance window) loses nothing and a long one ends in 'failed' within hours."""
    total = sum((backoff(n) for n in range(1, 8)), timedelta())
    assert timedelta(minutes=60) <= total <= timedelta(minutes=70)


def test_every_periodic_job_is_registered_on_the_rq_cron_scheduler_when_cron_starts():
    from redis import Redis
    from rq.cron import CronScheduler

    from workflows.schedule import PERIODIC_JOBS, register_rq_cron

    scheduler = CronScheduler(connection=Redis.from_url(closed_port_url("redis")))  # register() is offline
    register_rq_cron(scheduler, "crm-unit")

    registered = {(job.func_name, job.queue_name, job.interval) for job in scheduler.get_jobs()}
    assert registered == {(f"{func.__module__}.{func.__name__}", "crm-unit", interval)
                          for func, interval in PERIODIC_JOBS}
    assert ("workflows.jobs.sweep_outbox_job", "crm-unit", 60) in registered
    assert all(job.should_run() for job in scheduler.get_jobs()), "interval jobs run at start-up"
