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
import json
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


# --- scale mode: the issue-8 dataset (10 000 contracts … at scale 1), bulk-loaded --------------------

SCALE_TARGETS = {            # rows at scale 1; every count is multiplied by --scale
    "contracts": 10_000, "users": 20_000, "objects": 30_000, "meters": 60_000, "readings": 2_000_000,
    "documents_and_payments": 1_000_000, "appeals": 100_000, "messages": 500_000, "deliveries": 1_000_000,
}
HUGE_SHARE = 0.015           # the largest contract holds 1.5 % of all meters, at every scale
BRANCH_WEIGHTS = (0.40, 0.25, 0.15, 0.12, 0.08)
EXTRA_ROLES = (("manager", 0.3), ("power_engineer", 0.4), ("accountant", 0.3))
KNOWN = {"huge_admin": "huge-admin@bench.example", "small_admin": "small-admin@bench.example",
         "huge_engineer": "huge-engineer@bench.example", "huge_accountant": "huge-accountant@bench.example",
         "curator": "curator@bench.example", "admin": "admin@bench.example"}
FIRST_NAMES = ("Иван", "Мария", "Пётр", "Анна", "Сергей", "Ольга", "Алексей", "Елена", "Дмитрий", "Наталья")
LAST_NAMES = ("Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков")
APPEAL_TITLES = ("Не принимаются показания", "Вопрос по счёту за электроэнергию", "Изменение реквизитов",
                 "Заключение договора энергоснабжения", "Предоставление роли «Администратор»",
                 "Ошибка в акте сверки", "Перерасчёт по прибору учёта", "Замена прибора учёта",
                 "Отключение электроэнергии", "Доступ к порталу")
MESSAGE_BODIES = ("Добрый день! Прошу разобраться с вопросом по договору.", "Направляем документы во вложении.",
                  "Обращение принято в работу, ответим в течение двух рабочих дней.",
                  "Пришлите, пожалуйста, фото табло прибора учёта.", "Спасибо, вопрос решён.",
                  "Проверили данные, расхождение устранено.")
NOTICE_SUBJECTS = ("Открыт приём показаний", "Изменение режима работы филиалов", "Новые тарифы",
                   "Плановые технические работы", "Счета за месяц — в личном кабинете",
                   "Напоминание об оплате", "Новая редакция договора энергоснабжения")


def scale_label(scale: float) -> str:
    """1 → "1", 0.1 → "0.1" (file names) ."""
    return f"{scale:g}"


def default_scale_url(scale: float) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/crm_bench_scale_{scale_label(scale).replace('.', '_')}"


def info_path(scale: float) -> str:
    """Where `generate()` writes the logins and ids of a scale (instance/bench-scale-<scale>.json)."""
    root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "instance")
    return os.path.join(root, f"bench-scale-{scale_label(scale)}.json")


def zipf_sizes(total: int, n: int, share: float) -> list[int]:
    """`total` split over `n` items by rank^-s (at least 1 each), s chosen so item 0 gets ≈ `share`."""
    if n <= 0:
        return []
    def weights(s):
        raw = [(i + 1) ** -s for i in range(n)]
        h = sum(raw)
        return [w / h for w in raw]
    low, high = 0.0, 3.0
    if share * n <= 1:
        high = 0.0
    for _ in range(40):
        mid = (low + high) / 2
        if weights(mid)[0] < share:
            low = mid
        else:
            high = mid
    w = weights(high)
    sizes = [max(1, int(total * x)) for x in w]
    diff = total - sum(sizes)
    order = sorted(range(n), key=lambda i: -(total * w[i] - int(total * w[i])))
    k = 0
    while diff > 0:
        sizes[order[k % n]] += 1
        diff -= 1
        k += 1
    k = 0
    while diff < 0 and k < 10 * n:
        i = k % n
        if sizes[i] > 1:
            sizes[i] -= 1
            diff += 1
        k += 1
    return sizes


def _cum(weights) -> list[float]:
    out, acc = [], 0.0
    for w in weights:
        acc += w
        out.append(acc)
    return out


