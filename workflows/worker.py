"""RQ worker with the app preloaded: `python -m workflows.worker [--cron] [--burst]`.

A SimpleWorker runs jobs in this process, inside one app context, so a job does not pay for
building the app (STACK-NOTES: ~270 jobs/s against ~78 for the forking worker). Run several
processes to scale. `--cron` runs the periodic-job scheduler instead of a worker.
"""
from __future__ import annotations

import argparse
import logging

from redis import Redis
from rq import Queue, SimpleWorker

from app import create_app
from crm.extensions import db


class AppWorker(SimpleWorker):
    """Releases the DB session after every job, so no transaction outlives its job."""

    def perform_job(self, job, queue):
        try:
            return super().perform_job(job, queue)
        finally:
            db.session.remove()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cron", action="store_true", help="run the periodic-job scheduler")
    parser.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    app = create_app()
    redis_url = app.config.get("REDIS_URL")
    if not redis_url:
        raise SystemExit("REDIS_URL is not set: without Redis, jobs run in-process (make run)")
    connection = Redis.from_url(redis_url)
    queue_name = app.config["RQ_QUEUE"]
    with app.app_context():
        if args.cron:
            from rq.cron import CronScheduler

            from workflows.schedule import register_rq_cron

            scheduler = CronScheduler(connection=connection)
            register_rq_cron(scheduler, queue_name)
            scheduler.start()
            return
        worker = AppWorker([Queue(queue_name, connection=connection)], connection=connection)
        worker.work(with_scheduler=True, burst=args.burst)


if __name__ == "__main__":
    main()
