"""Every figure of issue 8 in one run, with its target: `make bench` (= `.venv/bin/python -m bench.all`).

    .venv/bin/python -m bench.all                    # the full run (the lead's, on a quiet machine: ≈ 45–60 min)
    .venv/bin/python -m bench.all --quick            # small sizes: a plumbing check in a few minutes
    .venv/bin/python -m bench.all --only appeals peer --quick
    .venv/bin/python -m bench.all --list             # the steps, their commands and whether they are available
    .venv/bin/python -m bench.all --extra            # also issue 4/5's: readings pages, readings file, settlements
    make bench ARGS="--quick --only exports"

Sets up what the benchmarks need, idempotently: PostgreSQL answering on 127.0.0.1:5432 (started with
pg_ctlcluster when it is installed but stopped), `wrk` and `redis-server` (`apt-get install -y`, through sudo
when not root), and the peer's venv and seeded database (`bench/peer/setup.sh`). Every database a step
creates is named `<--db-prefix>_…` (default `crm_bench`; the prefix must contain "bench": these databases
are dropped and recreated).

Then runs each benchmark as a subprocess, in this order — the data generator at scale 1 and the page
benchmarks at scales 0.1 and 1 (bench.generate, bench.pages --scale), the curator desk (bench.appeals: queue,
card and the curator dashboard /admin/), the django-helpdesk peer side by side with our desk
(bench/peer/run.py time), throughput under gunicorn + wrk (bench.throughput), the 200 000-row export
(bench.exports), the outbox (bench.outbox) and the notification fan-out (bench.notifications_fanout);
then, with `--extra` or when named in `--only`, the earlier issues' benchmarks (bench.readings_page,
bench.readings_files, bench.settlements). Each one's output streams to this terminal and to
`instance/bench-logs/<UTC time>/<step>.log`.
A benchmark whose module (or the interface it needs) is not there yet is reported "not available" and
skipped.

Every benchmark prints one line per figure the issue targets:

    RESULT | <figure> | <value> | <target> | <met|MISSED|info>

and this script ends with one table of all of them, the count of misses, and the steps that crashed; the
table is also written to `summary.txt` (and `summary.json`) beside the logs. The per-page lines of a step that
prints many (bench.pages: one per page that misses) are counted on the terminal and listed in summary.txt.
The exit code is 0 even with misses (the run reports, it does not gate); it is 1 only when a step crashed
(non-zero exit, time-out, or no RESULT line at all) or its setup failed.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
PEER_DIR = ROOT / "bench" / "peer"
PEER_PYTHON = PEER_DIR / ".venv" / "bin" / "python"
PG_HOST, PG_PORT = "127.0.0.1", 5432
RESULT = re.compile(r"^RESULT \| (.+?) \| (.+?) \| (.+?) \| (\S+)\s*$")


@dataclass(frozen=True)
class Sizes:
    """What one run measures: the issue's sizes, or small ones for a plumbing check (--quick)."""

    generator_scale: str
    page_scales: tuple[str, ...]
    appeals: int
    requests: int
    page_requests: int | None  # bench.pages --scale -n (None: its own default)
    wrk_seconds: int
    export_rows: int
    export_repeat: int
    outbox_emails: int
    fanout_users: int
    readings_meters: int
    readings_file_meters: int
    settlement_years: int
    step_timeout: int  # seconds before a step is stopped and counted as crashed


FULL = Sizes(generator_scale="1", page_scales=("0.1", "1"), appeals=100_000, requests=40, page_requests=None,
             wrk_seconds=20,
             export_rows=200_000, export_repeat=3, outbox_emails=5_000, fanout_users=100_000, readings_meters=200,
             readings_file_meters=10_000, settlement_years=5, step_timeout=3600)
# --quick: 1 000 e-mails for the outbox; the fan-out's 20 % opted-in share of 5 000 customers is 1 000 e-mails too.
QUICK = Sizes(generator_scale="0.01", page_scales=("0.01",), appeals=5_000, requests=10, page_requests=5,
              wrk_seconds=5,
              export_rows=20_000, export_repeat=1, outbox_emails=1_000, fanout_users=5_000, readings_meters=50,
              readings_file_meters=1_000, settlement_years=1, step_timeout=900)


