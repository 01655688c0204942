"""Time every page of the back office and the portal on the demo data (`make bench`).

    python -m bench.pages [--pg postgresql+psycopg://postgres@127.0.0.1:5432/crm_bench] [-n 30]
    python -m bench.pages --scale 0.1 1 [--existing] [-n 20]      # the issue-8 dataset, scale vs scale

For each backend (a fresh SQLite file in a temp dir, and PostgreSQL when --pg is given): run the
migrations, `crm init`, the demo seed; then sign in as every demo login and GET every page that
exists — routes from app.url_map with no URL parameters, or with parameters filled from the demo
(contract, counterparty, FAB `pk`, meter, appeal, document …). Pages that answer 200 without a
session are timed anonymously (and as a signed-in user too, where they still answer 200 then);
portal pages as each customer; back-office pages as admin and curator. Each page gets `--warmup`
requests, then `-n` timed ones through Flask's test client
(the whole WSGI stack, no network). Reported: status, median and p95 milliseconds, SQL statements
per request. The target (the Foundation issue): every page answers within 50 ms on the demo data.
Always exits 0; the last line per backend reads "N pages, M over 50 ms".
"""
from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import event, select
from sqlalchemy.engine import make_url

TARGET_MS = 50.0
SKIP_ENDPOINT_SUFFIXES = (".action", ".delete", ".download", ".static", "static", ".logout", "logout",
                          ".back", "set_language", "LocaleView.index", "healthz")
SKIP_PREFIXES = ("/api/", "/static/", "/swagger")
STAFF = ("admin", "curator")


@dataclass
class Page:
    endpoint: str
    rule: object           # werkzeug Rule
    back_office: bool


@dataclass
class Result:
    path: str
    user: str
    status: int
    median_ms: float
    p95_ms: float
    sql_per_request: float

    @property
    def slow(self) -> bool:
        return self.median_ms > TARGET_MS


# --- building the app and the data ---------------------------------------------------------------

def recreate_postgres(url: str, force: bool) -> None:
    """Drop and create the database named in `url` (it must look like a bench database)."""
    import psycopg

    parsed = make_url(url)
    if "bench" not in (parsed.database or "") and not force:
        raise SystemExit(f"refusing to drop {parsed.database!r}: use a database name containing 'bench' "
                         "or pass --force-drop")
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{parsed.database}"')


