"""Throughput of the signed-in portal under gunicorn with 2 sync workers (issue 8 item 4).

    .venv/bin/python -m bench.throughput [--pg postgresql+psycopg://postgres@127.0.0.1:5432/crm_bench_throughput]
        [--existing] [--duration 20] [--threads 2] [--connections 16] [--workers 2]

Builds the PostgreSQL database (dropped and recreated; its name must contain "bench") the way a deploy
does — `flask db upgrade`, `flask crm init`, `flask crm seed-demo` — unless `--existing` reuses it. Then it
starts `.venv/bin/gunicorn --preload -w 2 wsgi:app` with the production settings (CRM_CONFIG=prod, a
random SECRET_KEY, no Redis: jobs in-process) on a free loopback port, signs in as the demo director
through /portal/login (CSRF token from the form, cookies kept by hand: the production session cookie
is `__Host-…; Secure`, which a cookie jar would not send over plain http), checks that each page answers
200 with that cookie (not a redirect to the login), and drives each with wrk for `--duration` seconds:
the contract dashboard (the card of the director's first contract, `/portal/contracts/<id>/`) and the
appeals list (`/portal/appeals/`), then /healthz as a yardstick (no session, one `SELECT 1`: what
gunicorn, Flask and a database round trip cost alone on this machine). Printed per page: requests/s,
median and p99 latency, non-2xx responses and socket errors, with the target (≥ 600 req/s for the
contract dashboard) and the load average of the machine before and after, then one
`RESULT | … | req/s | target | met/MISSED/info` line per page for bench/all.py. gunicorn is stopped at the
end, also on errors.

wrk is a system package: `apt-get install -y wrk` (Debian/Ubuntu) or `brew install wrk`.
"""
from __future__ import annotations

import argparse
import http.client
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/crm_bench_throughput"
LOGIN, PASSWORD = "director@demo.example", "Demo2026pass"
DASHBOARD_TARGET_RPS = 600.0

# wrk's Lua hooks: count non-2xx responses per thread (wrk itself only counts non-2xx/3xx) and print
# the totals and latency percentiles in a form easy to parse.
WRK_SCRIPT = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) non2xx = 0 end
function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end
function done(summary, latency, requests)
  local bad = 0
  for _, t in ipairs(threads) do bad = bad + t:get("non2xx") end
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d non2xx=%d p50_us=%d p99_us=%d "
    .. "max_us=%d socket_errors=%d\\n", summary.requests, summary.duration, bad,
    latency:percentile(50), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass
class Run:
    name: str
    path: str
    requests: int
    seconds: float
    non2xx: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def load_average() -> str:
    with open("/proc/loadavg") as fh:
        return " ".join(fh.read().split()[:3])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(url: str) -> dict[str, str]:
    """Production settings; REDIS_URL empty (= unset) so jobs run in-process, no SMTP."""
    env = dict(os.environ)
    env.update(DATABASE_URL=url, CRM_CONFIG="prod", SECRET_KEY=secrets.token_urlsafe(32), REDIS_URL="",
               SMTP_URL="", FLASK_APP="app")
    return env


