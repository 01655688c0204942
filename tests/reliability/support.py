"""Shared pieces of the reliability suites: the duration knob, PostgreSQL databases built like a deploy,
the real app under gunicorn, and a signed-in HTTP client that parses real CSRF tokens.

These suites run on PostgreSQL only (the production backend): `make test-pg` runs them with the short
default durations, `make test-reliability` with RELIABILITY_SECONDS=60 (docs/reliability.md).
"""
from __future__ import annotations

import html
import os
import re
import secrets
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests
from sqlalchemy.engine import URL, make_url

from tests.services import ROOT, free_port, unavailable

VENV_BIN = ROOT / ".venv" / "bin"


def seconds(default: float) -> float:
    """RELIABILITY_SECONDS: how long a test keeps its load or outage (short default = the CI quick subset)."""
    raw = os.environ.get("RELIABILITY_SECONDS", "").strip()
    return float(raw) if raw else default


def postgres_url() -> URL:
    """TEST_DATABASE_URL, which must be PostgreSQL here (skip locally, fail in CI otherwise)."""
    raw = os.environ.get("TEST_DATABASE_URL", "")
    url = make_url(raw) if raw else None
    if url is None or url.get_backend_name() != "postgresql":
        unavailable("the reliability suites need PostgreSQL: set TEST_DATABASE_URL=postgresql+psycopg://…")
    return url


def sibling_database(suffix: str) -> str:
    """A database next to TEST_DATABASE_URL's, named `<its name>_<suffix>` (dropped and recreated by the tests)."""
    url = postgres_url()
    return url.set(database=f"{url.database}_{suffix}").render_as_string(hide_password=False)


def _admin_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)


