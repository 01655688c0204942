"""Time the settlements, reconciliation-act and documents pages on a contract with five years of monthly
documents and payments (issue 5, acceptance 6; target ≤ 30 ms).

    .venv/bin/python -m bench.settlements [--pg postgresql+psycopg://postgres@127.0.0.1:5432/crm_bench_settlements]
                                          [-n 30] [--years 5] [--no-sqlite]

Per backend (a fresh SQLite file; PostgreSQL too with --pg — that database is dropped and recreated, so
its name must contain "bench"): migrations, roles, then one contract with `--years` × 12 months of two
current-consumption bills, an invoice, an acceptance act, a corrective invoice every quarter, a penalty
claim and a reconciliation act every half year, three payments a month (the last months partly unpaid);
an accountant signs in through the portal. Each page gets 3 untimed requests, then `-n` timed ones
through Flask's test client. Printed: path, status, median and p95 ms, SQL statements per request.
"""
from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import event, insert

TARGET_MS = 30.0
PASSWORD = "Bench2026pass"


def build(url: str, years: int):
    """The app on `url` with the roles and the five-year contract; returns (app, contract id, login)."""
    from flask_migrate import upgrade

    from app import create_app
    from crm import clock
    from crm.extensions import db
    from crm.models import BillingDocument, Payment, PaymentTerm
    from crm.services.roles import sync_roles
    from tests import factories as f

    app = create_app({"CRM_CONFIG": "test", "SQLALCHEMY_DATABASE_URI": url, "TESTING": False, "DEBUG": False,
                      "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})
    with app.app_context():
        upgrade()
        sync_roles(app.appbuilder)
        logging.getLogger("alembic").setLevel(logging.WARNING)
        today = clock.today()
        first = date(today.year - years, today.month, 1)
        contract = f.contract(opening_balance=Decimal("0.00"), opening_balance_on=first)
        contract.payment_terms = [PaymentTerm(kind="advance", day_of_month=10, month_offset=0, percent=Decimal("30")),
                                  PaymentTerm(kind="advance", day_of_month=25, month_offset=0, percent=Decimal("40")),
                                  PaymentTerm(kind="final", day_of_month=18, month_offset=1)]
        docs, pays = [], []
        months = years * 12
        for k in range(months + 1):
            index = first.year * 12 + first.month - 1 + k
            period = date(index // 12, index % 12 + 1, 1)
            nxt = date((index + 1) // 12, (index + 1) % 12 + 1, 1)
            last_day = nxt - timedelta(days=1)
            total = Decimal(250000 + (k * 7919) % 90000) + Decimal(k % 100) / 100
            unpaid = k >= months - 1
            base = dict(contract_id=contract.id, period=period)

            def doc(doc_type, number, day, amount, due=Decimal("0.00"), base=base, **kw):
                docs.append(dict(base, doc_type=doc_type, number=number, doc_date=day, amount=amount,
                                 amount_due=due, sale_kind=kw.get("sale_kind", "main")))

            bill1, bill2 = (total * Decimal("0.3")).quantize(Decimal("0.01")), (total * Decimal("0.4")).quantize(
                Decimal("0.01"))
            doc("bill", f"С-{k}-1", period, bill1, bill1 if unpaid else Decimal("0.00"), sale_kind="advance")
            doc("bill", f"С-{k}-2", period.replace(day=16), bill2, bill2 if unpaid else Decimal("0.00"),
                sale_kind="advance")
            if last_day <= today:
                doc("invoice", f"СФ-{k}", last_day, total, total - bill1 - bill2 if unpaid else Decimal("0.00"))
                doc("acceptance_act", f"АПП-{k}", last_day, total)
            if k % 3 == 2 and last_day <= today:
                doc("corrective_invoice", f"СФ-{k}-К", last_day, Decimal("-1234.56"))
            if k % 6 == 5 and last_day <= today:
                doc("penalty_claim", f"П-{k}", last_day, Decimal("812.40"), Decimal("812.40") if k > months - 12
                    else Decimal("0.00"), sale_kind="penalty")
                doc("reconciliation_act", f"АС-{k}", last_day, Decimal("0.00"))
            if not unpaid:
                for n, (day, amount) in enumerate(((10, bill1), (25, bill2), (18, total - bill1 - bill2))):
                    paid_on = (nxt if n == 2 else period).replace(day=day)
                    if paid_on <= today:
                        pays.append(dict(contract_id=contract.id, paid_on=paid_on, amount=amount, status="paid",
                                         channel="bank", number=f"{k}{n}", bank="ПАО Сбербанк"))
        db.session.execute(insert(BillingDocument), docs)
        db.session.execute(insert(Payment), pays)
        user = f.user("accountant@bench.example", password=PASSWORD)
        f.grant(user, contract, "accountant")
        db.session.commit()
        print(f"  contract {contract.number}: {len(docs)} documents, {len(pays)} payments, {months} months")
        return app, contract.id, user.email, today


def measure(app, login: str, paths: list[str], n: int) -> list[tuple[str, int, float, float, float]]:
    from crm.extensions import db

    client = app.test_client()
    response = client.post("/portal/login", data={"login": login, "password": PASSWORD})
    assert response.status_code == 302, "sign-in failed"
    with app.app_context():
        engine = db.engine
    count = {"n": 0}

    def before(*_args):
        count["n"] += 1

    event.listen(engine, "before_cursor_execute", before)
    results = []
    try:
        for path in paths:
            for _ in range(3):
                client.get(path)
            times = []
            count["n"] = 0
            status = 0
            for _ in range(n):
                started = time.perf_counter()
                status = client.get(path).status_code
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
            results.append((path, status, statistics.median(times), p95, count["n"] / n))
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return results


def run(url: str, label: str, years: int, n: int) -> None:
    from crm.serving import prepare_for_serving

    print(f"\n== {label}")
    app, contract_id, login, today = build(url, years)
    prepare_for_serving()  # as wsgi.py and `flask crm serve` do (bench/README.md, "Serving setup")
    base = f"/portal/contracts/{contract_id}"
    five_years = f"date_from={date(today.year - years, today.month, 1).isoformat()}&date_to={today.isoformat()}"
    paths = [f"{base}/settlements", f"{base}/reconciliation", f"{base}/reconciliation?{five_years}",
             f"{base}/documents", f"{base}/documents?doc_type=all&{five_years}", f"{base}/payments"]
    results = measure(app, login, paths, n)
    width = max(len(p) for p, *_ in results)
    print(f"  {'path':<{width}}  status  median ms  p95 ms  SQL/request")
    over = 0
    for path, status, median, p95, sql in results:
        flag = f"  > {TARGET_MS:.0f} ms" if median > TARGET_MS else ""
        over += bool(flag)
        print(f"  {path:<{width}}  {status:>6}  {median:>9.1f}  {p95:>6.1f}  {sql:>11.1f}{flag}")
    print(f"SUMMARY {label}: {len(results)} pages, {over} over {TARGET_MS:.0f} ms")
    # The machine-readable lines bench/all.py collects (issue 5: each page ≤ 30 ms): a summary, then each miss.
    bad = [(path, status, median) for path, status, median, _p95, _sql in results
           if status != 200 or median > TARGET_MS]
    span = f"{years} year{'s' if years != 1 else ''}"
    print(f"RESULT | settlements, act and documents pages with median ≤ {TARGET_MS:g} ms, {span} ({label}) | "
          f"{len(results) - len(bad)} of {len(results)} | all | {'MISSED' if bad else 'met'}")
    for path, status, median in bad:
        print(f"RESULT | {path.replace(base, '…')} median ({label}) | "
              f"{f'{median:.1f} ms' if status == 200 else f'HTTP {status}'} | ≤ {TARGET_MS:g} ms | MISSED")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", help="PostgreSQL URL (dropped and recreated; its name must contain 'bench')")
    parser.add_argument("-n", type=int, default=30)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not args.no_sqlite:
        run(f"sqlite:///{tempfile.mkdtemp(prefix='crm-bench-settlements-')}/bench.sqlite", "sqlite", args.years,
            args.n)
    if args.pg:
        from bench.pages import recreate_postgres

        recreate_postgres(args.pg, force=False)
        run(args.pg, "postgresql", args.years, args.n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
