"""Generate a LARGE realistic dataset for benchmarks, with bulk inserts.

    python -m bench.generate --contracts 2000 --meters-per-contract 10 --months 24 \
        [--database-url sqlite:///instance/bench-large.sqlite] [--fresh]

Per contract: a counterparty (valid INN), a 14-digit contract number, e-mail, payment terms, objects
with metering points and meters (1–3 registers), `--months` of accepted monthly readings per
register (consumption = Δ × ratio × (1 + losses/100)), an invoice, two advance bills and an
acceptance act per month, payments for all but the latest bills of some contracts, and one customer
user (`bench<N>@bench.example`, password Bench2026pass) as the contract's administrator.
The database is migrated (and `crm init` run) first; `--fresh` starts from an empty one (a
PostgreSQL database is dropped and recreated: its name must contain "bench"); `--with-demo` also
loads the demo, so `python -m bench.pages --no-sqlite --existing URL` times the demo logins' pages
on the large data. Rows go in with
executemany INSERT … RETURNING per batch of contracts, one transaction per batch.
"""
from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.engine import make_url

from crm.services.demo_billing import add_months

PASSWORD = "Bench2026pass"
RATE = Decimal("7.48210")
VAT = Decimal("1.2")
CENT = Decimal("0.01")
Q4 = Decimal("0.0001")
ZONES = {1: [("all_day", 1.0)], 2: [("day", 0.68), ("night", 0.32)],
         3: [("peak", 0.27), ("semi_peak", 0.45), ("night", 0.28)]}
OBJECT_NAMES = ("Административное здание", "Производственный цех", "Склад", "Котельная", "Гараж", "Магазин",
                "Офис", "Насосная станция", "Компрессорная", "Мастерская")
STREETS = ("ул. Ленина", "ул. Советская", "пр-т Победы", "ул. Кирова", "Петербургское шоссе", "ул. Гагарина")


def _months(first, count):
    """`count` first-of-month dates starting with the month of `first`."""
    return [add_months(first, k) for k in range(count)]


def _insert(conn, table, rows, returning=False):
    if not rows:
        return []
    if returning:
        return conn.execute(table.insert().returning(table.c.id, sort_by_parameter_order=True), rows).scalars().all()
    conn.execute(table.insert(), rows)
    return []


