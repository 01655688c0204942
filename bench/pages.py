"""Time every page of the back office and the portal on the demo data (`make bench`).

    python -m bench.pages [--pg postgresql+psycopg://postgres@127.0.0.1:5432/crm_bench] [-n 30]

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", metavar="URL", help="also run on this PostgreSQL database (dropped and recreated)")
    parser.add_argument("--force-drop", action="store_true", help="allow --pg on a name without 'bench'")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite run")
    parser.add_argument("--existing", metavar="URL",
                        help="also run on this database as it is (e.g. made by `bench.generate --with-demo`)")
    parser.add_argument("-n", type=int, default=30, help="timed requests per page and user (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests first (default 3)")
    parser.add_argument("--only", nargs="*", help="only paths containing one of these strings")
    parser.add_argument("--users", nargs="*", help="only these demo logins (e.g. admin director)")
    args = parser.parse_args(argv)
    os.environ.setdefault("CRM_CONFIG", "test")
    logging.basicConfig(level=logging.WARNING)
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