class ScaleGenerator:
    """Plans every row in Python (deterministic for a seed) and streams it with `Loader`."""

    def __init__(self, app, loader, scale: float, seed: int):
        from werkzeug.security import generate_password_hash

        from crm import clock

        self.app, self.loader, self.scale = app, loader, scale
        # One generator per step, so the two parallel streams stay deterministic for a seed.
        self.rngs = {name: random.Random(f"{seed}-{name}") for name in (
            "staff_and_branches", "contracts", "metering", "readings", "billing", "users", "appeals", "notifications")}
        self.now = clock.now()
        self.today = self.now.date()
        first = self.today.replace(day=1)
        self.open_period = add_months(first, -1)
        self.password = generate_password_hash(PASSWORD)
        self.n = {k: max(1, round(v * scale)) for k, v in SCALE_TARGETS.items()}
        self.info: dict = {}

    # -- helpers
    def next_ids(self, *tables) -> dict[str, int]:
        return {t: self.loader.next_id(t) for t in tables}

    def _step(self, step) -> None:
        t0 = time.perf_counter()
        step()
        print(f"  {step.__name__:<20} {time.perf_counter() - t0:6.1f} s", flush=True)

    def run(self) -> dict:
        """Base rows in order; then on PostgreSQL two streams at once on two connections (readings → billing,
        and users → appeals → notifications: each COPY keeps one server process busy)."""
        import threading

        for step in (self.staff_and_branches, self.contracts, self.metering):
            self._step(step)
        streams = [(self.readings, self.billing), (self.users, self.appeals, self.notifications)]
        if not self.loader.postgres:
            for stream in streams:
                for step in stream:
                    self._step(step)
            return self.info
        errors: list[BaseException] = []

        def work(stream):
            try:
                with self.app.app_context():
                    for step in stream:
                        self._step(step)
            except BaseException as error:   # noqa: BLE001 - re-raised in the main thread
                errors.append(error)

        threads = [threading.Thread(target=work, args=(stream,)) for stream in streams]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return self.info

    def staff_and_branches(self) -> None:
        from crm.extensions import db

        with db.engine.begin() as conn:
            roles = dict(conn.exec_driver_sql("SELECT name, id FROM ab_role").all())
            existing = [row[0] for row in conn.exec_driver_sql("SELECT id FROM branch ORDER BY id")]
        self.roles = roles
        if len(existing) < len(BRANCH_WEIGHTS):
            ids = self.next_ids("branch")
            rows = [(ids["branch"] + k, f"9{k}", f"Филиал № {len(existing) + k + 1} (бенч)",
                     f"г. Тверь, ул. Промышленная, д. {k + 1}", "+7 (4822) 30-00-00", "пн–пт 8:00–17:00",
                     self.now, self.now) for k in range(len(BRANCH_WEIGHTS) - len(existing))]
            self.loader.load("branch", ["id", "code", "name", "address", "phone", "working_hours", "created_at",
                                        "updated_at"], rows)
            existing += [r[0] for r in rows]
        self.branches = existing[:len(BRANCH_WEIGHTS)]
        # Staff: an Admin and three curators per branch (the known curator is branch 0's first).
        ids = self.next_ids("ab_user", "curator")
        uid, users, user_roles, curators = ids["ab_user"], [], [], []
        self.curators: dict[int, list[int]] = {}
        login = KNOWN["admin"]
        users.append(self._user_row(uid, login, "Админ", "Бенчев", staff=True))
        user_roles.append((uid, roles["Admin"]))
        self.admin_id = uid
        uid += 1
        for b_index, branch_id in enumerate(self.branches):
            for k in range(3):
                login = KNOWN["curator"] if (b_index, k) == (0, 0) else f"curator{b_index}-{k}@bench.example"
                users.append(self._user_row(uid, login, "Куратор", f"Бенчев-{b_index}-{k}", staff=True))
                user_roles.append((uid, roles["Curator"]))
                curators.append((ids["curator"] + len(curators), branch_id, uid, f"Бенчев-{b_index}-{k} Куратор",
                                 "Ведущий специалист", "+7 (4822) 30-00-00", login, self.now, self.now))
                self.curators.setdefault(branch_id, []).append(uid)
                uid += 1
        self._load_users(users, user_roles)
        self.loader.load("curator", ["id", "branch_id", "user_id", "full_name", "position", "phone", "email",
                                     "created_at", "updated_at"], curators)
        self.info["logins"] = {"admin": KNOWN["admin"], "curator": KNOWN["curator"]}
        self.info["curator_branch_id"] = self.branches[0]

    USER_COLUMNS = ["id", "first_name", "last_name", "username", "email", "password", "active", "created_on",
                    "changed_on", "login_count", "fail_login_count", "email_confirmed_at", "agreement_accepted_at",
                    "marketing_consent", "must_change_password", "second_factor_enabled", "tips_dismissed",
                    "patronymic", "phone"]

    def _user_row(self, uid: int, login: str, first: str, last: str, staff: bool = False):
        naive = self.now.replace(tzinfo=None)
        confirmed = None if staff else self.now - timedelta(days=400)
        # Customers signed up themselves (agreement accepted), so the portal wants a name and a phone.
        phone = f"+7 (9{uid // 10_000_000 % 100:02d}) {uid // 10_000 % 1000:03d}-{uid // 100 % 100:02d}-{uid % 100:02d}"
        return (uid, first, last, login, login, self.password, True, naive, naive, 0, 0, confirmed, confirmed,
                False, False, False, True, "Иванович", phone)

    def _load_users(self, users, user_roles) -> None:
        self.loader.load("ab_user", self.USER_COLUMNS, users)
        self.loader.load("ab_user_role", ["user_id", "role_id"], user_roles)

    def contracts(self) -> None:
        from crm.validators import complete_inn

        rng, n = self.rngs["contracts"], self.n["contracts"]
        ids = self.next_ids("counterparty", "contract")
        self.contract_ids = [ids["contract"] + k for k in range(n)]
        cum = _cum(BRANCH_WEIGHTS)
        self.contract_branch = [self.branches[0]] + [self.branches[i] for i in rng.choices(
            range(len(self.branches)), cum_weights=cum, k=n - 1)]
        first_period = add_months(self.open_period, -self.months_hint())
        cps, contracts, emails, terms = [], [], [], []
        self.contract_category = [("III", "IV")[k % 2] if k < 10 else rng.choice(("I", "II", "III", "IV"))
                                  for k in range(n)]
        for k in range(n):
            cp_id, c_id = ids["counterparty"] + k, self.contract_ids[k]
            name = f"Бенч-{c_id}"
            cps.append((cp_id, "legal", f"Общество с ограниченной ответственностью «{name}»", f"ООО «{name}»",
                        complete_inn(f"88{cp_id:07d}"), f"69{cp_id % 100:02d}01001", f"8{cp_id:09d}",
                        f"г. Тверь, {STREETS[k % len(STREETS)]}, д. {k % 150 + 1}", self.now, self.now))
            signed = first_period - timedelta(days=rng.randint(30, 3000))
            contracts.append((c_id, f"88{c_id:012d}", f"88{c_id:010d}", cp_id, self.contract_branch[k], "electricity",
                              "active", signed, signed, self.contract_category[k], 0, first_period, self.now,
                              self.now))
            emails.append((c_id, f"contract{c_id}@bench.example"))
            terms += [(c_id, "advance", 10, 0, 30), (c_id, "advance", 25, 0, 40), (c_id, "final", 18, 1, None)]
        self.loader.load("counterparty", ["id", "person_type", "full_name", "short_name", "inn", "kpp", "partner_code",
                                          "legal_address", "created_at", "updated_at"], cps)
        self.loader.load("contract", ["id", "number", "account_number", "counterparty_id", "branch_id", "kind",
                                      "status", "signed_on", "starts_on", "price_category", "opening_balance",
                                      "opening_balance_on", "created_at", "updated_at"], contracts)
        self.loader.load("contract_email", ["contract_id", "email"], emails)
        self.loader.load("payment_term", ["contract_id", "kind", "day_of_month", "month_offset", "percent"], terms)
        self.info["contracts"] = {"huge": self.contract_ids[0], "small": self.contract_ids[-1]}

    def months_hint(self) -> int:
        # 5/3 registers per meter on average: months of history so that readings ≈ the target.
        return max(1, round(self.n["readings"] / (self.n["meters"] * 5 / 3) - 0.4))

    def metering(self) -> None:
        rng, n = self.rngs["metering"], self.n["contracts"]
        self.meter_sizes = zipf_sizes(self.n["meters"], n, HUGE_SHARE)
        object_sizes = [max(1, round(m / 2)) for m in self.meter_sizes]
        # Exactly the target: the rounding surplus (or shortfall) goes from (or to) the largest contracts.
        excess, k = sum(object_sizes) - self.n["objects"], 0
        while excess and k < 10 * n:
            rank = k % n
            if excess > 0 and object_sizes[rank] > 1:
                object_sizes[rank] -= 1
                excess -= 1
            elif excess < 0 and object_sizes[rank] < self.meter_sizes[rank]:
                object_sizes[rank] += 1
                excess += 1
            k += 1
        ids = self.next_ids("energy_object", "metering_point", "meter", "register")
        oid, pid, rid = ids["energy_object"], ids["metering_point"], ids["register"]
        objects, points, meters, registers = [], [], [], []
        self.objects_of: list[list[int]] = []
        self.registers: list[tuple] = []   # (register id, contract rank, multiplier, kwh, meter id)
        self.meters_of: list[list[int]] = []
        for rank in range(n):
            c_id = self.contract_ids[rank]
            first_object = oid
            for k in range(object_sizes[rank]):
                objects.append((oid, c_id, f"{k + 1:04d}", f"{OBJECT_NAMES[(oid + k) % len(OBJECT_NAMES)]} № {k + 1}",
                                f"г. Тверь, {STREETS[oid % len(STREETS)]}, д. {oid % 200 + 1}", "waiting",
                                self.now, self.now))
                oid += 1
            self.objects_of.append(list(range(first_object, oid)))
            mine = []
            # Price categories III–VI bill by hourly profiles: their first meter (and one in ten) is interval.
            hourly = self.contract_category[rank] not in ("I", "II")
            for m in range(self.meter_sizes[rank]):
                ratio = rng.choice((1, 1, 20, 40, 80))
                losses = 0.0 if ratio == 1 else rng.choice((0.8, 1.25, 2.4))
                obj = first_object + m * object_sizes[rank] // self.meter_sizes[rank]
                points.append((pid, obj, f"Ввод № {m + 1}", "НН" if ratio <= 20 else "СН2", losses, ratio,
                               self.now, self.now))
                meter_id = pid - ids["metering_point"] + ids["meter"]
                meters.append((meter_id, pid, str(10_000_000 + meter_id), "Меркурий 234 ARTM-03", 8, 2,
                               self.today - timedelta(days=rng.randint(100, 3000)), "waiting",
                               hourly and (m == 0 or rng.random() < 0.1), self.now, self.now))
                mine.append(meter_id)
                pid += 1
                kwh = rng.uniform(800, 40000)
                multiplier = ratio * (1 + losses / 100)
                for position, (zone, share) in enumerate(ZONES[rng.choice((1, 1, 1, 2, 2, 3))]):
                    registers.append((rid, meter_id, zone, "A+", position))
                    self.registers.append((rid, rank, multiplier, kwh * share, meter_id))
                    rid += 1
            self.meters_of.append(mine)
        stamp = ["created_at", "updated_at"]
        self.loader.load("energy_object", ["id", "contract_id", "code", "name", "address", "status", *stamp], objects)
        self.loader.load("metering_point", ["id", "energy_object_id", "name", "voltage_level", "losses_percent",
                                            "transformation_ratio", *stamp], points)
        self.loader.load("meter", ["id", "metering_point_id", "serial", "model", "digits_integer", "digits_fraction",
                                   "verification_date", "status", "interval_metering", *stamp], meters)
        self.loader.load("register", ["id", "meter_id", "zone", "direction", "position"], registers)
        self.info["huge_contract_meters"] = self.meter_sizes[0]
        self.info["small_contract_meters"] = self.meter_sizes[-1]

    def readings(self) -> None:
        """Accepted monthly history up to the open period; ≈ 40 % of meters already submitted for it."""
        rng = self.rngs["readings"]
        months = self.months_hint()
        self.periods = _months(add_months(self.open_period, -months), months)
        stamps = []
        for period in self.periods:
            at = datetime(period.year + period.month // 12, period.month % 12 + 1, 20, 9, tzinfo=UTC)
            stamps.append((period, at, at + timedelta(days=1)))
        submitted_meter = {}
        self.charges = [[0.0] * months for _ in range(self.n["contracts"])]
        charges = self.charges
        random_ = rng.random
        open_period, submitted_at = self.open_period, self.now - timedelta(days=2)

        def rows():
            for rid, rank, multiplier, kwh, meter_id in self.registers:
                value = rng.randint(100_000, 50_000_000)         # hundredths
                base = kwh / multiplier * 100
                acc = charges[rank]
                for index, (period, at, reviewed) in enumerate(stamps):
                    raw = int(base * (0.85 + 0.3 * random_()))
                    consumption = round(raw * multiplier / 100, 4)
                    acc[index] += consumption
                    yield (rid, period, (value + raw) / 100, value / 100, consumption, False, "billing", "accepted",
                           at, reviewed)
                    value += raw
                if submitted_meter.setdefault(meter_id, random_() < 0.4):
                    raw = int(base * (0.85 + 0.3 * random_()))
                    yield (rid, open_period, (value + raw) / 100, value / 100, round(raw * multiplier / 100, 4),
                           False, "portal", "submitted", submitted_at, None)

        self.loader.load("reading", ["register_id", "period", "value", "previous_value", "consumption", "rollover",
                                     "source", "status", "submitted_at", "reviewed_at"], rows(), defer_indexes=True)

    def billing(self) -> None:
        """Per contract and month: an advance bill, an invoice and an acceptance act; the bill and the
        invoice paid (one contract in five owes the last month)."""
        rng = self.rngs["billing"]
        ids = self.next_ids("billing_document")
        doc_id = ids["billing_document"]
        docs, payments = [], []
        rate = float(RATE * VAT)
        last = len(self.periods) - 1
        for rank, c_id in enumerate(self.contract_ids):
            debtor = rng.random() < 0.2
            for i, period in enumerate(self.periods):
                amount = round(self.charges[rank][i] * rate, 2)
                bill = round(amount * 0.3, 2)
                rest = round(amount - bill, 2)
                unpaid = debtor and i == last
                due_bill = period.replace(day=10)
                docs.append((doc_id, c_id, "bill", f"{c_id}-{i}-10", period, due_bill - timedelta(days=9), "advance",
                             bill, bill if unpaid else 0.0, due_bill, self.now, self.now))
                if not unpaid:
                    payments.append((c_id, doc_id, "ПАО Сбербанк", str(doc_id), due_bill - timedelta(days=2), bill,
                                     "paid", "bank", f"Оплата по счёту № {c_id}-{i}-10", self.now, self.now))
                doc_id += 1
                end = add_months(period, 1) - timedelta(days=1)
                due = add_months(period, 1).replace(day=18)
                docs.append((doc_id, c_id, "invoice", f"{c_id}-{i}-inv", period, end, "main", amount,
                             rest if unpaid else 0.0, due, self.now, self.now))
                if not unpaid:
                    paid_on = min(due, self.today) - timedelta(days=1)
                    payments.append((c_id, doc_id, "ПАО Сбербанк", str(doc_id), paid_on, rest, "paid", "bank",
                                     f"Оплата по счёт-фактуре № {c_id}-{i}-inv", self.now, self.now))
                doc_id += 1
                docs.append((doc_id, c_id, "acceptance_act", f"{c_id}-{i}-act", period, end, "main", amount, 0.0,
                             None, self.now, self.now))
                doc_id += 1
        self.loader.load("billing_document", ["id", "contract_id", "doc_type", "number", "period", "doc_date",
                                              "sale_kind", "amount", "amount_due", "due_date", "created_at",
                                              "updated_at"], docs, defer_indexes=True)
        self.loader.load("payment", ["contract_id", "document_id", "bank", "number", "paid_on", "amount", "status",
                                     "channel", "purpose", "created_at", "updated_at"], payments,
                         defer_indexes=True)

    def users(self) -> None:
        """An administrator per contract; the other users spread by contract size with a role mix (one in
        ten on a second contract); half of the engineers of contracts with > 4 objects have an object scope."""
        rng, n = self.rngs["users"], self.n["contracts"]
        total = max(self.n["users"], n + 2)
        ids = self.next_ids("ab_user", "contract_access")
        uid0, aid = ids["ab_user"], ids["contract_access"]
        users, user_roles, accesses, scopes = [], [], [], []
        self.contract_users: list[list[int]] = [[] for _ in range(n)]
        granted = self.now - timedelta(days=380)
        customer = self.roles["Customer"]

        def add_access(uid, rank, role, scope=()):
            nonlocal aid
            accesses.append((aid, uid, self.contract_ids[rank], role, granted, granted))
            for obj in scope:
                scopes.append((aid, obj))
            self.contract_users[rank].append(uid)
            aid += 1

        cum = _cum(self.meter_sizes)
        extra_ranks = [0, 0] + rng.choices(range(n), cum_weights=cum, k=total - n - 2)
        for k in range(total):
            uid = uid0 + k
            if k == 0:
                login = KNOWN["huge_admin"]
            elif k == n - 1:
                login = KNOWN["small_admin"]
            elif k == n:
                login = KNOWN["huge_engineer"]
            elif k == n + 1:
                login = KNOWN["huge_accountant"]
            else:
                login = f"u{uid}@bench.example"
            users.append(self._user_row(uid, login, FIRST_NAMES[k % len(FIRST_NAMES)],
                                        f"{LAST_NAMES[k % len(LAST_NAMES)]}-{uid}"))
            user_roles.append((uid, customer))
            if k < n:
                add_access(uid, k, "administrator")
                continue
            rank = extra_ranks[k - n]
            if k == n:
                role = "power_engineer"
            elif k == n + 1:
                role = "accountant"
            else:
                x, role = rng.random(), EXTRA_ROLES[-1][0]
                for name, p in EXTRA_ROLES:
                    if x < p:
                        role = name
                        break
                    x -= p
            objects = self.objects_of[rank]
            scope = ()
            if role == "power_engineer" and len(objects) > 4 and (k == n or rng.random() < 0.5):
                scope = rng.sample(objects, max(1, len(objects) // 5))
            add_access(uid, rank, role, scope)
            if rng.random() < 0.1:
                other = rng.choices(range(n), cum_weights=cum, k=1)[0]
                if other != rank:
                    add_access(uid, other, rng.choice(("manager", "accountant")))
        self._load_users(users, user_roles)
        self.loader.load("contract_access", ["id", "user_id", "contract_id", "role", "granted_at", "confirmed_at"],
                         accesses)
        self.loader.load("contract_access_object", ["access_id", "energy_object_id"], scopes)
        self.customer_ids = [uid0 + k for k in range(total)]
        self.info["logins"].update({key: KNOWN[key] for key in ("huge_admin", "small_admin", "huge_engineer",
                                                                 "huge_accountant")})

    def appeals(self) -> None:
        from sqlalchemy import func

        from crm.extensions import db
        from crm.models import Appeal, AppealTopic, WorkflowDefinition, WorkflowState
        from crm.services.appeal_definitions import ensure_appeal_definitions
        from crm.services.appeal_forms import current_workflow

        rng, n = self.rngs["appeals"], self.n["contracts"]
        ensure_appeal_definitions()
        db.session.commit()
        sections = []
        for section in db.session.scalars(select(AppealTopic).where(AppealTopic.level == "section")):
            workflow = current_workflow(section)
            if workflow is not None:
                sections.append((section.parent_id, section.id, workflow.id))
        states = {w.id: [(s.code, s.is_closing) for s in
                         db.session.scalars(select(WorkflowState).where(WorkflowState.workflow_id == w.id))]
                  for w in db.session.scalars(select(WorkflowDefinition))}
        sequence = db.session.scalar(select(func.max(Appeal.sequence))) or 0
        db.session.remove()
        codes = dict(zip(self.branches, [f"{i:02d}" for i in range(len(self.branches))], strict=True))
        weights = [0.5 * m / self.n["meters"] + 0.5 / n for m in self.meter_sizes]
        ranks = rng.choices(range(n), cum_weights=_cum(weights), k=self.n["appeals"])
        first_id = self.loader.next_id("appeal")
        now, letters = self.now, "Ю-Л"
        plan = []
        rows = []
        for offset, rank in enumerate(ranks):
            seq = sequence + offset + 1
            branch_id = self.contract_branch[rank]
            author_id = rng.choice(self.contract_users[rank])
            topic_id, section_id, workflow_id = sections[rng.randrange(len(sections))]
            choices = states[workflow_id]
            closed = rng.random() < 0.7
            pool = [s for s in choices if s[1] == closed] or choices
            code = rng.choice(pool)[0]
            created = now - timedelta(minutes=rng.randint(10, 60 * 24 * 365))
            last = min(now, created + timedelta(hours=rng.randint(1, 240)))
            due = None if closed else now + timedelta(hours=rng.randint(-48, 72))
            assignee = rng.choice(self.curators[branch_id]) if rng.random() < 0.8 else None
            plan.append((author_id, assignee, created))
            rows.append((first_id + offset, f"{seq:07d}-{created:%y}-{codes[branch_id]}-{letters}", seq, author_id,
                         self.contract_ids[rank], branch_id, topic_id, section_id, workflow_id, code, "portal",
                         APPEAL_TITLES[seq % len(APPEAL_TITLES)],
                         json.dumps({"question": MESSAGE_BODIES[seq % len(MESSAGE_BODIES)]}, ensure_ascii=False),
                         assignee, created, last, last, due, min(now, last + timedelta(hours=2)) if closed else None,
                         rng.random() < 0.05, (not closed) and rng.random() < 0.2, letters,
                         created + timedelta(hours=rng.randint(1, 30)) if rng.random() < 0.9 else None))
        self.loader.load("appeal", ["id", "number", "sequence", "author_id", "contract_id", "branch_id", "topic_id",
                                    "section_id", "workflow_id", "state_code", "channel", "title", "form_data",
                                    "assignee_id", "created_at", "last_message_at", "state_entered_at", "sla_due_at",
                                    "closed_at", "customer_unread", "staff_unread", "person_type",
                                    "first_response_at"], rows, defer_indexes=True)
        per_appeal = self.n["messages"] / max(1, self.n["appeals"])

        def messages():
            target, made = self.n["messages"], 0
            for offset, (author_id, assignee, created) in enumerate(plan):
                left = len(plan) - offset
                count = max(1, min(round(per_appeal * 2) - 1, int(rng.uniform(1, 2 * per_appeal))))
                if left == 1:
                    count = max(1, target - made)
                for k in range(count):
                    staff = k % 2 == 1
                    yield (first_id + offset, assignee if staff else author_id, staff, staff and k == 3,
                           MESSAGE_BODIES[(offset + k) % len(MESSAGE_BODIES)], False, created + timedelta(hours=k))
                made += count

        self.loader.load("appeal_message", ["appeal_id", "author_id", "from_staff", "internal", "body",
                                            "needs_decision", "created_at"], messages(),
                         defer_indexes=True)

    def notifications(self) -> None:
        """Bell notifications (some e-mailed, a few past banners and confirmed modals) to everyone, a branch or a
        few contracts, until the deliveries reach the target."""
        rng = self.rngs["notifications"]
        target = self.n["deliveries"]
        by_branch: dict[int, set[int]] = {}
        for rank, users in enumerate(self.contract_users):
            by_branch.setdefault(self.contract_branch[rank], set()).update(users)
        everyone = sorted(self.customer_ids)
        by_branch_sorted = {b: sorted(u) for b, u in by_branch.items()}
        nid = self.loader.next_id("notification")
        notices, plan, total, k = [], [], 0, 0
        while total < target:
            left = target - total
            if k % 4 == 0 and len(everyone) <= left:
                audience, recipients = {"type": "everyone"}, everyone
            else:
                branch = self.branches[rng.choices(range(len(self.branches)), cum_weights=_cum(BRANCH_WEIGHTS))[0]]
                if len(by_branch_sorted.get(branch, ())) and len(by_branch_sorted[branch]) <= left:
                    audience, recipients = {"type": "branch", "ids": [branch]}, by_branch_sorted[branch]
                else:   # the remainder: whole contracts, smallest audiences first, until it is filled
                    chosen, members = [], set()
                    for rank in sorted(range(len(self.contract_ids)), key=lambda r: len(self.contract_users[r])):
                        extra = set(self.contract_users[rank]) - members
                        if len(members) + len(extra) <= left and extra:
                            chosen.append(self.contract_ids[rank])
                            members |= extra
                        if len(members) >= left:
                            break
                    if not chosen:
                        break
                    audience, recipients = {"type": "contracts", "ids": chosen}, sorted(members)
            sent = self.now - timedelta(days=365 * (1 - k / 200) if k < 200 else 1, hours=rng.randint(0, 12))
            x = rng.random()
            kind = "bell" if x < 0.8 else "email" if x < 0.9 else "banner" if x < 0.95 else "modal"
            window = (sent, sent + timedelta(days=5)) if kind in ("banner", "modal") else (None, None)
            subject = NOTICE_SUBJECTS[k % len(NOTICE_SUBJECTS)]
            notices.append((nid + k, kind, "general", kind == "email", len(recipients), subject,
                            f"{subject}. Подробности — в разделе «Новости».",
                            "Ознакомлен" if kind == "modal" else None, window[0], window[1],
                            json.dumps(audience), sent, self.admin_id, sent))
            plan.append((nid + k, kind, sent, recipients))
            total += len(recipients)
            k += 1
        self.loader.load("notification", ["id", "kind", "category", "send_email", "recipients_count", "subject",
                                          "body_markdown", "confirm_text", "display_from", "display_until", "audience",
                                          "sent_at", "author_id", "created_at"], notices)

        def deliveries():
            random_ = rng.random
            for notification_id, kind, sent, recipients in plan:
                read = sent + timedelta(hours=5)
                for user_id in recipients:
                    was_read = kind == "modal" or random_() < 0.7
                    yield (notification_id, user_id, sent, read if was_read else None,
                           read if kind == "modal" else None, read if kind == "banner" else None,
                           sent if kind == "email" else None)

        self.loader.load("notification_delivery", ["notification_id", "user_id", "delivered_at", "read_at",
                                                   "confirmed_at", "dismissed_at", "emailed_at"], deliveries(),
                         defer_indexes=True)
        self.info["notifications"] = len(notices)


def _reset_schema(url: str) -> bool:
    """Empty an existing bench database by dropping and recreating its `public` schema — unlike DROP DATABASE
    this needs no checkpoint, which takes a minute on a busy server. False when the database does not exist."""
    import psycopg

    parsed = make_url(url)
    if "bench" not in (parsed.database or ""):
        raise SystemExit(f"refusing to empty {parsed.database!r}: use a database name containing 'bench'")
    plain = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(plain, autocommit=True, connect_timeout=5) as conn:
            conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
            conn.execute("CREATE SCHEMA public")
            conn.execute("GRANT ALL ON SCHEMA public TO public")
    except psycopg.OperationalError:
        return False
    return True


def generate(url: str, scale: float, seed: int = 1, fresh: bool = True, with_demo: bool = False,
             write_info: bool = True) -> dict:
    """Build the scale-`scale` dataset into `url`; returns (and writes to `info_path(scale)`) the known
    logins, the huge and small contract ids, per-table rows and seconds."""
    from bench.copyload import Loader
    from crm.extensions import db

    started, cpu_started = time.perf_counter(), time.process_time()
    if fresh and make_url(url).get_backend_name() == "postgresql":
        fresh = not _reset_schema(url)
    app = _prepare(url, fresh)
    prepared = time.perf_counter() - started
    with app.app_context():
        if with_demo:
            from crm.services.demo import demo_loaded, seed_demo

            if not demo_loaded():
                seed_demo()
        loader = Loader(db.engine)
        generator = ScaleGenerator(app, loader, scale, seed)
        load_started = time.perf_counter()
        info = generator.run()
        loader.reset_sequences()
        analyze = loader.analyze()
        loaded = time.perf_counter() - load_started
        db.session.remove()
        db.engine.dispose()
    elapsed = time.perf_counter() - started
    info.update(url=make_url(url).render_as_string(hide_password=True), scale=scale, seed=seed,
                password=PASSWORD, generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
                seconds={"total": round(elapsed, 1), "migrations": round(prepared, 1),   # incl. emptying the db
                         "load": round(loaded, 1), "analyze": round(analyze, 1)},
                tables={t: {"rows": int(r), "seconds": round(s, 2), "server_cpu": round(c, 2)}
                        for t, (r, s, c) in loader.stats.items()},
                cpu={"python": round(time.process_time() - cpu_started, 1),
                     "postgres_copy": round(sum(c for _r, _s, c in loader.stats.values()), 1)},
                backend=make_url(url).get_backend_name(), with_demo=with_demo)
    if write_info:
        path = info_path(scale)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(info, fh, ensure_ascii=False, indent=1)
        info["info_path"] = path
    return info


def report_scale(info: dict) -> None:
    print(f"\n{'table':<24} {'rows':>12} {'seconds':>8} {'server CPU s':>13}")
    for table, entry in info["tables"].items():
        print(f"{table:<24} {entry['rows']:>12,} {entry['seconds']:>8.1f} {entry.get('server_cpu', 0):>13.1f}")
    rows = sum(e["rows"] for e in info["tables"].values())
    s = info["seconds"]
    print(f"{'total':<24} {rows:>12,} {s['load']:>8.1f}  (+ migrations {s['migrations']} s, ANALYZE {s['analyze']} s; "
          f"all {s['total']} s)")
    print(f"huge contract {info['contracts']['huge']} ({info['huge_contract_meters']} meters), small contract "
          f"{info['contracts']['small']} ({info['small_contract_meters']} meters), "
          f"{info['notifications']} notifications")
    print("logins (password " + PASSWORD + "): " + ", ".join(f"{k}={v}" for k, v in info["logins"].items()))
    cpu = info.get("cpu")
    if cpu:
        print(f"CPU: this Python process {cpu['python']} s (migrations included), PostgreSQL server processes "
              f"during the COPYs {cpu['postgres_copy']} s (0 when the server is not local)")
    if info.get("info_path"):
        print(f"written to {info['info_path']}")
    label = scale_label(info["scale"])
    if info["backend"] == "postgresql":
        value = s["total"]
        verdict = ("met" if value <= 180 else "MISSED") if info["scale"] == 1 else "info"
        print(f"RESULT | generator scale {label} on PostgreSQL | {value:.0f} s | ≤ 180 s (scale 1) | {verdict}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate a large benchmark dataset with bulk inserts.")
    parser.add_argument("--scale", type=float,
                        help="the issue-8 dataset at this scale (1 = 10 000 contracts … 2 000 000 readings), "
                             "COPY on PostgreSQL; without it the older --contracts mode runs")
    parser.add_argument("--database-url", default=None,
                        help="default: $BENCH_DATABASE_URL, else crm_bench_scale_<scale> on local PostgreSQL "
                             "(--scale) or sqlite:///instance/bench-large.sqlite")
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
    url = args.database_url or os.environ.get("BENCH_DATABASE_URL") or (
        default_scale_url(args.scale) if args.scale else "sqlite:///instance/bench-large.sqlite")
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        os.makedirs(os.path.dirname(os.path.abspath(url[len("sqlite:///"):])), exist_ok=True)
    if args.scale:
        print(f"generating scale {scale_label(args.scale)} into {make_url(url).render_as_string(hide_password=True)}",
              flush=True)
        report_scale(generate(url, args.scale, seed=args.seed, fresh=args.fresh, with_demo=args.with_demo))
        return 0
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
