"""The RQ side with real parts: a private Redis, `python -m workflows.worker` and `--cron` processes."""
from __future__ import annotations

import sys
from datetime import UTC, timedelta

from rq.cron import CronScheduler

from crm import clock
from tests.services import wait_until
from workflows.jobs import sweep_outbox_job
from workflows.queue import enqueue, get_rq_queue

SWEEP = "workflows.jobs.sweep_outbox_job"
CRON_EVERY_2_SECONDS = ("import workflows.schedule as s; s.PERIODIC_JOBS[:] = [(s.jobs.sweep_outbox_job, 2)]; "
                        "from workflows.worker import main; main(['--cron'])")


def _aware(value):
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _finished_jobs(queue, func_name: str):
    registry = queue.finished_job_registry
    return [job for job in registry.get_job_ids() if queue.fetch_job(job).func_name == func_name]


def test_worker_runs_a_delayed_job_no_earlier_than_its_due_time_when_scheduled(rq_app, rq_worker):
    due = clock.now() + timedelta(seconds=1, microseconds=700_000)  # RQ itself keeps whole seconds
    job = enqueue(sweep_outbox_job, at=due)

    assert job.get_status(refresh=True) == "scheduled"
    wait_until(lambda: job.get_status(refresh=True) == "finished", timeout=20,
               message="the worker's scheduler to run the delayed job")
    job.refresh()
    assert _aware(job.started_at) >= due
    assert job.return_value() == 0


def test_cron_scheduler_enqueues_the_outbox_sweep_when_started(rq_app, start_worker, redis_server):
    cron = start_worker(cron=True)
    start_worker()
    queue = get_rq_queue()

    wait_until(lambda: _finished_jobs(queue, SWEEP), timeout=20, message="the sweep to run once")
    schedulers = CronScheduler.all(redis_server.client())
    assert (SWEEP, 60) in [(job.func_name, job.interval) for job in schedulers[0].get_jobs()]

    assert cron.stop() == 0, "SIGTERM stops the cron scheduler cleanly"
    assert CronScheduler.all(redis_server.client()) == []


def test_cron_scheduler_carries_on_when_redis_is_down_at_one_of_its_ticks(rq_app, start_worker, redis_server):
    # The real `--cron` entry point, with the sweep every 2 s instead of every minute.
    cron = start_worker(cron=True, command=[sys.executable, "-c", CRON_EVERY_2_SECONDS])
    queue = get_rq_queue()
    wait_until(lambda: queue.count >= 1, message="the first sweep to be enqueued")

    redis_server.stop()
    wait_until(lambda: "lost Redis" in cron.output(), timeout=15, message="a tick to find Redis down")
    redis_server.start()  # empty: the queued sweeps are gone with the old data

    wait_until(lambda: queue.count >= 1, timeout=20, message="sweeps to be enqueued again")
    assert cron.process.poll() is None, "the cron process is still running"
    wait_until(lambda: CronScheduler.all(redis_server.client()), message="the scheduler to register again")
    assert cron.stop() == 0


def test_worker_and_cron_begin_once_redis_answers_when_started_before_redis(rq_app, start_worker, redis_server):
    redis_server.stop()
    worker = start_worker(wait=False)
    cron = start_worker(cron=True, wait=False)
    for process in (worker, cron):
        wait_until(lambda p=process: "Redis is not reachable" in p.output(), timeout=30,
                   message="the process to wait for Redis")
        assert process.process.poll() is None, "it waits instead of exiting"

    redis_server.start()
    worker.wait_ready()
    cron.wait_ready()
    wait_until(lambda: _finished_jobs(get_rq_queue(), SWEEP), timeout=20, message="the first sweep to run")


def test_worker_lists_itself_again_when_redis_lost_its_registration(rq_app, redis_server):
    """After a Redis restart without persistence the worker keeps working but is unlisted, so
    /healthz would count no workers; its maintenance pass registers it again."""
    from rq import Worker

    from workflows.worker import AppWorker

    connection = redis_server.client()
    worker = AppWorker([get_rq_queue()], connection=connection)
    worker.register_birth()
    worker.last_cleaned_at = clock.now()
    assert Worker.count(queue=get_rq_queue()) == 1

    connection.flushdb()
    assert Worker.count(queue=get_rq_queue()) == 0
    worker.run_maintenance_tasks()
    assert Worker.count(queue=get_rq_queue()) == 1
    worker.register_death()