def _prepare(url: str, fresh: bool):
    from flask_migrate import upgrade

    from app import create_app
    from bench.pages import recreate_postgres
    from crm.services.roles import sync_roles

    parsed = make_url(url)
    if fresh:
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and os.path.exists(parsed.database):
                os.remove(parsed.database)
        else:
            recreate_postgres(url, force=False)
    app = create_app({"CRM_CONFIG": "test", "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        sync_roles(app.appbuilder)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return app


class Generator:
    def __init__(self, conn, args, rng: random.Random):
        from werkzeug.security import generate_password_hash

        from crm import clock
        from crm.models import Branch

        self.conn, self.args, self.rng = conn, args, rng
        self.today = clock.today()
        # Like the demo: accepted history ends with the month before the open (previous) period.
        self.periods = _months(add_months(self.today, -(args.months + 1)), args.months)
        self.password = generate_password_hash(PASSWORD)
        self.branch_ids = list(conn.execute(select(Branch.id)).scalars())
        if not self.branch_ids:
            self.branch_ids = _insert(conn, Branch.__table__, [
                dict(code=f"{80 + i}", name=f"Филиал № {i + 1}", address=f"г. Тверь, ул. Промышленная, д. {i + 1}",
                     phone=f"+7 (4822) 30-00-0{i}", working_hours="пн–пт 8:00–17:00") for i in range(3)],
                returning=True)
        self.counts: dict[str, int] = {}

    def count(self, table: str, n: int) -> None:
        self.counts[table] = self.counts.get(table, 0) + n

    def batch(self, numbers: list[int]) -> None:
        from flask_appbuilder.security.sqla.models import Role, assoc_user_role

        from crm.models import (
            BillingDocument,
            Contract,
            ContractAccess,
            ContractEmail,
            Counterparty,
            CrmUser,
            EnergyObject,
            Meter,
            MeteringPoint,
            Payment,
            PaymentTerm,
            Reading,
            Register,
        )
        from crm.validators import complete_inn

        rng, conn = self.rng, self.conn
        customer_role = conn.execute(select(Role.id).where(Role.name == "Customer")).scalar_one()
        cp_ids = _insert(conn, Counterparty.__table__, [dict(
            person_type="legal", full_name=f"Общество с ограниченной ответственностью «Бенч-{n}»",
            short_name=f"ООО «Бенч-{n}»", inn=complete_inn(f"77{n:07d}"), kpp=f"77{n % 100:02d}01001",
            partner_code=f"3{n:09d}", legal_address=f"г. Тверь, {rng.choice(STREETS)}, д. {n % 150 + 1}")
            for n in numbers], returning=True)
        contract_rows = []
        for n, cp_id in zip(numbers, cp_ids, strict=True):
            signed = self.periods[0] - timedelta(days=rng.randint(30, 3000))
            contract_rows.append(dict(
                number=f"77{n:012d}", account_number=f"77{n:010d}", counterparty_id=cp_id,
                branch_id=rng.choice(self.branch_ids), kind="electricity", status="active", signed_on=signed,
                starts_on=signed, price_category=rng.choice(("I", "II", "III", "IV")),
                opening_balance=Decimal(0), opening_balance_on=self.periods[0]))
        contract_ids = _insert(conn, Contract.__table__, contract_rows, returning=True)
        _insert(conn, ContractEmail.__table__, [dict(contract_id=c, email=f"bench{n}@bench.example")
                                                for n, c in zip(numbers, contract_ids, strict=True)])
        terms = (("advance", 10, 0, Decimal(30)), ("advance", 25, 0, Decimal(40)), ("final", 18, 1, None))
        _insert(conn, PaymentTerm.__table__, [
            dict(contract_id=c, kind=k, day_of_month=d, month_offset=o, percent=p) for c in contract_ids
            for k, d, o, p in terms])
        # Objects: one per two meters; each meter has its own metering point.
        per_object = 2
        object_rows, object_contract = [], []
        for c in contract_ids:
            for k in range((self.args.meters_per_contract + per_object - 1) // per_object):
                object_rows.append(dict(contract_id=c, code=f"{c:06d}{k + 1:03d}",
                                        name=f"{rng.choice(OBJECT_NAMES)} № {k + 1}",
                                        address=f"г. Тверь, {rng.choice(STREETS)}, д. {rng.randint(1, 200)}",
                                        status="waiting"))
                object_contract.append(c)
        object_ids = _insert(conn, EnergyObject.__table__, object_rows, returning=True)
        objects_of: dict[int, list[int]] = {}
        for o, c in zip(object_ids, object_contract, strict=True):
            objects_of.setdefault(c, []).append(o)
        point_rows, meter_plan = [], []
        for c in contract_ids:
            for m in range(self.args.meters_per_contract):
                ratio = Decimal(rng.choice((1, 1, 20, 40, 80)))
                losses = Decimal(0) if ratio == 1 else Decimal(rng.choice(("0.8", "1.25", "2.4")))
                point_rows.append(dict(energy_object_id=objects_of[c][m // per_object], name=f"Ввод № {m + 1}",
                                       voltage_level="НН" if ratio <= 20 else "СН2", losses_percent=losses,
                                       transformation_ratio=ratio))
                meter_plan.append((c, ratio, losses, rng.choice((1, 1, 1, 2, 2, 3)),
                                   rng.uniform(800, 40000)))
        point_ids = _insert(conn, MeteringPoint.__table__, point_rows, returning=True)
        meter_ids = _insert(conn, Meter.__table__, [dict(
            metering_point_id=p, serial=str(rng.randint(10_000_000, 99_999_999)), model="Меркурий 234 ARTM-03",
            digits_integer=8, digits_fraction=2, verification_date=self.today - timedelta(days=rng.randint(100, 3000)),
            status="waiting", interval_metering=False) for p in point_ids], returning=True)
        register_rows, register_plan = [], []
        for meter_id, (c, ratio, losses, zones, kwh) in zip(meter_ids, meter_plan, strict=True):
            for position, (zone, share) in enumerate(ZONES[zones]):
                register_rows.append(dict(meter_id=meter_id, zone=zone, direction="A+", position=position))
                register_plan.append((c, ratio * (1 + losses / 100), kwh * share))
        register_ids = _insert(conn, Register.__table__, register_rows, returning=True)
        readings, charges = [], {}
        for register_id, (c, multiplier, kwh) in zip(register_ids, register_plan, strict=True):
            value = Decimal(rng.randint(1000, 500000))
            for period in self.periods:
                raw = (Decimal(str(kwh * rng.uniform(0.85, 1.15))) / multiplier).quantize(CENT)
                consumption = (raw * multiplier).quantize(Q4, rounding=ROUND_HALF_UP)
                at = datetime(period.year + period.month // 12, period.month % 12 + 1, 20, 9, tzinfo=UTC)
                readings.append(dict(register_id=register_id, period=period, value=value + raw, previous_value=value,
                                     consumption=consumption, rollover=False, source="billing", status="accepted",
                                     submitted_at=at, reviewed_at=at + timedelta(days=1)))
                charges[(c, period)] = charges.get((c, period), Decimal(0)) + consumption
                value += raw
        _insert(conn, Reading.__table__, readings)
        docs, doc_pay = [], []
        for c in contract_ids:
            debtor = rng.random() < 0.2
            for i, period in enumerate(self.periods):
                amount = (charges[(c, period)] * RATE * VAT).quantize(CENT, rounding=ROUND_HALF_UP)
                latest = i == len(self.periods) - 1
                for pct, day in ((Decimal("0.3"), 10), (Decimal("0.4"), 25)):
                    bill = (amount * pct).quantize(CENT)
                    unpaid = debtor and latest
                    docs.append(dict(contract_id=c, doc_type="bill", number=f"{c}-{i}-{day}", period=period,
                                     doc_date=period.replace(day=day) - timedelta(days=9), sale_kind="advance",
                                     amount=bill, amount_due=bill if unpaid else Decimal(0),
                                     due_date=period.replace(day=day)))
                    doc_pay.append(None if unpaid else (c, bill, period.replace(day=day) - timedelta(days=2)))
                end = add_months(period, 1) - timedelta(days=1)
                rest = amount - (amount * Decimal("0.3")).quantize(CENT) - (amount * Decimal("0.4")).quantize(CENT)
                unpaid = debtor and latest
                due = add_months(period, 1).replace(day=18)
                docs.append(dict(contract_id=c, doc_type="invoice", number=f"{c}-{i}-inv", period=period, doc_date=end,
                                 sale_kind="main", amount=amount, amount_due=rest if unpaid else Decimal(0),
                                 due_date=due))
                doc_pay.append(None if unpaid else (c, rest, min(due, self.today) - timedelta(days=1)))
                docs.append(dict(contract_id=c, doc_type="acceptance_act", number=f"{c}-{i}-act", period=period,
                                 doc_date=end, sale_kind="main", amount=amount, amount_due=Decimal(0),
                                 due_date=None))
                doc_pay.append(None)
        doc_ids = _insert(conn, BillingDocument.__table__, docs, returning=True)
        payments = [dict(contract_id=p[0], document_id=d, bank="ПАО Сбербанк", number=str(d), paid_on=p[2],
                         amount=p[1], status="paid", channel="bank", purpose=f"Оплата по счёту № {d}")
                    for d, p in zip(doc_ids, doc_pay, strict=True) if p is not None]
        _insert(conn, Payment.__table__, payments)
        user_ids = _insert(conn, CrmUser.__table__, [dict(
            first_name="Иван", last_name=f"Бенчев-{n}", username=f"bench{n}@bench.example",
            email=f"bench{n}@bench.example", password=self.password, active=True,
            email_confirmed_at=datetime.now(UTC)) for n in numbers], returning=True)
        _insert(conn, assoc_user_role, [dict(user_id=u, role_id=customer_role) for u in user_ids])
        now = datetime.now(UTC)
        _insert(conn, ContractAccess.__table__, [dict(user_id=u, contract_id=c, role="administrator", granted_at=now,
                                                      confirmed_at=now)
                                                 for u, c in zip(user_ids, contract_ids, strict=True)])
        for name, n in (("contract", len(contract_ids)), ("energy_object", len(object_ids)),
                        ("meter", len(meter_ids)), ("register", len(register_ids)), ("reading", len(readings)),
                        ("billing_document", len(docs)), ("payment", len(payments)), ("ab_user", len(user_ids))):
            self.count(name, n)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate a large benchmark dataset with bulk inserts.")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL",
                                                                 "sqlite:///instance/bench-large.sqlite"))
    parser.add_argument("--contracts", type=int, default=2000)
    parser.add_argument("--meters-per-contract", type=int, default=10)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--batch", type=int, default=100, help="contracts per transaction")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fresh", action="store_true", help="start from an empty database")
    parser.add_argument("--with-demo", action="store_true",
                        help="also load the demo (its logins then work on the large data: bench.pages --existing)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    url = args.database_url
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        os.makedirs(os.path.dirname(os.path.abspath(url[len("sqlite:///"):])), exist_ok=True)
    app = _prepare(url, args.fresh)
    from crm.extensions import db
    from crm.models import Counterparty

    rng = random.Random(args.seed)
    started = time.perf_counter()
    with app.app_context():
        if args.with_demo:
            from crm.services.demo import demo_loaded, seed_demo

            if not demo_loaded():
                seed_demo()
        engine = db.engine
        with engine.connect() as conn:
            first = (conn.execute(select(Counterparty.id).order_by(Counterparty.id.desc()).limit(1)).scalar() or 0) + 1
        generator = None
        for offset in range(0, args.contracts, args.batch):
            numbers = list(range(first + offset, first + min(args.contracts, offset + args.batch)))
            with engine.begin() as conn:
                if generator is None:
                    generator = Generator(conn, args, rng)
                generator.conn = conn
                generator.batch(numbers)
            done = offset + len(numbers)
            elapsed = time.perf_counter() - started
            print(f"\r{done}/{args.contracts} contracts, {elapsed:.1f} s", end="", flush=True)
    elapsed = time.perf_counter() - started
    total = sum(generator.counts.values()) if generator else 0
    backend = make_url(url).get_backend_name()
    print(f"\nGenerated in {elapsed:.1f} s ({total / max(elapsed, 1e-9):,.0f} rows/s) on {backend}:")
    for name, n in (generator.counts if generator else {}).items():
        print(f"  {name:<18} {n:>10,}")
    print(f"Customer logins: bench<N>@bench.example / {PASSWORD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
