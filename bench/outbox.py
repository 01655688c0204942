"""Outbox throughput: N pending e-mails delivered by 2 real RQ workers to a local SMTP sink (issue 8, target
"Outbox ≥ 200 e-mails/s to a local SMTP sink with 2 workers").

    .venv/bin/python -m bench.outbox [--pg postgresql+psycopg://postgres@127.0.0.1:5432/crm_bench_queuefault]
                                     [-n 5000] [--workers 2] [--mode single|batch|both]

The PostgreSQL database named by `--pg` is DROPPED and recreated (its name must contain `bench`). The bench
starts a private `redis-server` on a spare port, an aiosmtpd sink on loopback (in this process, a thread) and
`--workers` real `python -m workflows.worker` processes (the production entry point: SimpleWorker, app built
once per process), waits until they are idle, then per mode:

1. inserts N pending outbox rows (one multi-row INSERT, no job enqueued: like rows left by a Redis outage);
2. timed from here: hands them to the queue
   - `single`: one `deliver_email_job` per row, as the after-commit hook does for e-mails each written by its
     own transaction (a readings confirmation, an appeal reply …);
   - `batch`: what the sweeper and the notification fan-out do: `deliver_email_batch_job` per
     `outbox.BATCH_SIZE` rows;
3. until the sink has received N messages; then checks that every row is `sent` and every Message-ID arrived
   exactly once.

Prints e-mails/s (wall) and the CPU seconds per e-mail of every process involved (workers, their PostgreSQL
backends, redis-server, the sink in this process), with the rate those 2 cores could reach if nothing else
ran on them (2 / CPU per e-mail) — useful on a busy machine, where the wall rate says little.

RESULT lines: the issue's figure is the `batch` mode — draining a backlog of pending rows is the sweeper's
work, and it hands them over in batch jobs (so does the fan-out); the `single` mode (one RQ job per e-mail,
bounded by RQ's own per-job cost, ≈ 30 Redis round trips) is printed as `info`. Always exits 0.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import make_url

from bench.pages import recreate_postgres
from bench.throughput import free_port

ROOT = Path(__file__).resolve().parent.parent
TARGET_PER_SECOND = 200.0
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/crm_bench_queuefault"
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)


def _wait_port(port: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False





class Sink:
    """aiosmtpd handler that only counts: message count and Message-IDs (a regex, no MIME parsing)."""

    def __init__(self):
        self.ids: Counter = Counter()
        self.count = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.cond = threading.Condition()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        found = MESSAGE_ID.search(envelope.content)
        with self.cond:
            self.ids[found.group(1) if found else b"?"] += 1
            self.count += 1
            self.last_at = time.perf_counter()
            if self.first_at is None:
                self.first_at = self.last_at
            self.cond.notify_all()
        return "250 OK"

    def reset(self):
        with self.cond:
            self.ids.clear()
            self.count = 0
            self.first_at = self.last_at = None

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.count < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.cond.wait(min(remaining, 1.0))
        return True


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def _pg_backend_pids(db) -> list[int]:
    """PostgreSQL backends serving the bench database other than this process's own connection."""
    pids = list(db.session.scalars(text(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")))
    db.session.rollback()
    return pids


def _start_workers(count: int, database_url: str, redis_url: str, smtp_url: str, queue: str, log_dir: str):
    env = dict(os.environ, CRM_CONFIG="prod", DATABASE_URL=database_url, REDIS_URL=redis_url, SMTP_URL=smtp_url,
               RQ_QUEUE=queue, PYTHONPATH=str(ROOT), SECRET_KEY="bench-" + "x" * 40)
    processes = []
    for n in range(count):
        log = open(Path(log_dir) / f"worker{n}.log", "wb")  # noqa: SIM115 - closed by the caller
        processes.append((subprocess.Popen([sys.executable, "-m", "workflows.worker"], cwd=ROOT, env=env,
                                           stdout=log, stderr=subprocess.STDOUT), log))
    return processes


def _wait_workers_idle(connection, queue_name: str, count: int, processes, timeout: float = 60) -> None:
    from rq import Queue, Worker

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process, log in processes:
            if process.poll() is not None:
                sys.exit(f"a worker exited with {process.returncode}; see {log.name}")
        workers = Worker.all(queue=Queue(queue_name, connection=connection))
        if len([w for w in workers if w.get_state() == "idle"]) >= count:
            return
        time.sleep(0.2)
    sys.exit("the workers did not become ready in time")


def _insert_rows(db, n: int, tag: str) -> list[int]:
    from crm.models import EmailOutbox

    now = datetime.now(UTC)
    body = "Здравствуйте!\n\nВаши показания за октябрь приняты. Это письмо отправлено автоматически.\n" * 3
    rows = [{"to_address": f"bench{i}@client.example", "subject": f"Показания приняты ({tag} {i})",
             "body_text": body, "body_html": None, "status": "pending", "attempts": 0, "created_at": now,
             "next_attempt_at": now, "category": "bench"} for i in range(n)]
    ids = list(db.session.scalars(insert(EmailOutbox).returning(EmailOutbox.id), rows))
    db.session.commit()
    return ids


def _run_mode(app, db, sink: Sink, processes, redis_pid: int, mode: str, n: int, timeout: float) -> dict:
    from crm.models import EmailOutbox
    from crm.services import outbox
    from workflows.jobs import deliver_email_batch_job, deliver_email_job
    from workflows.queue import enqueue

    sink.reset()
    ids = _insert_rows(db, n, mode)
    backends = _pg_backend_pids(db)
    cpu_before = sum(_cpu_seconds(p.pid) for p, _ in processes)
    other_before = {pid: _cpu_seconds(pid) for pid in [redis_pid, *backends]}
    own_before = time.process_time()
    started = time.perf_counter()
    if mode == "single":
        for outbox_id in ids:
            enqueue(deliver_email_job, outbox_id)
    else:
        for start in range(0, n, outbox.BATCH_SIZE):
            enqueue(deliver_email_batch_job, ids[start:start + outbox.BATCH_SIZE])
    enqueued = time.perf_counter() - started
    arrived = sink.wait_for(n, timeout)
    elapsed = (sink.last_at or time.perf_counter()) - started
    cpu = sum(_cpu_seconds(p.pid) for p, _ in processes) - cpu_before
    own = time.process_time() - own_before  # the sink thread (and this loop's waiting)
    for pid in _pg_backend_pids(db):  # backends the workers opened during the run: all their CPU is this run's
        other_before.setdefault(pid, 0.0)
    other = {pid: _cpu_seconds(pid) - before for pid, before in other_before.items()}
    redis_cpu = other.pop(redis_pid)
    pg_cpu = sum(value for value in other.values() if value == value)  # skip NaN (a backend that ended)
    time.sleep(1.0)  # a duplicate, if any, would arrive now
    db.session.rollback()
    statuses = Counter(dict(db.session.execute(
        select(EmailOutbox.status, func.count()).where(EmailOutbox.id.in_(ids)).group_by(EmailOutbox.status)).all()))
    expected_ids = set(db.session.scalars(select(EmailOutbox.message_id).where(EmailOutbox.id.in_(ids))))
    db.session.rollback()
    received = {mid.decode() for mid in sink.ids}
    duplicates = sum(c - 1 for c in sink.ids.values() if c > 1)
    return {"mode": mode, "n": n, "arrived": arrived, "received": sink.count, "elapsed": elapsed,
            "enqueue": enqueued, "rate": sink.count / elapsed if elapsed > 0 else 0.0, "worker_cpu": cpu,
            "pg_cpu": pg_cpu, "redis_cpu": redis_cpu, "sink_cpu": own,
            "statuses": dict(statuses), "duplicates": duplicates,
            "ids_match": received == expected_ids}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_PG))
    parser.add_argument("-n", type=int, default=5000, help="e-mails per mode (default 5000)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--mode", choices=["single", "batch", "both"], default="both")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the last message")
    args = parser.parse_args(argv)

    from aiosmtpd.controller import Controller
    from flask_migrate import upgrade
    from redis import Redis

    from app import create_app

    redis_binary = shutil.which("redis-server")
    if not redis_binary:
        print("redis-server is not installed: nothing measured")
        print("RESULT | outbox delivery, 2 RQ workers | n/a | ≥ 200 e-mails/s | MISSED")
        return
    work = tempfile.mkdtemp(prefix="bench-outbox-")
    redis_port = free_port()
    redis = subprocess.Popen([redis_binary, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--dir", work], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    processes = []
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    try:
        if not _wait_port(redis_port):
            sys.exit("redis-server did not start")
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        smtp_url = f"smtp://127.0.0.1:{controller.port}"
        controller.start()
        recreate_postgres(args.pg, force=False)
        app = create_app({"CRM_CONFIG": "test", "SQLALCHEMY_DATABASE_URI": args.pg, "TESTING": False,
                          "REDIS_URL": redis_url, "JOBS_INLINE": False, "SMTP_URL": smtp_url,
                          "STORAGE_URL": f"file://{work}/files"})
        with app.app_context():
            from crm.extensions import db

            upgrade()
            db.session.execute(text("SELECT 1"))
            db.session.commit()
            queue_name = app.config["RQ_QUEUE"]
            processes = _start_workers(args.workers, args.pg, redis_url, smtp_url, queue_name, work)
            _wait_workers_idle(Redis.from_url(redis_url), queue_name, args.workers, processes)
            modes = ["single", "batch"] if args.mode == "both" else [args.mode]
            print(f"outbox bench: {args.n} e-mails per mode, {args.workers} RQ worker processes, "
                  f"PostgreSQL {make_url(args.pg).database}, aiosmtpd sink on loopback; logs in {work}")
            results = [_run_mode(app, db, sink, processes, redis.pid, mode, args.n, args.timeout) for mode in modes]
    finally:
        for process, _log in processes:
            process.terminate()
        for process, log in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()
        controller.stop()
        redis.terminate()
        redis.wait(timeout=10)

    print(f"{'mode':<8} {'e-mails':>8} {'wall s':>8} {'e-mails/s':>10} {'enqueue s':>10} {'dups':>5}  statuses")
    for r in results:
        print(f"{r['mode']:<8} {r['received']:>8} {r['elapsed']:>8.2f} {r['rate']:>10.1f} {r['enqueue']:>10.2f} "
              f"{r['duplicates']:>5}  {r['statuses']}"
              + ("" if r["ids_match"] else "  (Message-IDs at the sink differ from the outbox rows!)"))
    print(f"\nCPU ms per e-mail: {'mode':<8} {'workers':>8} {'postgres':>9} {'redis':>6} {'sink':>6} {'total':>6}"
          f"   → 2-core ceiling")
    for r in results:
        parts = [r["worker_cpu"], r["pg_cpu"], r["redis_cpu"], r["sink_cpu"]]
        per = [1000 * value / max(r["received"], 1) for value in parts]
        total = sum(per)
        ceiling = 2000 / total if total > 0 else float("nan")
        r["ceiling"] = ceiling
        print(f"{'':<19}{r['mode']:<8} {per[0]:>8.2f} {per[1]:>9.2f} {per[2]:>6.2f} {per[3]:>6.2f} {total:>6.2f}"
              f"   → {ceiling:.0f} e-mails/s")
    for r in results:
        ok = (r["arrived"] and r["duplicates"] == 0 and r["statuses"] == {"sent": r["n"]} and r["ids_match"])
        workers = f"{args.workers} RQ workers"
        if r["mode"] == "batch":
            label = f"outbox delivery, {workers} (backlog, sweeper batch jobs)"
            verdict = "met" if ok and r["rate"] >= TARGET_PER_SECOND else "MISSED"
        else:
            label = f"outbox delivery, {workers}, one RQ job per e-mail"
            verdict = "info" if ok else "MISSED"
        print(f"RESULT | {label} | {r['rate']:.0f} e-mails/s | ≥ 200 e-mails/s | {verdict}")
        print(f"RESULT | outbox CPU ceiling on 2 cores, {r['mode']} | {r['ceiling']:.0f} e-mails/s | "
              f"≥ 200 e-mails/s | info")
        if not ok:
            print(f"  ! {r['mode']}: not every e-mail arrived exactly once (see the table above)")


if __name__ == "__main__":
    main()