def build_database(url: str) -> None:
    """Drop, create and fill the database as a deploy would (migrations, roles and catalogue, the demo)."""
    from bench.pages import recreate_postgres

    recreate_postgres(url, force=False)
    env = server_env(url)
    for args in (("db", "upgrade"), ("crm", "init"), ("crm", "seed-demo")):
        started = time.perf_counter()
        subprocess.run([str(VENV_BIN / "flask"), "--app", "app", *args], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        print(f"  flask {' '.join(args)}: {time.perf_counter() - started:.1f} s", flush=True)


@contextmanager
def gunicorn(url: str, workers: int, log_path: Path):
    """A gunicorn serving wsgi:app on a free loopback port; yields the base URL, always stopped."""
    port = free_port()
    cmd = [str(VENV_BIN / "gunicorn"), "--preload", "-w", str(workers), "-k", "sync", "-b", f"127.0.0.1:{port}",
           "--error-logfile", str(log_path), "--log-level", "warning", "wsgi:app"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=server_env(url), stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_up(port, proc, log_path)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


def wait_until_up(port: int, proc: subprocess.Popen, log_path: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with {proc.returncode}; see {log_path}")
        try:
            status, _, body = request("GET", f"http://127.0.0.1:{port}/healthz", {})
        except OSError:
            status, body = 0, ""
        if status == 200:
            return
        if status:
            raise SystemExit(f"/healthz answered {status}: {body[:300]}")
        time.sleep(0.3)
    raise SystemExit(f"gunicorn did not answer /healthz within {timeout:.0f} s; see {log_path}")


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM the gunicorn master (it stops its workers), then SIGKILL its process group if it lingers."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


# --- a tiny HTTP client that keeps cookies by hand ---------------------------------------------------

def request(method: str, url: str, cookies: dict[str, str], body: dict | None = None):
    """One request; returns (status, headers, text) and stores the cookies the response sets."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    headers = {"Accept-Language": "ru"}
    if cookies:
        headers["Cookie"] = cookie_header(cookies)
    data = None
    if body is not None:
        data = urlencode(body)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body=data, headers=headers)
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
        for header in response.headers.get_all("Set-Cookie") or ():
            for name, morsel in SimpleCookie(header).items():
                if morsel.value:
                    cookies[name] = morsel.value
                else:
                    cookies.pop(name, None)
        return response.status, response.headers, text
    finally:
        conn.close()


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def sign_in(base: str) -> dict[str, str]:
    """Sign in through the portal's form as the demo director; returns the cookies of the session."""
    cookies: dict[str, str] = {}
    status, _, page = request("GET", f"{base}/portal/login", cookies)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page)
    if status != 200 or token is None:
        raise SystemExit(f"/portal/login answered {status} without a CSRF token")
    status, headers, _ = request("POST", f"{base}/portal/login", cookies,
                                 {"csrf_token": token.group(1), "login": LOGIN, "password": PASSWORD})
    location = headers.get("Location", "")
    if status not in (302, 303) or "/login" in location:
        raise SystemExit(f"sign-in as {LOGIN} failed: {status} → {location or 'no redirect'}")
    return cookies


def first_contract_path(base: str, cookies: dict[str, str]) -> str:
    status, _, page = request("GET", f"{base}/portal/contracts/", cookies)
    found = re.search(r'href="(?:https?://[^/"]+)?(/portal/contracts/\d+/)"', page)
    if status != 200 or found is None:
        raise SystemExit(f"/portal/contracts/ answered {status} and lists no contract card")
    return found.group(1)


def check_page(base: str, path: str, cookies: dict[str, str]) -> None:
    """The page must answer 200 signed in (wrk would otherwise measure redirects to the login)."""
    status, headers, _ = request("GET", base + path, dict(cookies))
    if status != 200:
        raise SystemExit(f"{path} answered {status} ({headers.get('Location', '')}) with the session cookie")


# --- wrk --------------------------------------------------------------------------------------------

def run_wrk(name: str, url: str, cookies: dict[str, str], args, script: Path) -> Run:
    cmd = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s", "--timeout", "10s",
           "-s", str(script), "-H", f"Cookie: {cookie_header(cookies)}", "-H", "Accept-Language: ru", url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    found = re.search(r"RESULT (.*)", out)
    if found is None:
        raise SystemExit(f"wrk printed no result:\n{out}")
    values = {key: int(value) for key, value in (item.split("=") for item in found.group(1).split())}
    return Run(name=name, path=urlsplit(url).path, requests=values["requests"],
               seconds=values["duration_us"] / 1e6, non2xx=values["non2xx"],
               socket_errors=values["socket_errors"], p50_ms=values["p50_us"] / 1000,
               p99_ms=values["p99_us"] / 1000, max_ms=values["max_us"] / 1000)


def report(runs: list[Run], args, before: str, after: str) -> None:
    print(f"\ngunicorn --preload -w {args.workers} (sync), wrk -t{args.threads} -c{args.connections} "
          f"-d{args.duration}s, signed in as {LOGIN}")
    print(f"load average before: {before}; after: {after}; CPUs: {os.cpu_count()}\n")
    print(f"{'page':<20} {'path':<26} {'req/s':>8} {'median ms':>10} {'p99 ms':>8} {'non-2xx':>8} "
          f"{'errors':>7}  target")
    for run in runs:
        target = ""
        if run.name == "contract dashboard":
            verdict = "met" if run.rps >= DASHBOARD_TARGET_RPS else "MISSED"
            target = f"≥ {DASHBOARD_TARGET_RPS:.0f} req/s: {verdict}"
        print(f"{run.name:<20} {run.path:<26} {run.rps:>8.1f} {run.p50_ms:>10.1f} {run.p99_ms:>8.1f} "
              f"{run.non2xx:>8} {run.socket_errors:>7}  {target}")
    # The machine-readable lines bench/all.py collects. A run with non-2xx answers or socket errors does not
    # count as met: wrk would be measuring errors, not pages.
    setup = f"gunicorn -w {args.workers} sync, wrk -c{args.connections} {args.duration} s"
    print()
    for run in runs:
        clean = run.non2xx == 0 and run.socket_errors == 0
        errors = "" if clean else f" ({run.non2xx} non-2xx, {run.socket_errors} socket errors)"
        if run.name == "contract dashboard":
            verdict = "met" if clean and run.rps >= DASHBOARD_TARGET_RPS else "MISSED"
            target = f"≥ {DASHBOARD_TARGET_RPS:.0f} req/s"
        else:
            verdict, target = "info", "—"
        print(f"RESULT | {run.name} {run.path} throughput ({setup}) | {run.rps:.1f} req/s{errors} | {target} | "
              f"{verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pg", default=DEFAULT_URL, help="PostgreSQL URL (a database name containing 'bench')")
    parser.add_argument("--existing", action="store_true", help="reuse an already built database")
    parser.add_argument("--duration", type=int, default=20, help="seconds of load per page")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--no-yardstick", action="store_true",
                        help="skip /healthz (one SELECT 1, no session): the ceiling of the stack itself")
    args = parser.parse_args(argv)

    if shutil.which("wrk") is None:
        print("wrk is not installed: `apt-get install -y wrk` (Debian/Ubuntu) or `brew install wrk`.",
              file=sys.stderr)
        return 2
    if not args.existing:
        print(f"building {urlsplit(args.pg).path.lstrip('/')} …", flush=True)
        build_database(args.pg)
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as tmp:
        script = Path(tmp) / "count.lua"
        script.write_text(WRK_SCRIPT)
        log_path = Path(tmp) / "gunicorn.log"
        try:
            with gunicorn(args.pg, args.workers, log_path) as base:
                cookies = sign_in(base)
                pages = [("contract dashboard", first_contract_path(base, cookies)),
                         ("appeals list", "/portal/appeals/")]
                for _, path in pages:
                    check_page(base, path, cookies)
                if not args.no_yardstick:
                    pages.append(("yardstick", "/healthz"))
                before = load_average()
                runs = []
                for name, path in pages:
                    print(f"wrk on {path} for {args.duration} s …", flush=True)
                    runs.append(run_wrk(name, base + path, cookies, args, script))
                after = load_average()
        except BaseException:
            if log_path.exists() and log_path.stat().st_size:
                print(f"--- gunicorn log ---\n{log_path.read_text()[-4000:]}", file=sys.stderr)
            raise
        errors = log_path.read_text() if log_path.exists() else ""
    report(runs, args, before, after)
    if "Traceback" in errors:
        print(f"\ngunicorn logged errors:\n{errors[-4000:]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
