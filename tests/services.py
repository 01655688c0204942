"""Real services for tests: our own redis-server, an SMTP sink on loopback, an RQ worker process.

With CI=true a missing service fails the test instead of skipping it (README, .ci/run).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str):
    """Skip locally, fail in CI: a test that needs a real service must not pass silently there."""
    if IN_CI:
        pytest.fail(f"required service unavailable in CI: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.1, message: str = "condition"):
    """Poll `predicate()` until it returns something truthy (returned) or fail the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {message}")
        time.sleep(interval)


def closed_port_url(scheme: str = "smtp") -> str:
    """A URL on a loopback port nobody listens on: connections are refused at once."""
    return f"{scheme}://127.0.0.1:{free_port()}"


class RedisServer:
    """A private redis-server on a spare port: tests may stop and start it without touching the
    machine's shared Redis."""

    def __init__(self):
        self.binary = shutil.which("redis-server")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="crm-redis-")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if not self.binary:
            unavailable("redis-server is not installed")
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        if not wait_for_port(self.port):
            unavailable("redis-server did not start")

    def stop(self) -> None:
        """Stop the server; `start()` brings it back on the same port (with no data, like a
        restart without persistence)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def client(self):
        from redis import Redis

        return Redis.from_url(self.url, socket_connect_timeout=2, socket_timeout=5)


# Recipients in this domain are refused by the sink with a permanent 550, like an unknown mailbox.
REJECTED_DOMAIN = "rejected.invalid"


@dataclass
class SmtpSink:
    """An aiosmtpd server on loopback that keeps every message it receives."""

    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)
    controller: object = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd hook
        if address.lower().endswith("@" + REJECTED_DOMAIN):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self._cond:
            self.messages.append(message)
            self._cond.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int = 1, timeout: float = 20.0) -> list[EmailMessage]:
        """Block until `count` messages arrived (or fail the test)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    pytest.fail(f"expected {count} e-mail(s), got {len(self.messages)}")
                self._cond.wait(remaining)
            return list(self.messages)

    def clear(self) -> None:
        with self._cond:
            self.messages.clear()


def start_smtp_sink() -> SmtpSink:
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        unavailable("aiosmtpd is not installed")
    sink = SmtpSink(port=free_port())
    sink.controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    sink.controller.start()
    return sink


class WorkerProcess:
    """`python -m workflows.worker [--cron]` as a real separate process against the test database.

    It builds the app like production does (CRM_CONFIG=dev, settings from the environment)."""

    def __init__(self, database_url: str, redis_url: str, smtp_url: str | None, *, queue: str = "crm",
                 cron: bool = False, env: dict[str, str] | None = None, command: list[str] | None = None):
        self.redis_url = redis_url
        self.queue = queue
        self.cron = cron
        self.env = dict(os.environ, CRM_CONFIG="dev", DATABASE_URL=database_url, REDIS_URL=redis_url,
                        SMTP_URL=smtp_url or "", RQ_QUEUE=queue, PYTHONPATH=str(ROOT), **(env or {}))
        self.args = command or [sys.executable, "-m", "workflows.worker"] + (["--cron"] if cron else [])
        self.process: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="crm-worker-", suffix=".log", delete=False)

    def start(self) -> None:
        self.process = subprocess.Popen(self.args, cwd=ROOT, env=self.env, stdout=self.log,
                                        stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until the process is up: a worker idle on its queue (start-up done, waiting for
        jobs), or a cron scheduler registered; fail with its output if it exits or takes longer
        than `timeout`."""
        from redis import Redis
        from rq import Queue, Worker
        from rq.cron import CronScheduler

        connection = Redis.from_url(self.redis_url, socket_connect_timeout=2, socket_timeout=5)

        def registered():
            if self.process.poll() is not None:
                pytest.fail(f"{' '.join(self.args[1:])} exited with {self.process.returncode}:\n{self.output()}")
            if self.cron:
                return CronScheduler.all(connection)
            workers = Worker.all(queue=Queue(self.queue, connection=connection))
            return [worker for worker in workers if worker.get_state() == "idle"]

        try:
            wait_until(registered, timeout, message=f"{' '.join(self.args[1:])} to be ready")
        finally:
            connection.close()

    def run_burst(self, timeout: float = 60) -> None:
        subprocess.run([sys.executable, "-m", "workflows.worker", "--burst"], cwd=ROOT, env=self.env,
                       stdout=self.log, stderr=subprocess.STDOUT, timeout=timeout, check=True)

    def stop(self, timeout: float = 10) -> int | None:
        """SIGTERM (RQ's warm shutdown), then SIGKILL after `timeout`; returns the exit code."""
        code = None
        if self.process:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=timeout)
            code = self.process.returncode
        self.process = None
        return code

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def close(self) -> None:
        self.stop()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


# Fixtures for the queue and outbox tests (conftest.py imports them).

@pytest.fixture()
def mailbox(smtp_sink):
    """The session's SMTP sink, emptied for this test."""
    smtp_sink.clear()
    yield smtp_sink
    smtp_sink.clear()


@pytest.fixture()
def rq_app(app, database_url, redis_server, smtp_sink):
    """A second app configured like production: jobs go to RQ on this test's private Redis
    (not in-process), mail to the SMTP sink. It uses the session app's database, so conftest's
    per-test cleanup covers it; its app context is pushed for the test."""
    from app import create_app
    from crm.extensions import db

    application = create_app({"CRM_CONFIG": "test", "SQLALCHEMY_DATABASE_URI": database_url,
                              "REDIS_URL": redis_server.url, "JOBS_INLINE": False,
                              "SMTP_URL": smtp_sink.url})
    with application.app_context():
        yield application
        # Nothing may hold a connection when conftest empties the tables (TRUNCATE waits for it).
        db.session.remove()
        db.engine.dispose()


@pytest.fixture()
def start_worker(rq_app, database_url, redis_server, smtp_sink):
    """`start_worker(smtp_url=..., cron=False, command=None, wait=True)` runs a real worker process
    on this test's Redis and (with `wait`) waits until it is ready. Every process is stopped after
    the test (before conftest's cleanup) and its log printed, so a failing test shows it."""
    started: list[WorkerProcess] = []

    def start(smtp_url: str | None = smtp_sink.url, *, cron: bool = False, command: list[str] | None = None,
              wait: bool = True) -> WorkerProcess:
        process = WorkerProcess(database_url, redis_server.url, smtp_url, cron=cron, command=command)
        started.append(process)
        process.start()
        if wait:
            process.wait_ready()
        return process

    yield start
    stop_workers(started)


@pytest.fixture()
def rq_worker(start_worker):
    """A running worker delivering to the SMTP sink."""
    return start_worker()


def stop_workers(started: list[WorkerProcess]) -> None:
    """Stop worker processes and print their logs (a failing test shows what the workers did)."""
    for process in started:  # all at once: each takes a second or so to shut down warmly
        if process.process and process.process.poll() is None:
            process.process.terminate()
    for process in started:
        process.stop()
        print(f"--- {' '.join(process.args[1:])} log ---\n{process.output()}")
        process.close()