def clone_database(app, url: str) -> None:
    """Create `url` (dropped first) as a copy of the session app's test database: migrated to head, roles and
    permissions synced once per test session by tests/conftest.py's `app` fixture, and without domain rows
    (conftest empties them after every test). A copy takes a second; migrating and syncing FAB's permissions
    again would take 10–40 s."""
    import psycopg

    from crm.extensions import db

    template = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    with app.app_context():
        db.session.remove()
        db.engine.dispose()        # CREATE DATABASE … TEMPLATE needs the template without sessions
    name = make_url(url).database
    with psycopg.connect(_admin_dsn(url), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for _attempt in range(10):
            try:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
                return
            except psycopg.errors.ObjectInUse:
                time.sleep(0.5)
    # Some earlier test still holds a connection to the template: copy it with pg_dump instead.
    copy_schema(app, url)


def seed_database(url: str, storage_url: str, seed: Callable[[], object]) -> object:
    """Run `seed()` in an app context on `url` (already migrated) and commit; returns what it returned."""
    from app import create_app
    from crm.extensions import db

    application = create_app({"CRM_CONFIG": "test", "SQLALCHEMY_DATABASE_URI": url, "STORAGE_URL": storage_url})
    with application.app_context():
        try:
            result = seed()
            db.session.commit()
        finally:
            db.session.remove()
            db.engine.dispose()
    return result


# --- the app under gunicorn -------------------------------------------------------------------------------

class Gunicorn:
    """`gunicorn --preload wsgi:app` with the production settings (CRM_CONFIG=prod, a random SECRET_KEY,
    jobs in-process, no SMTP: mail waits in the outbox) on a free loopback port.

    Worker model: gthread (`-k gthread -w W --threads T`). For 50 concurrent browser sessions a production
    deployment on this 2-core box runs 4 processes × 4 threads: requests mostly wait on PostgreSQL round
    trips, threads overlap that wait, and keep-alive connections idle in the poller instead of holding a
    worker (a sync worker would be held by each keep-alive client). Each process has its own SQLAlchemy pool
    (5 + 10 overflow), so at most W × T connections are in use.

    `--keep-alive 75`: with gunicorn's default of 2 s, an overloaded gthread worker (every thread busy for
    more than 2 s) closes the keep-alive connections whose timer ran out *before* reading the request
    that already waits on them, and the client gets "connection reset" / "remote end closed connection"
    (seen in this test at load average 15). A keep-alive longer than any queueing delay avoids that."""

    def __init__(self, database_url: str, storage_url: str, *, workers: int = 4, threads: int = 4,
                 env: dict[str, str] | None = None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.workers, self.threads = workers, threads
        self.keep_alive = 75
        self.log_path = Path(tempfile.mkstemp(prefix="crm-gunicorn-", suffix=".log")[1])
        self.env = dict(os.environ)
        self.env.update(DATABASE_URL=database_url, CRM_CONFIG="prod", SECRET_KEY=secrets.token_urlsafe(32),
                        REDIS_URL="", SMTP_URL="", STORAGE_URL=storage_url, FLASK_APP="app",
                        PUBLIC_BASE_URL=self.base, PYTHONPATH=str(ROOT), **(env or {}))
        self.env.pop("TEST_DATABASE_URL", None)
        self.process: subprocess.Popen | None = None

    @property
    def command(self) -> list[str]:
        return [str(VENV_BIN / "gunicorn"), "--preload", "-k", "gthread", "-w", str(self.workers),
                "--threads", str(self.threads), "-b", f"127.0.0.1:{self.port}", "--timeout", "60",
                "--graceful-timeout", "5", "--keep-alive", str(self.keep_alive),
                "--error-logfile", str(self.log_path), "--log-level", "warning", "wsgi:app"]

    def start(self, timeout: float = 120.0) -> str:
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited with {self.process.returncode}:\n{self.log()}")
            try:
                if requests.get(f"{self.base}/healthz", timeout=5).status_code == 200:
                    return self.base
            except requests.RequestException:  # not listening yet: poll again until the deadline
                pass
            time.sleep(0.3)
        raise AssertionError(f"gunicorn did not answer /healthz within {timeout:.0f} s:\n{self.log()}")

    def stop(self) -> None:
        """SIGTERM the master (it stops its workers gracefully), SIGKILL the process group if it lingers."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def cpu_seconds(self) -> float:
        """User + system CPU seconds used so far by the master and its live workers (from /proc)."""
        ticks = os.sysconf("SC_CLK_TCK")
        pids = [self.process.pid]
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        if children.exists():
            pids += [int(pid) for pid in children.read_text().split()]
        total = 0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])      # utime, stime
        return total / ticks

    def close(self) -> None:
        self.stop()
        self.log_path.unlink(missing_ok=True)


# --- a browser-like client --------------------------------------------------------------------------------

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_token(page: str, marker: str | None = None) -> str:
    """The CSRF token of the form whose tag holds `marker` (e.g. `id="appeal-reply-form"`; default: the page's
    first form carrying one), as the browser would post it."""
    if marker is not None:
        start = page.find(marker)
        assert start >= 0, f"no form with {marker} on the page"
        page = page[page.rfind("<form", 0, start):]
    found = CSRF.search(page)
    assert found, "no csrf_token in the form"
    return html.unescape(found.group(1) or found.group(2))


@dataclass
class Call:
    """One HTTP exchange as the load test records it."""
    kind: str
    method: str
    path: str
    status: int          # 0 = no response (connection error, timeout)
    seconds: float
    error: str = ""


@dataclass
class Browser:
    """A requests.Session that keeps the session cookie and records every call (status and latency)."""
    base: str
    timeout: float = 60.0
    calls: list[Call] = field(default_factory=list)

    def __post_init__(self):
        self.http = requests.Session()
        self.http.headers["Accept-Language"] = "ru"

    def request(self, kind: str, method: str, path: str, **kwargs) -> requests.Response | None:
        started = time.perf_counter()
        try:
            response = self.http.request(method, self.base + path, timeout=self.timeout, allow_redirects=False,
                                         **kwargs)
        except requests.RequestException as exc:
            self.calls.append(Call(kind, method, path, 0, time.perf_counter() - started,
                                   f"{exc.__class__.__name__}: {exc}"[:300]))
            return None
        self.calls.append(Call(kind, method, path, response.status_code, time.perf_counter() - started))
        # The production session cookie is `__Host-…; Secure` (TLS is the proxy's job); the tests talk to
        # gunicorn on plain loopback http, where a cookie jar would not send a Secure cookie back.
        for cookie in self.http.cookies:
            cookie.secure = False
        return response

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, kind: str = "page") -> requests.Response | None:
        return self.request(kind, "GET", path)

    def post(self, path: str, data: dict, kind: str, files=None) -> requests.Response | None:
        return self.request(kind, "POST", path, data=data, files=files)

    def sign_in(self, login: str, password: str) -> None:
        """Through the portal form with its CSRF token; fails the test unless the portal lets us in."""
        page = self.get("/portal/login", kind="sign-in")
        assert page is not None and page.status_code == 200, f"/portal/login: {page and page.status_code}"
        response = self.post("/portal/login", {"csrf_token": csrf_token(page.text), "login": login,
                                               "password": password}, kind="sign-in")
        assert response is not None and response.status_code in (302, 303), (
            f"sign-in as {login}: {response and response.status_code}")
        assert "/login" not in response.headers.get("Location", ""), f"sign-in as {login} refused"


# --- a private PostgreSQL cluster that a test may restart -------------------------------------------------

class PrivateCluster:
    """A throw-away PostgreSQL cluster (initdb into a temporary directory, trust authentication, a free
    loopback port) that a test may stop, start and restart without touching the shared server on 5432.

    PostgreSQL refuses to run as root; the tests do run as root in CI and here, so the binaries run as the
    `postgres` OS user (`runuser -u postgres --`)."""

    def __init__(self):
        import glob
        import shutil

        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
        if not found:
            unavailable("PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb) are not installed")
        self.bin = Path(found[-1]).parent
        self.as_postgres: list[str] = []
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                unavailable("runuser is needed to run PostgreSQL as the postgres user")
            self.as_postgres = ["runuser", "-u", "postgres", "--"]
        self.root = Path(tempfile.mkdtemp(prefix="crm-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self.data = self.root / "data"
        self.port = free_port()

    def _run(self, *args: str, timeout: float = 120) -> None:
        result = subprocess.run([*self.as_postgres, *args], capture_output=True, text=True, timeout=timeout)
        assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}\n{self.log()}"

    def init(self) -> None:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--locale=C", "--no-sync")

    def pg_ctl(self, action: str, *extra: str) -> float:
        """`pg_ctl <action>` waiting for it to finish; returns the seconds it took."""
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        started = time.monotonic()
        self._run(str(self.bin / "pg_ctl"), action, "-D", str(self.data), "-l", str(self.root / "log"), "-w",
                  "-t", "60", "-o", options, *extra)
        return time.monotonic() - started

    def start(self) -> float:
        return self.pg_ctl("start")

    def stop(self) -> float:
        return self.pg_ctl("stop", "-m", "fast")

    def restart(self) -> float:
        return self.pg_ctl("restart", "-m", "fast")

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def log(self) -> str:
        path = self.root / "log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def destroy(self) -> None:
        import shutil

        if (self.data / "postmaster.pid").exists():
            subprocess.run([*self.as_postgres, str(self.bin / "pg_ctl"), "stop", "-D", str(self.data), "-m",
                            "immediate", "-w"], capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


def copy_schema(app, url: str) -> None:
    """Create `url`'s database and load into it, with pg_dump | psql, the session app's test database (migrated,
    roles and permissions synced, no domain rows): far faster than migrating and syncing again."""
    import psycopg

    from crm.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    source = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).set(drivername="postgresql")
    target = make_url(url).set(drivername="postgresql")
    with psycopg.connect(_admin_dsn(url), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{target.database}"')
    bin_dir = Path(sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_dump"))[-1]).parent
    dump = subprocess.Popen([str(bin_dir / "pg_dump"), "--no-owner", "--no-privileges",
                             source.render_as_string(hide_password=False)], stdout=subprocess.PIPE)
    load = subprocess.run([str(bin_dir / "psql"), "-q", "-v", "ON_ERROR_STOP=1",
                           target.render_as_string(hide_password=False)], stdin=dump.stdout,
                          capture_output=True, text=True, timeout=300)
    dump.stdout.close()
    assert dump.wait(timeout=300) == 0 and load.returncode == 0, f"pg_dump | psql failed: {load.stderr[-2000:]}"
