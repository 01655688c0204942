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
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


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
    """`python -m workflows.worker` as a real separate process against the test database."""

    def __init__(self, database_url: str, redis_url: str, smtp_url: str | None):
        self.env = dict(os.environ, CRM_CONFIG="dev", DATABASE_URL=database_url, REDIS_URL=redis_url,
                        SMTP_URL=smtp_url or "", PYTHONPATH=str(ROOT))
        self.process: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="crm-worker-", suffix=".log", delete=False)

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "workflows.worker"], cwd=ROOT, env=self.env,
                                        stdout=self.log, stderr=subprocess.STDOUT)

    def run_burst(self, timeout: float = 60) -> None:
        subprocess.run([sys.executable, "-m", "workflows.worker", "--burst"], cwd=ROOT, env=self.env,
                       stdout=self.log, stderr=subprocess.STDOUT, timeout=timeout, check=True)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")