@dataclass
class Step:
    name: str
    title: str
    commands: list[list[str]]
    needs: tuple[str, ...] = ()                 # setup: "postgres", "wrk", "redis", "peer"
    unavailable: str | None = None              # why the step cannot run here (module or interface missing)
    env: dict[str, str] = field(default_factory=dict)
    extra: bool = False                         # not in the default run: only with --only <name> or --extra


@dataclass
class Outcome:
    step: str
    status: str                                 # ok | crashed | not available | setup failed | no figures
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    detail: str = ""
    results: list[tuple[str, str, str, str]] = field(default_factory=list)
    log: str = ""


# --- what is there -------------------------------------------------------------------------------------

def module_path(module: str) -> Path:
    return ROOT / (module.replace(".", "/") + ".py")


_HELP: dict[str, str] = {}


def help_text(module: str) -> str:
    """`python -m <module> --help`, cached ("" when the module is missing or its --help fails)."""
    if module not in _HELP:
        if not module_path(module).exists():
            _HELP[module] = ""
        else:
            done = subprocess.run([PYTHON, "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True,
                                  env=child_env(), check=False, timeout=120)
            _HELP[module] = done.stdout if done.returncode == 0 else ""
    return _HELP[module]


def has_flag(module: str, flag: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", help_text(module)) is not None


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"          # stream the benchmark's lines as they come
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra or {})
    return env


def pg_url(prefix: str, suffix: str) -> str:
    return f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{prefix}_{suffix}"


def scale_suffix(scale: str) -> str:
    return "scale_" + scale.replace(".", "_")


# --- the plan --------------------------------------------------------------------------------------------

def plan(sizes: Sizes, prefix: str) -> list[Step]:
    """The steps in the issue's order. Interfaces still being written are probed through their --help."""
    steps = []

    # 1. Data generator at scale 1 (timed on its own: the ≤ 3 min target), and fresh at every page scale, so
    #    that the pages step times this run's data, never a database left from an older run.
    scales = sorted({sizes.generator_scale, *sizes.page_scales}, key=float)
    generate = Step("generate", f"data generator, scale {', '.join(scales)} (bench.generate)", [], ("postgres",))
    if not has_flag("bench.generate", "--scale"):
        generate.unavailable = "bench.generate has no --scale option yet"
    else:
        for scale in scales:
            generate.commands.append([PYTHON, "-m", "bench.generate", "--scale", scale, "--database-url",
                                      pg_url(prefix, scale_suffix(scale)), "--fresh"])
    steps.append(generate)

    # 2. Page benchmarks at scales 0.1 and 1 (the scale-1 database from step 1 is reused when it can be).
    pages = Step("pages", f"page benchmarks at scale {' and '.join(sizes.page_scales)} (bench.pages --scale)", [],
                 ("postgres",))
    if not has_flag("bench.pages", "--scale"):
        pages.unavailable = "bench.pages has no --scale mode yet"
    else:
        command = [PYTHON, "-m", "bench.pages", "--scale", *sizes.page_scales]
        if has_flag("bench.pages", "--existing"):
            command.append("--existing")        # reuse the generator step's database (and its logins file)
        if has_flag("bench.pages", "--scale-url"):
            command += ["--scale-url", *(f"{scale}={pg_url(prefix, scale_suffix(scale))}"
                                         for scale in sizes.page_scales)]
        if sizes.page_requests and has_flag("bench.pages", "-n"):
            command += ["-n", str(sizes.page_requests)]
        pages.commands.append(command)
    steps.append(pages)

    # 3. Curator desk: queue, card, dashboard (builds its database, then times it).
    appeals_url = pg_url(prefix, "appeals")
    steps.append(Step("appeals", f"curator desk at {sizes.appeals:,} appeals (bench.appeals)",
                      [[PYTHON, "-m", "bench.appeals", "--pg", appeals_url, "--appeals", str(sizes.appeals),
                        "-n", str(sizes.requests)]], ("postgres",)))

    # 4. The peer, side by side: seeded with the same number of tickets, then timed with our desk in one run.
    peer_env = {"PEER_DB": f"{prefix}_peer_helpdesk"}
    steps.append(Step("peer", f"django-helpdesk peer at {sizes.appeals:,} tickets (bench/peer/run.py time)",
                      [["bash", str(PEER_DIR / "setup.sh"), "--tickets", str(sizes.appeals)],
                       [str(PEER_PYTHON), str(PEER_DIR / "run.py"), "time", "-n", str(sizes.requests),
                        "--ours-pg", appeals_url]], ("postgres", "peer"), env=peer_env))

    # 5. Throughput under gunicorn with 2 sync workers.
    steps.append(Step("throughput", f"throughput, gunicorn -w 2 + wrk {sizes.wrk_seconds} s (bench.throughput)",
                      [[PYTHON, "-m", "bench.throughput", "--pg", pg_url(prefix, "throughput"),
                        "--duration", str(sizes.wrk_seconds)]], ("postgres", "wrk")))

    # 6. The xlsx export (PostgreSQL only: the targets are on PostgreSQL).
    steps.append(Step("exports", f"{sizes.export_rows:,}-row xlsx export (bench.exports)",
                      [[PYTHON, "-m", "bench.exports", "--pg", pg_url(prefix, "exports"), "--no-sqlite",
                        "--rows", str(sizes.export_rows), "--repeat", str(sizes.export_repeat)]], ("postgres",)))

    # 7. The outbox with 2 RQ workers to a local SMTP sink.
    outbox = Step("outbox", f"outbox, {sizes.outbox_emails:,} e-mails, 2 RQ workers (bench.outbox)", [],
                  ("postgres", "redis"))
    if not module_path("bench.outbox").exists():
        outbox.unavailable = "bench/outbox.py is not there yet"
    else:
        command = [PYTHON, "-m", "bench.outbox"]
        if has_flag("bench.outbox", "--pg"):
            command += ["--pg", pg_url(prefix, "outbox")]
        if has_flag("bench.outbox", "-n"):
            command += ["-n", str(sizes.outbox_emails)]
        outbox.commands.append(command)
    steps.append(outbox)

    # 8. The notification fan-out.
    steps.append(Step("fanout", f"notification fan-out to {sizes.fanout_users:,} customers "
                                "(bench.notifications_fanout)",
                      [[PYTHON, "-m", "bench.notifications_fanout", "--pg", pg_url(prefix, "notify"),
                        "--users", str(sizes.fanout_users)]], ("postgres", "redis")))

    # Extra steps (the earlier issues' targets), run only when named: --only … or --extra.
    extra_n = str(sizes.requests)
    steps.append(Step("readings_page", f"readings pages of a {sizes.readings_meters}-meter contract "
                                       "(bench.readings_page, issue 4)",
                      [[PYTHON, "-m", "bench.readings_page", "--pg", pg_url(prefix, "readings"), "--no-sqlite",
                        "--meters", str(sizes.readings_meters), "-n", extra_n]], ("postgres",), extra=True))
    steps.append(Step("readings_files", f"readings template and import, {sizes.readings_file_meters:,} meters "
                                        "(bench.readings_files, issue 4)",
                      [[PYTHON, "-m", "bench.readings_files", "--pg", pg_url(prefix, "readings_files"), "--no-sqlite",
                        "--meters", str(sizes.readings_file_meters)]], ("postgres",), extra=True))
    steps.append(Step("settlements", f"settlements, act and documents pages, {sizes.settlement_years} years "
                                     "(bench.settlements, issue 5)",
                      [[PYTHON, "-m", "bench.settlements", "--pg", pg_url(prefix, "settlements"), "--no-sqlite",
                        "--years", str(sizes.settlement_years), "-n", extra_n]], ("postgres",), extra=True))
    return steps


STEP_NAMES = ("generate", "pages", "appeals", "peer", "throughput", "exports", "outbox", "fanout")
EXTRA_STEP_NAMES = ("readings_page", "readings_files", "settlements")


# --- setup -----------------------------------------------------------------------------------------------

def _sudo() -> list[str]:
    return ["sudo"] if os.geteuid() != 0 and shutil.which("sudo") else []


_APT_UPDATED = False


def apt_install(package: str) -> str | None:
    """`apt-get install -y <package>` (an `apt-get update` first when the package is not found); None or why not."""
    global _APT_UPDATED
    if not shutil.which("apt-get"):
        return f"{package} is missing and there is no apt-get: install it by hand"
    install = [*_sudo(), "apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "-q", package]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    print(f"setup: {' '.join(install)}", flush=True)
    done = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0 and not _APT_UPDATED:
        print("setup: apt-get update", flush=True)
        subprocess.run([*_sudo(), "apt-get", "-o", "DPkg::Lock::Timeout=300", "update", "-q"], env=env,
                       capture_output=True, check=False)
        _APT_UPDATED = True
        done = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return f"apt-get install {package} failed: {(done.stderr or done.stdout).strip()[-500:]}"
    return None


def ensure_binary(binary: str, package: str) -> str | None:
    if shutil.which(binary):
        return None
    return apt_install(package) or (None if shutil.which(binary) else f"{binary} still missing after installing")


def _pg_answers() -> bool:
    try:
        import psycopg
    except ImportError:
        return False
    try:
        with psycopg.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname="postgres", connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def database_exists(name: str) -> bool:
    """Whether PostgreSQL has this database (False when it does not answer)."""
    try:
        import psycopg

        with psycopg.connect(host=PG_HOST, port=PG_PORT, user="postgres", dbname="postgres", connect_timeout=3) as conn:
            return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None
    except Exception:  # noqa: BLE001 - no database server: the step's setup reports it
        return False


def ensure_postgres() -> str | None:
    """PostgreSQL answering postgres@127.0.0.1:5432 without a password; start installed clusters if needed."""
    if _pg_answers():
        return None
    if shutil.which("pg_ctlcluster") and Path("/etc/postgresql").is_dir():
        for version in sorted(os.listdir("/etc/postgresql")):
            print(f"setup: pg_ctlcluster {version} main start", flush=True)
            subprocess.run([*_sudo(), "pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                           capture_output=True, check=False)
        for _ in range(30):
            if _pg_answers():
                return None
            time.sleep(1)
    return (f"PostgreSQL does not answer postgres@{PG_HOST}:{PG_PORT} (run `bash scripts/ensure-services.sh`, "
            "which `make test` uses, to install and start it)")


def ensure_peer_venv() -> str | None:
    """The peer's own venv with its pinned requirements (bench/peer/setup.sh also seeds; the step runs that)."""
    if PEER_PYTHON.exists():
        return None
    if shutil.which("python3") is None:
        return "python3 is needed for the peer's venv"
    print("setup: python3 -m venv bench/peer/.venv", flush=True)
    done = subprocess.run(["python3", "-m", "venv", str(PEER_DIR / ".venv")], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        return f"python3 -m venv failed: {done.stderr.strip()[-500:]}"
    return None


def run_setup(need: str, cache: dict[str, str | None]) -> str | None:
    if need not in cache:
        if need == "postgres":
            cache[need] = ensure_postgres()
        elif need == "wrk":
            cache[need] = ensure_binary("wrk", "wrk")
        elif need == "redis":
            cache[need] = ensure_binary("redis-server", "redis-server")
        elif need == "peer":
            cache[need] = ensure_peer_venv()
        else:
            cache[need] = f"unknown requirement {need!r}"
    return cache[need]


# --- running ---------------------------------------------------------------------------------------------

def load_average() -> str:
    try:
        with open("/proc/loadavg") as fh:
            return " ".join(fh.read().split()[:3])
    except OSError:
        return "?"


def git_commit() -> str:
    """The short commit measured (with "+changes" when the work tree differs from it), or "?"."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"
    return head + ("+changes" if dirty else "")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_command(command: list[str], env: dict[str, str], log, timeout: float, results: list) -> tuple[int, bool]:
    """Run one command, streaming its output to the terminal and the log; returns (exit code, timed out)."""
    line = f"$ {' '.join(command)}"
    print(line, flush=True)
    log.write(line + "\n")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True, bufsize=0)
    expired = threading.Event()

    def stop() -> None:
        expired.set()
        _kill_group(process)

    timer = threading.Timer(timeout, stop)
    timer.daemon = True
    timer.start()
    try:
        assert process.stdout is not None
        pending = b""
        while True:
            chunk = process.stdout.read1(65536) if hasattr(process.stdout, "read1") else process.stdout.read(4096)
            if not chunk:
                break
            text = chunk.decode("utf-8", "replace")
            sys.stdout.write(text)
            sys.stdout.flush()
            log.write(text)
            log.flush()
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                found = RESULT.match(raw.decode("utf-8", "replace").rstrip("\r"))
                if found:
                    results.append(tuple(part.strip() for part in found.groups()))
        if pending:
            found = RESULT.match(pending.decode("utf-8", "replace").strip())
            if found:
                results.append(tuple(part.strip() for part in found.groups()))
        code = process.wait()
    except BaseException:
        _kill_group(process)
        raise
    finally:
        timer.cancel()
    return code, expired.is_set()


def _kill_group(process: subprocess.Popen) -> None:
    """Stop the step's process group (started in its own session): SIGINT first, so the benchmark's `finally`
    blocks stop what it started (gunicorn, workers, redis-server), then SIGTERM, then SIGKILL."""
    for sig, grace in ((signal.SIGINT, 30), (signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue


def run_step(step: Step, sizes: Sizes, log_dir: Path, setup_cache: dict[str, str | None]) -> Outcome:
    banner = f"=== {step.name}: {step.title}"
    print(f"\n{banner}\n", flush=True)
    if step.unavailable:
        print(f"{step.name}: not available — {step.unavailable}", flush=True)
        return Outcome(step.name, "not available", detail=step.unavailable)
    for need in step.needs:
        problem = run_setup(need, setup_cache)
        if problem:
            print(f"{step.name}: setup failed — {problem}", flush=True)
            return Outcome(step.name, "setup failed", detail=problem)
    log_path = log_dir / f"{step.name}.log"
    outcome = Outcome(step.name, "ok", log=str(log_path.relative_to(ROOT)))
    env = child_env(step.env)
    started, cpu_before = time.perf_counter(), _children_cpu()
    with open(log_path, "w", encoding="utf-8") as log:
        log.write(f"{banner}\nstarted {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC, load average {load_average()}\n")
        for command in step.commands:
            remaining = sizes.step_timeout - (time.perf_counter() - started)
            code, timed_out = run_command(command, env, log, max(remaining, 1), outcome.results)
            if timed_out:
                outcome.status, outcome.detail = "crashed", f"stopped after {sizes.step_timeout} s (time-out)"
                break
            if code != 0:
                outcome.status, outcome.detail = "crashed", f"`{' '.join(command[:4])} …` exited with {code}"
                break
        outcome.seconds = time.perf_counter() - started
        outcome.cpu_seconds = _children_cpu() - cpu_before
        if outcome.status == "ok" and not outcome.results:
            outcome.status, outcome.detail = "no figures", "finished without printing any RESULT line"
        log.write(f"\nfinished: {outcome.status} {outcome.detail} in {outcome.seconds:.1f} s wall, "
                  f"{outcome.cpu_seconds:.1f} s CPU (children), load average {load_average()}\n")
    print(f"\n{step.name}: {outcome.status}{' — ' + outcome.detail if outcome.detail else ''} "
          f"({outcome.seconds:.1f} s wall, {outcome.cpu_seconds:.1f} s CPU; log {outcome.log})", flush=True)
    return outcome


# --- the final table ---------------------------------------------------------------------------------------

# A step that prints many RESULT lines (bench.pages: one per page that misses) keeps its per-page lines out of
# the main table: they go to a details table after it (in full in summary.txt; counted on the terminal).
DETAIL_THRESHOLD = 20
DETAIL = re.compile(r"^(portal|back office) .*/")  # a page: "portal /portal/… as user median …"


def split_rows(outcomes: list[Outcome]) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    main_rows, details = [], []
    for outcome in outcomes:
        many = len(outcome.results) > DETAIL_THRESHOLD
        for result in outcome.results:
            (details if many and DETAIL.match(result[0]) else main_rows).append((outcome.step, *result))
    return main_rows, details


def render(rows: list[tuple[str, ...]]) -> list[str]:
    titles = ("step", "figure", "value", "target", "verdict")
    widths = [max(len(titles[i]), *(len(row[i]) for row in rows)) for i in range(5)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*titles), fmt.format(*("-" * w for w in widths))]
    for row in rows:
        verdict = row[4] if row[4] != "MISSED" else "MISSED  <<<"
        lines.append(fmt.format(row[0], row[1], row[2], row[3], verdict).rstrip())
    return lines


def counts(rows: list[tuple[str, ...]]) -> str:
    met = sum(1 for row in rows if row[4] == "met")
    missed = sum(1 for row in rows if row[4] == "MISSED")
    return f"{len(rows)} figures: {met} met, {missed} MISSED, {len(rows) - met - missed} info"


def table(outcomes: list[Outcome], header: str, with_details: bool) -> str:
    """The final table; the per-page details in full (`with_details`, for summary.txt) or as a count."""
    main_rows, details = split_rows(outcomes)
    lines = [header, ""]
    lines += render(main_rows) if main_rows else ["(no RESULT lines)"]
    lines += ["", counts(main_rows)]
    if details:
        if with_details:
            lines += ["", "Details: one line per page (bench.pages)", ""] + render(details)
        lines.append(f"details, one line per page: {counts(details)}"
                     + ("" if with_details else " — listed in summary.txt and in the pages step's log"))
    for outcome in outcomes:
        if outcome.status != "ok":
            lines.append(f"{outcome.step}: {outcome.status.upper()} — {outcome.detail}")
    lines.append("steps: " + ", ".join(f"{o.step} {o.status} ({o.seconds:.0f} s)" for o in outcomes))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run every benchmark of issue 8 and print one table of figures.")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes for a plumbing check (scale 0.01, 5 000 appeals, 5 s of wrk, "
                             "20 000 export rows, 1 000 e-mails)")
    parser.add_argument("--only", nargs="+", metavar="STEP", choices=STEP_NAMES + EXTRA_STEP_NAMES,
                        help=f"run only these steps ({', '.join(STEP_NAMES + EXTRA_STEP_NAMES)})")
    parser.add_argument("--skip", nargs="+", metavar="STEP", choices=STEP_NAMES + EXTRA_STEP_NAMES, default=(),
                        help="run every step but these")
    parser.add_argument("--extra", action="store_true",
                        help=f"also run the earlier issues' benchmarks ({', '.join(EXTRA_STEP_NAMES)})")
    parser.add_argument("--db-prefix", default=os.environ.get("BENCH_DB_PREFIX", "crm_bench"),
                        help="prefix of the PostgreSQL databases (dropped and recreated; must contain 'bench')")
    parser.add_argument("--list", action="store_true", help="print the steps and their commands, run nothing")
    args = parser.parse_args(argv)
    if "bench" not in args.db_prefix:
        parser.error("--db-prefix must contain 'bench' (its databases are dropped and recreated)")
    if not Path(PYTHON).exists():
        parser.error(f"{PYTHON} is missing: run `make install` first")
    sizes = QUICK if args.quick else FULL
    steps = [s for s in plan(sizes, args.db_prefix)
             if (s.name in args.only if args.only else (args.extra or not s.extra)) and s.name not in args.skip]
    names = {step.name for step in steps}
    if "peer" in names and "appeals" not in names and not database_exists(f"{args.db_prefix}_appeals"):
        # The peer is timed beside our desk: build the desk's database first when it is not there.
        appeals = next(step for step in plan(sizes, args.db_prefix) if step.name == "appeals")
        peer = next(step for step in steps if step.name == "peer")
        peer.commands[:0] = appeals.commands
    if args.list:
        for step in steps:
            print(f"{step.name}: {step.title}" + (f" — not available: {step.unavailable}" if step.unavailable else ""))
            for command in step.commands:
                print("    " + " ".join(command))
        return 0

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S") + ("-quick" if args.quick else "")
    log_dir = ROOT / "instance" / "bench-logs" / stamp
    log_dir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    header = (f"bench.all {'--quick ' if args.quick else ''}— {started:%Y-%m-%d %H:%M} UTC, commit {git_commit()}, "
              f"{os.cpu_count()} CPUs, load average {load_average()} at the start")
    print(header, flush=True)
    outcomes: list[Outcome] = []
    setup_cache: dict[str, str | None] = {}
    try:
        for step in steps:
            outcomes.append(run_step(step, sizes, log_dir, setup_cache))
    except KeyboardInterrupt:
        print("\ninterrupted", flush=True)
        outcomes.append(Outcome("interrupted", "crashed", detail="stopped by Ctrl-C"))
    finished = datetime.now(UTC)
    title = f"{header}; finished {finished:%H:%M} UTC, load average {load_average()}"
    print("\n" + "=" * 100 + "\n" + table(outcomes, title, with_details=False), flush=True)
    (log_dir / "summary.txt").write_text(table(outcomes, title, with_details=True) + "\n", encoding="utf-8")
    (log_dir / "summary.json").write_text(json.dumps({
        "started": started.isoformat(), "finished": finished.isoformat(), "quick": args.quick,
        "commit": git_commit(),
        "steps": [{"step": o.step, "status": o.status, "detail": o.detail, "seconds": round(o.seconds, 1),
                   "cpu_seconds": round(o.cpu_seconds, 1), "log": o.log,
                   "results": [dict(zip(("figure", "value", "target", "verdict"), r, strict=True))
                               for r in o.results]} for o in outcomes],
    }, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\nlogs and summary: {log_dir.relative_to(ROOT)}/", flush=True)
    failed = [o for o in outcomes if o.status in ("crashed", "setup failed", "no figures")]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
