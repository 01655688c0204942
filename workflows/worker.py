"""RQ worker with the app preloaded: `python -m workflows.worker [--cron] [--burst]`.

A SimpleWorker runs jobs in this process, inside one app context, so a job does not pay for
building the app (STACK-NOTES: ~270 jobs/s against ~78 for the forking worker). Run several
processes to scale. The worker also runs RQ's scheduler, which moves delayed jobs (outbox retries)
to the queue when due.

`--cron` runs the periodic-job scheduler (rq.cron.CronScheduler, workflows/schedule.py) instead of
a worker: one per deployment is enough, and a second one only makes the periodic jobs (which are
idempotent sweeps) run twice as often.

Settings come from the environment like the web app's (CRM_CONFIG, DATABASE_URL, REDIS_URL,
RQ_QUEUE, SMTP_URL …). Both modes wait for Redis at start-up instead of exiting, so a worker
started before Redis (or restarted during an outage) simply begins once Redis answers.
"""
from __future__ import annotations

import argparse
import logging
import signal
import time

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue, SimpleWorker
from rq.cron import CronScheduler
from rq.exceptions import SchedulerNotFound, StopRequested

from crm.extensions import db

log = logging.getLogger("workflows.worker")


class AppWorker(SimpleWorker):
    """A SimpleWorker for the preloaded app that recovers fully from a Redis restart.

    RQ's worker reconnects by itself, but if Redis lost its data the worker is no longer listed
    (monitoring and /healthz would count no workers) and its scheduler process has died (delayed
    jobs would wait; the outbox sweeper covers e-mail meanwhile). The maintenance pass repairs
    both; RQ runs it between jobs and while reconnecting, and we let it run every minute instead
    of every ten (an idle worker still only gets there when its blocking wait times out).
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("maintenance_interval", 60)
        super().__init__(*args, **kwargs)
        self.stop_signalled = False

    def request_stop(self, signum, frame):
        self.stop_signalled = True  # RQ records this only when a job is running
        super().request_stop(signum, frame)

    def perform_job(self, job, queue):
        # Release the DB session after every job, so no transaction outlives its job.
        try:
            return super().perform_job(job, queue)
        finally:
            db.session.remove()

    def run_maintenance_tasks(self):
        if self.last_cleaned_at and not self.connection.sismember(self.redis_workers_keys, self.key):
            log.warning("worker %s was not registered in Redis (restarted?); registering again", self.name)
            self.connection.delete(self.key)
            self.register_birth()
        super().run_maintenance_tasks()


class CrmCronScheduler(CronScheduler):
    """Unregisters without failing when Redis is gone or has lost the registry (a restart without
    persistence): there is nothing left to unregister, and the exit must stay clean."""

    def register_death(self, pipeline=None) -> None:
        try:
            super().register_death(pipeline)
        except (SchedulerNotFound, RedisConnectionError, RedisTimeoutError) as exc:
            log.info("cron scheduler %s: nothing to unregister (%s)", self.name, exc.__class__.__name__)


def wait_for_redis(connection: Redis, max_wait: float = 30.0) -> None:
    """Block until Redis answers, retrying with a pause that doubles up to `max_wait` seconds."""
    pause = 0.5
    while True:
        try:
            connection.ping()
            return
        except (RedisConnectionError, RedisTimeoutError) as exc:
            log.warning("Redis is not reachable (%s); retrying in %.1f s", exc, pause)
            time.sleep(pause)
            pause = min(pause * 2, max_wait)


def run_cron(connection: Redis, queue_name: str) -> None:
    """Run the periodic-job scheduler until SIGINT/SIGTERM (rq 2.x CronScheduler).

    rq's CronScheduler.start() ends with an exception when Redis is unreachable at one of its
    ticks. The sweepers it schedules are what recovers work lost in such an outage, so we wait
    for Redis and start a fresh scheduler (which runs every interval job at once: a sweep right
    after the outage)."""
    from workflows.schedule import register_rq_cron

    while True:
        scheduler = CrmCronScheduler(connection=connection)
        register_rq_cron(scheduler, queue_name)
        try:
            # start() installs SIGINT/SIGTERM handlers that end it cleanly (it returns).
            scheduler.start()
            return
        except (RedisConnectionError, RedisTimeoutError) as exc:
            log.warning("cron scheduler lost Redis (%s); restarting when it is back", exc)
        try:
            wait_for_redis(connection)
        except StopRequested:  # the scheduler's signal handler is still installed
            return


def run_worker(connection: Redis, queue_name: str, burst: bool = False) -> None:
    """Process jobs from the app's queue (and move due delayed jobs) until SIGINT/SIGTERM.

    RQ's worker rides out a Redis outage while it waits for a job, but quits when Redis fails at
    any other moment (starting up, between jobs, cleaning its registries). A worker that quit is
    replaced once Redis answers, so a blip at the wrong moment does not stop e-mail delivery
    until someone notices."""
    while True:
        worker = AppWorker([Queue(queue_name, connection=connection)], connection=connection)
        try:
            worker.work(with_scheduler=True, burst=burst)
            if burst or worker.stop_signalled:
                return
            log.warning("worker %s quit on an error (logged above); starting a new one", worker.name)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            log.warning("worker %s lost Redis (%s); starting a new one when it is back", worker.name, exc)
        # The old worker's signal handlers talk to Redis; while we wait, a signal just ends us.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        time.sleep(1)  # never spin, whatever made it quit
        wait_for_redis(connection)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cron", action="store_true", help="run the periodic-job scheduler, not a worker")
    parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from app import create_app

    app = create_app()
    redis_url = app.config.get("REDIS_URL")
    if not redis_url:
        raise SystemExit("REDIS_URL is not set: without Redis, jobs run in-process (make run)")
    connection = Redis.from_url(redis_url)
    queue_name = app.config["RQ_QUEUE"]
    wait_for_redis(connection)
    with app.app_context():
        # No pooled DB connection may exist when RQ forks its scheduler process: a forked child
        # sharing the parent's sockets could corrupt them.
        db.engine.dispose()
        if args.cron:
            run_cron(connection, queue_name)
        else:
            run_worker(connection, queue_name, burst=args.burst)


if __name__ == "__main__":
    main()