def build_app(url: str, prepare: bool = True):
    """The app on `url`, migrated, with roles and the demo (unless `prepare` is False: an existing
    database that already has them); returns (app, seconds for migrations, seconds for the seed)."""
    from flask_migrate import upgrade

    from app import create_app
    from crm.services.demo import seed_demo
    from crm.services.roles import sync_roles

    app = create_app({"CRM_CONFIG": "test", "SQLALCHEMY_DATABASE_URI": url, "TESTING": False, "DEBUG": False,
                      "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})
    if not prepare:
        return app, 0.0, 0.0
    with app.app_context():
        started = time.perf_counter()
        upgrade()
        sync_roles(app.appbuilder)
        migrated = time.perf_counter() - started
        started = time.perf_counter()
        seed_demo()
        seeded = time.perf_counter() - started
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return app, migrated, seeded


# --- which pages, and how to fill their parameters -----------------------------------------------

def pages_of(app) -> list[Page]:
    pages = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in (rule.methods or ()) or rule.rule.startswith(SKIP_PREFIXES):
            continue
        if rule.endpoint.endswith(SKIP_ENDPOINT_SUFFIXES) or rule.rule == "/":
            continue
        pages.append(Page(rule.endpoint, rule, back_office=not rule.rule.startswith("/portal")))
    return pages


class Resolver:
    """Fills URL parameters with ids from the demo that the signed-in user may see."""

    def __init__(self, app):
        self.app = app

    def _first(self, query) -> int | None:
        from crm.extensions import db

        return db.session.scalar(query.limit(1))

    def context(self, login: str) -> dict:
        """The user's id, the contract pages are shown for, its counterparty and the object scope.

        Of the user's contracts (staff: of all), the one most demo users share is taken.
        """
        from sqlalchemy import func

        from crm.extensions import db
        from crm.models import Contract, ContractAccess, CrmUser, contract_access_object

        user = db.session.scalar(select(CrmUser).where(CrmUser.username == login))
        own = select(ContractAccess.contract_id).where(ContractAccess.user_id == user.id)
        query = select(ContractAccess.contract_id).group_by(ContractAccess.contract_id).order_by(
            func.count().desc(), ContractAccess.contract_id)
        if db.session.scalar(own.limit(1)) is not None:
            query = query.where(ContractAccess.contract_id.in_(own))
        contract_id = self._first(query)
        scope = list(db.session.scalars(
            select(contract_access_object.c.energy_object_id).join(
                ContractAccess, ContractAccess.id == contract_access_object.c.access_id)
            .where(ContractAccess.user_id == user.id, ContractAccess.contract_id == contract_id)))
        contract = db.session.get(Contract, contract_id) if contract_id else None
        return dict(user_id=user.id, contract_id=contract_id, scope=scope,
                    counterparty_id=contract.counterparty_id if contract else None)

    def value(self, name: str, ctx: dict, endpoint: str):
        from crm import models as m

        contract_id, user_id = ctx["contract_id"], ctx["user_id"]
        objects = (select(m.EnergyObject.id).where(m.EnergyObject.contract_id == contract_id)
                   if not ctx["scope"] else select(m.EnergyObject.id).where(m.EnergyObject.id.in_(ctx["scope"])))
        meters = select(m.Meter.id).join(m.MeteringPoint).where(m.MeteringPoint.energy_object_id.in_(objects))
        simple: dict[str, Callable[[], object]] = {
            "contract_id": lambda: contract_id,
            "counterparty_id": lambda: ctx["counterparty_id"],
            "energy_object_id": lambda: self._first(objects.order_by(m.EnergyObject.id)),
            "object_id": lambda: self._first(objects.order_by(m.EnergyObject.id)),
            "meter_id": lambda: self._first(meters.order_by(m.Meter.id)),
            "register_id": lambda: self._first(select(m.Register.id).where(m.Register.meter_id.in_(meters))),
            "reading_id": lambda: self._first(select(m.Reading.id).join(m.Register)
                                              .where(m.Register.meter_id.in_(meters))
                                              .order_by(m.Reading.period.desc())),
            "profile_id": lambda: self._first(select(m.IntervalProfile.id)
                                              .where(m.IntervalProfile.meter_id.in_(meters))),
            "act_id": lambda: self._first(select(m.IntervalProfile.id).where(m.IntervalProfile.meter_id.in_(meters))),
            "document_id": lambda: self._first(select(m.BillingDocument.id)
                                               .where(m.BillingDocument.contract_id == contract_id)
                                               .order_by(m.BillingDocument.doc_date.desc())),
            "payment_id": lambda: self._first(select(m.Payment.id).where(m.Payment.contract_id == contract_id)
                                              .order_by(m.Payment.paid_on.desc())),
            "appeal_id": lambda: self._first(select(m.Appeal.id).where(
                (m.Appeal.author_id == user_id) | (m.Appeal.contract_id == contract_id)).order_by(m.Appeal.id)),
            "draft_id": lambda: self._first(select(m.AppealDraft.id).where(m.AppealDraft.author_id == user_id)),
            "notification_id": lambda: self._first(select(m.NotificationDelivery.notification_id)
                                                   .where(m.NotificationDelivery.user_id == user_id)),
            "news_id": lambda: self._first(select(m.News.id).order_by(m.News.id)),
            "service_id": lambda: self._first(select(m.Service.id).order_by(m.Service.id)),
            "order_id": lambda: self._first(select(m.ServiceOrder.id).order_by(m.ServiceOrder.id)),
            "user_id": lambda: user_id,
            "session_id": lambda: self._first(select(m.UserSession.id).where(m.UserSession.user_id == user_id)),
            "pk": lambda: self._pk(endpoint, ctx),
        }
        return simple[name]() if name in simple else None

    def _pk(self, endpoint: str, ctx: dict):
        from crm import models as m

        view_name = endpoint.split(".")[0]
        view = next((v for v in self.app.appbuilder.baseviews if v.__class__.__name__ == view_name), None)
        datamodel = getattr(view, "datamodel", None)
        if datamodel is None:
            return None
        model = datamodel.obj
        if model is m.Contract:
            return ctx["contract_id"]
        if model is m.Counterparty:
            return ctx["counterparty_id"]
        column = getattr(model, datamodel.get_pk_name(), None)
        return self._first(select(column).order_by(column)) if column is not None else None

    def path(self, page: Page, login: str | None, ctx: dict) -> str | None:
        values = {}
        for name in page.rule.arguments:
            value = self.value(name, ctx, page.endpoint) if ctx else None
            if value is None:
                return None
            values[name] = value
        built = page.rule.build(values, append_unknown=False)
        return built[1] if built else None


# --- timing ------------------------------------------------------------------------------------

def sign_in(app, login: str, password: str):
    client = app.test_client()
    if "@" in login:
        response = client.post("/portal/login", data={"login": login, "password": password})
    else:
        response = client.post("/login/", data={"username": login, "password": password})
    if response.status_code != 302:
        print(f"  ! sign-in as {login} answered {response.status_code}", file=sys.stderr)
    return client


def measure(client, path: str, n: int, warmup: int, counter: list[int]) -> tuple[int, list[float], float]:
    status = 0
    for _ in range(warmup):
        status = client.get(path).status_code
    counter[0] = 0
    timings = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
        status = response.status_code
    return status, timings, counter[0] / max(n, 1)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def run_backend(label: str, url: str, args, prepare: bool = True) -> list[Result]:
    from crm.extensions import db
    from crm.services.demo import DEMO_LOGINS

    app, migrated, seeded = build_app(url, prepare)
    if prepare:
        print(f"\n== {label}: migrations + roles {migrated:.2f} s, seed-demo {seeded:.2f} s")
    else:
        print(f"\n== {label}: existing database {make_url(url).render_as_string(hide_password=True)}")
    counter = [0]
    with app.app_context():
        engine = db.engine
    # Measure the app as wsgi.py serves it (start-up objects frozen out of the GC's way).
    from crm.serving import prepare_for_serving

    prepare_for_serving()

    def count(conn, cursor, statement, parameters, context, executemany):
        counter[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    resolver = Resolver(app)
    logins = [(login, password) for login, password, _ in DEMO_LOGINS
              if not args.users or login in args.users or login.split("@")[0] in args.users]
    pages = [p for p in pages_of(app) if not args.only or any(s in p.rule.rule for s in args.only)]
    results: list[Result] = []
    skipped: list[str] = []
    with app.app_context():
        contexts = {login: resolver.context(login) for login, _ in logins}
        staff_ctx = resolver.context("admin")
    anonymous = app.test_client()
    public: set[str] = set()
    for page in pages:
        with app.app_context():
            path = resolver.path(page, None, staff_ctx if page.back_office else contexts.get(
                "director@demo.example", staff_ctx))
        if path and anonymous.get(path).status_code == 200:
            public.add(page.endpoint)
            status, timings, sql = measure(anonymous, path, args.n, args.warmup, counter)
            results.append(Result(path, "anonymous", status, statistics.median(timings), p95(timings), sql))
    for login, password in logins:
        client = sign_in(app, login, password)
        staff = "@" not in login
        for page in pages:
            if page.back_office != staff:
                continue
            with app.app_context():
                path = resolver.path(page, login, contexts[login])
            if path is None:
                skipped.append(f"{page.rule.rule} ({login})")
                continue
            if page.endpoint in public and client.get(path).status_code != 200:
                continue   # a public page that a signed-in user only gets redirected from (sign-in forms)
            status, timings, sql = measure(client, path, args.n, args.warmup, counter)
            results.append(Result(path, login, status, statistics.median(timings), p95(timings), sql))
    event.remove(engine, "before_cursor_execute", count)
    report(label, results, skipped)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return results


def report(label: str, results: list[Result], skipped: list[str]) -> None:
    width = max([len(r.path) for r in results] + [20])
    print(f"{'page':<{width}}  {'user':<24} {'status':>6} {'median ms':>10} {'p95 ms':>8} {'SQL/req':>8}")
    for r in results:
        mark = "  > 50 ms" if r.slow else ""
        print(f"{r.path:<{width}}  {r.user:<24} {r.status:>6} {r.median_ms:>10.1f} {r.p95_ms:>8.1f} "
              f"{r.sql_per_request:>8.1f}{mark}")
    if skipped:
        print(f"skipped (parameters the bench cannot fill): {', '.join(sorted(set(skipped)))}")
    ok = sum(r.status == 200 for r in results)
    slow = sum(r.slow for r in results)
    print(f"{label}: {len(results)} pages, {slow} over 50 ms "
          f"(page × user; {ok} answered 200, {len(results) - ok} answered otherwise)")


# --- scale mode: the issue-8 dataset at several scales (bench.generate --scale) ------------------------

PORTAL_MEDIAN_MS, PORTAL_P95_MS, PORTAL_SQL, GROWTH, DASHBOARD_MS, QUEUE_MS = 15.0, 40.0, 10, 1.25, 150.0, 35.0
SLOW_MS, SLOW_REQUESTS = 1000.0, 3
SCALE_PORTAL_USERS = ("huge_admin", "small_admin", "huge_engineer", "huge_accountant")
SCALE_STAFF_USERS = ("curator", "admin")


@dataclass
class ScaleResult:
    key: str            # route template (comparable between scales)
    path: str
    user: str           # role name from the info file (huge_admin …)
    portal: bool
    status: int
    median_ms: float
    p95_ms: float
    cpu_ms: float
    sql: float
    html: bool = True   # False for file responses (xlsx, pdf, csv, json): listed, not counted as pages


class ScaleResolver(Resolver):
    """Like the demo's, but an appeal the user wrote comes first (an engineer sees only their own)."""

    def value(self, name: str, ctx: dict, endpoint: str):
        if name == "appeal_id":
            from crm import models as m

            own = self._first(select(m.Appeal.id).where(m.Appeal.author_id == ctx["user_id"],
                                                         m.Appeal.contract_id == ctx["contract_id"])
                              .order_by(m.Appeal.id))
            if own is not None:
                return own
        return super().value(name, ctx, endpoint)


def back_office_plan(info: dict, ids: dict) -> list[tuple[str, str]]:
    """(label, path) of the main back-office pages."""
    huge = info["contracts"]["huge"]
    plan = [("home / curator dashboard /admin/", "/admin/"),
            ("appeals desk /admin/appeals/", "/admin/appeals/"),
            ("appeals desk, mine + breached", "/admin/appeals/?assignee=mine&sla=breached"),
            ("appeal card /admin/appeals/<id>", f"/admin/appeals/{ids['appeal']}"),
            ("appeals report /admin/appeals/report/", "/admin/appeals/report/"),
            ("contracts list /admin/contracts/list/", "/admin/contracts/list/"),
            ("contract card (huge) /admin/contracts/show/<pk>", f"/admin/contracts/show/{huge}"),
            ("customer 360 (huge) /admin/customers/<id>", f"/admin/customers/{ids['counterparty']}"),
            ("readings review /admin/readings/review/", "/admin/readings/review/"),
            ("documents /admin/documents/list/", "/admin/documents/list/"),
            ("payments /admin/payments/list/", "/admin/payments/list/"),
            ("customer users /admin/customer-accounts/list/", "/admin/customer-accounts/list/"),
            ("contract roles (huge) /admin/contract-roles/<id>", f"/admin/contract-roles/{huge}"),
            ("notifications /admin/notifications/", "/admin/notifications/")]
    return plan


def timed(client, path: str, n: int, warmup: int, counter: list[int]) -> tuple:
    """status, median ms, p95 ms, median CPU ms, median SQL statements of `n` GETs after `warmup`, and
    whether the answer is an HTML page."""
    status, mimetype = 0, ""
    for _ in range(warmup):
        response = client.get(path)
        status, mimetype = response.status_code, response.mimetype
    times, cpu, sql = [], [], []
    for k in range(n):
        counter[0] = 0
        t0, c0 = time.perf_counter(), time.process_time()
        response = client.get(path)
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        sql.append(counter[0])
        status, mimetype = response.status_code, response.mimetype
        if k >= SLOW_REQUESTS - 1 and statistics.median(times) > SLOW_MS:
            break   # a page taking seconds gets SLOW_REQUESTS timed requests, not n (keeps a full run bounded)
    return (status, statistics.median(times), p95(times), statistics.median(cpu), statistics.median(sql),
            mimetype in ("text/html", ""))


def ensure_scale(scale: float, args) -> dict:
    """The info of an already generated scale (--existing, when its file and database answer), else generate."""
    import json

    from bench import generate

    path = generate.info_path(scale)
    url = args.scale_url.get(scale) or generate.default_scale_url(scale)
    if args.existing_scale and os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            info = json.load(fh)
        if info.get("url") == make_url(url).render_as_string(hide_password=True):
            try:
                from sqlalchemy import create_engine

                engine = create_engine(url)
                with engine.connect() as conn:
                    conn.exec_driver_sql("SELECT count(*) FROM appeal").scalar()
                engine.dispose()
                info["url_full"] = url
                print(f"\n== scale {generate.scale_label(scale)}: existing {info['url']} "
                      f"(generated {info.get('generated_at')})", flush=True)
                return info
            except Exception as error:   # noqa: BLE001 - fall back to generating
                print(f"  existing database unusable ({error.__class__.__name__}); generating", flush=True)
    print(f"\n== scale {generate.scale_label(scale)}: generating into "
          f"{make_url(url).render_as_string(hide_password=True)}", flush=True)
    info = generate.generate(url, scale)
    generate.report_scale(info)
    info["url_full"] = url
    return info


def run_scale(scale: float, args) -> list[ScaleResult]:
    from crm import models as m
    from crm.extensions import db
    from crm.serving import prepare_for_serving

    info = ensure_scale(scale, args)
    app, _, _ = build_app(info["url_full"], prepare=False)
    logins, password = info["logins"], info["password"]
    with app.app_context():
        engine = db.engine
        huge = info["contracts"]["huge"]
        curator_id = db.session.scalar(select(m.CrmUser.id).where(m.CrmUser.username == logins["curator"]))
        ids = {"counterparty": db.session.get(m.Contract, huge).counterparty_id,
               "appeal": db.session.scalar(select(m.Appeal.id).where(m.Appeal.assignee_id == curator_id,
                                                                     m.Appeal.closed_at.is_(None))
                                           .order_by(m.Appeal.id).limit(1))}
        resolver = ScaleResolver(app)
        contexts = {}
        for role in SCALE_PORTAL_USERS:
            ctx = resolver.context(logins[role])
            ctx["contract_id"] = info["contracts"]["small" if role == "small_admin" else "huge"]
            ctx["counterparty_id"] = db.session.get(m.Contract, ctx["contract_id"]).counterparty_id
            ctx["scope"] = list(db.session.scalars(
                select(m.contract_access_object.c.energy_object_id).join(
                    m.ContractAccess, m.ContractAccess.id == m.contract_access_object.c.access_id)
                .where(m.ContractAccess.user_id == ctx["user_id"],
                       m.ContractAccess.contract_id == ctx["contract_id"])))
            contexts[role] = ctx
        db.session.remove()
    prepare_for_serving()
    counter = [0]

    def count(*_args):
        counter[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    portal_pages = [p for p in pages_of(app) if not p.back_office
                    and (not args.only or any(s in p.rule.rule for s in args.only))]
    results: list[ScaleResult] = []
    skipped: list[str] = []
    anonymous = app.test_client()
    public: set[str] = set()
    for page in portal_pages:
        with app.app_context():
            path = resolver.path(page, None, contexts["huge_admin"])
        if path and anonymous.get(path).status_code == 200:
            public.add(page.endpoint)
            results.append(ScaleResult(page.rule.rule, path, "anonymous", True,
                                       *timed(anonymous, path, args.n, args.warmup, counter)))
    for role in SCALE_PORTAL_USERS:
        if args.users and role not in args.users:
            continue
        client = sign_in(app, logins[role], password)
        for page in portal_pages:
            with app.app_context():
                path = resolver.path(page, logins[role], contexts[role])
            if path is None:
                skipped.append(f"{page.rule.rule} ({role})")
                continue
            if page.endpoint in public and client.get(path).status_code != 200:
                continue
            results.append(ScaleResult(page.rule.rule, path, role, True,
                                       *timed(client, path, args.n, args.warmup, counter)))
        print(f"  portal as {role}: done", flush=True)
    for role in SCALE_STAFF_USERS:
        if args.users and role not in args.users:
            continue
        client = sign_in(app, logins[role], password)
        for label, path in back_office_plan(info, ids):
            if args.only and not any(s in path for s in args.only):
                continue
            results.append(ScaleResult(label, path, role, False, *timed(client, path, args.n, args.warmup, counter)))
    event.remove(engine, "before_cursor_execute", count)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    print_scale_table(scale, results, skipped)
    return results


def _marks(r: ScaleResult) -> str:
    marks = []
    if r.status != 200:
        marks.append(f"HTTP {r.status}")
    if r.portal and r.status == 200 and not r.html:
        marks.append("file")
    if r.portal and r.status == 200 and r.html:
        if r.median_ms > PORTAL_MEDIAN_MS:
            marks.append(f"median > {PORTAL_MEDIAN_MS:g}")
        if r.p95_ms > PORTAL_P95_MS:
            marks.append(f"p95 > {PORTAL_P95_MS:g}")
        if r.sql > PORTAL_SQL:
            marks.append(f"SQL > {PORTAL_SQL}")
    return ", ".join(marks)


def print_scale_table(scale: float, results: list[ScaleResult], skipped: list[str]) -> None:
    from bench.generate import scale_label

    width = max([len(r.path) for r in results] + [20])
    print(f"\n-- scale {scale_label(scale)}: median / p95 wall ms, median CPU ms of this process, SQL per request")
    print(f"{'page':<{width}}  {'user':<16} {'status':>6} {'median':>7} {'p95':>7} {'CPU':>7} {'SQL':>5}  notes")
    for r in results:
        print(f"{r.path:<{width}}  {r.user:<16} {r.status:>6} {r.median_ms:>7.1f} {r.p95_ms:>7.1f} {r.cpu_ms:>7.1f} "
              f"{r.sql:>5.0f}  {_marks(r)}")
    if skipped:
        print(f"skipped (parameters the bench cannot fill): {', '.join(sorted(set(skipped)))}")
    bad = [r for r in results if r.status >= 500]
    print(f"scale {scale_label(scale)}: {len(results)} page × user, {sum(r.status == 200 for r in results)} "
          f"answered 200, {len(bad)} answered 5xx")


def compare_scales(by_scale: dict[float, list[ScaleResult]]) -> None:
    """Growth table (largest scale vs smallest) and the RESULT lines for the issue's targets."""
    from bench.generate import scale_label

    scales = sorted(by_scale)
    low, high = scales[0], scales[-1]
    big = {(r.key, r.user): r for r in by_scale[high]}
    small = {(r.key, r.user): r for r in by_scale[low]}
    lo, hi = scale_label(low), scale_label(high)
    growth: dict[tuple[str, str], float] = {}
    if len(scales) > 1:
        width = max([len(k[0]) for k in big] + [20])
        print(f"\n-- growth of the median, scale {hi} / scale {lo}")
        print(f"{'page':<{width}}  {'user':<16} {lo + ' ms':>9} {hi + ' ms':>9} {'ratio':>6} "
              f"{'SQL ' + lo:>7} {'SQL ' + hi:>7}")
        for key, r in big.items():
            s = small.get(key)
            if s is None or r.status != 200 or s.status != 200:
                continue
            growth[key] = r.median_ms / max(s.median_ms, 1e-6)
            flag = "  > 1.25×" if r.portal and r.html and growth[key] > GROWTH else ""
            print(f"{key[0]:<{width}}  {key[1]:<16} {s.median_ms:>9.1f} {r.median_ms:>9.1f} {growth[key]:>6.2f} "
                  f"{s.sql:>7.0f} {r.sql:>7.0f}{flag}")
    portal = [r for r in by_scale[high] if r.portal and r.status == 200 and r.html]
    total = len(portal)
    print()

    def summary(figure: str, passed: int, of: int) -> None:
        print(f"RESULT | {figure} | {passed} of {of} | all | {'met' if passed == of else 'MISSED'}")

    def who(r: ScaleResult) -> str:
        return f"{r.key} as {r.user}"

    summary(f"portal pages with median ≤ 15 ms at scale {hi}", sum(r.median_ms <= PORTAL_MEDIAN_MS for r in portal),
            total)
    summary(f"portal pages with p95 ≤ 40 ms at scale {hi}", sum(r.p95_ms <= PORTAL_P95_MS for r in portal), total)
    summary(f"portal pages with ≤ 10 SQL statements at scale {hi}", sum(r.sql <= PORTAL_SQL for r in portal), total)
    portal_growth = {k: g for k, g in growth.items() if big[k].portal and big[k].html}
    if portal_growth:
        summary(f"portal pages growing ≤ 1.25× from scale {lo} to {hi}",
                sum(g <= GROWTH for g in portal_growth.values()), len(portal_growth))
    # One line per portal page (route) that misses a target, with its worst user.
    routes: dict[str, list[ScaleResult]] = {}
    for r in portal:
        routes.setdefault(r.key, []).append(r)
    for key, rows in routes.items():
        worst = max(rows, key=lambda r: r.median_ms)
        high_p95 = max(r.p95_ms for r in rows)
        most_sql = max(r.sql for r in rows)
        if worst.median_ms > PORTAL_MEDIAN_MS or high_p95 > PORTAL_P95_MS or most_sql > PORTAL_SQL:
            print(f"RESULT | portal {key} (scale {hi}, worst of {len(rows)}: {worst.user}) | median "
                  f"{worst.median_ms:.1f} ms, p95 {high_p95:.1f} ms, {most_sql:.0f} SQL | ≤ 15 ms, ≤ 40 ms, ≤ 10 SQL "
                  f"| MISSED")
    grown: dict[str, tuple[float, str]] = {}
    for (key, user), g in portal_growth.items():
        if g > GROWTH and g > grown.get(key, (0.0, ""))[0]:
            grown[key] = (g, user)
    for key, (g, user) in grown.items():
        print(f"RESULT | portal {key} growth scale {lo}→{hi} (worst: {user}) | {g:.2f}× | ≤ 1.25× | MISSED")
    files: dict[str, ScaleResult] = {}
    for r in by_scale[high]:
        if r.portal and r.status == 200 and not r.html and (r.key not in files
                                                             or r.median_ms > files[r.key].median_ms):
            files[r.key] = r
    for key, r in files.items():
        g = growth.get((key, r.user))
        extra = f", ×{g:.2f} vs scale {lo}" if g else ""
        print(f"RESULT | portal file {key} (scale {hi}, worst: {r.user}) | {r.median_ms:.1f} ms{extra} | — | info")
    failing = [r for r in by_scale[high] if r.status >= 500]
    for r in failing:
        print(f"RESULT | {'portal' if r.portal else 'back office'} {who(r)} (scale {hi}) | HTTP {r.status} | 200 | "
              "MISSED")
    office: dict[str, dict[str, ScaleResult]] = {}
    for r in by_scale[high]:
        if not r.portal:
            office.setdefault(r.key, {})[r.user] = r
    for key, users in office.items():
        curator = users.get("curator")
        if key.startswith("home / curator dashboard") and curator and curator.status == 200:
            verdict = "met" if curator.median_ms <= DASHBOARD_MS else "MISSED"
            print(f"RESULT | curator dashboard /admin/ as curator median (scale {hi}) | {curator.median_ms:.1f} ms | "
                  f"≤ 150 ms | {verdict}")
        if key == "appeals desk /admin/appeals/" and curator and curator.status == 200:
            verdict = "met" if curator.median_ms <= QUEUE_MS else "MISSED"
            print(f"RESULT | curator queue /admin/appeals/ median (pages bench, scale {hi}) | "
                  f"{curator.median_ms:.1f} ms | ≤ 35 ms | {verdict}")
        parts = []
        for user, r in users.items():
            if r.status != 200:
                parts.append(f"{user} HTTP {r.status}")
                continue
            g = growth.get((key, user))
            parts.append(f"{user} {r.median_ms:.1f} ms ({r.sql:.0f} SQL" + (f", ×{g:.2f}" if g else "") + ")")
        print(f"RESULT | back office {key} median (scale {hi}) | {'; '.join(parts)} | — | info")


def run_scales(args) -> int:
    by_scale = {}
    for scale in args.scale:
        by_scale[scale] = run_scale(scale, args)
    compare_scales(by_scale)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", metavar="URL", help="also run on this PostgreSQL database (dropped and recreated)")
    parser.add_argument("--force-drop", action="store_true", help="allow --pg on a name without 'bench'")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite run")
    parser.add_argument("--existing", metavar="URL", nargs="?", const=True,
                        help="demo mode: also run on this database as it is (e.g. made by `bench.generate "
                             "--with-demo`); with --scale and no URL: reuse each scale's database and "
                             "instance/bench-scale-<scale>.json when they exist")
    parser.add_argument("--scale", type=float, nargs="+", metavar="SCALE",
                        help="scale mode: generate (or reuse) the issue-8 dataset at each scale, e.g. "
                             "--scale 0.1 1, and time the portal and main back-office pages on it")
    parser.add_argument("--scale-url", nargs="*", default=[], metavar="SCALE=URL",
                        help="database per scale (default crm_bench_scale_<scale> on local PostgreSQL)")
    parser.add_argument("-n", type=int, default=30, help="timed requests per page and user (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests first (default 3)")
    parser.add_argument("--only", nargs="*", help="only paths containing one of these strings")
    parser.add_argument("--users", nargs="*", help="only these demo logins (e.g. admin director)")
    args = parser.parse_args(argv)
    os.environ.setdefault("CRM_CONFIG", "test")
    logging.basicConfig(level=logging.WARNING)
    if args.scale:
        logging.disable(logging.WARNING)   # PDF pages log font subsetting and anchor warnings per request
        args.existing_scale = args.existing is True
        args.scale_url = {float(k): v for k, v in (item.split("=", 1) for item in args.scale_url)}
        if "-n" not in (argv if argv is not None else sys.argv):
            args.n = 20
        return run_scales(args)
    if args.existing is True:
        parser.error("--existing needs a URL outside --scale mode")
    summaries = []
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp:
            results = run_backend("SQLite", f"sqlite:///{tmp}/bench.sqlite", args)
            summaries.append(("SQLite", results))
    if args.pg:
        recreate_postgres(args.pg, args.force_drop)
        summaries.append(("PostgreSQL", run_backend("PostgreSQL", args.pg, args)))
    if args.existing:
        summaries.append(("existing", run_backend("existing", args.existing, args, prepare=False)))
    print()
    for label, results in summaries:
        slow = sum(r.slow for r in results)
        print(f"SUMMARY {label}: {len(results)} pages, {slow} over 50 ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
