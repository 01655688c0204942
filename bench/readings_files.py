"""Time the integral readings file on one contract with 10 000 meters (issue 4, acceptance 5).

    .venv/bin/python -m bench.readings_files [--pg postgresql+psycopg://postgres@127.0.0.1:5432/crm_bench_files]
                                             [--meters 10000] [--months 6] [--no-sqlite]

Per backend (a fresh SQLite file in a temporary directory; PostgreSQL too with --pg — that database is
dropped and recreated, so its name must contain "bench"): migrate, then insert with Core one contract
with `--meters` one-register meters spread over objects of 100 meters, `--months` months of accepted
readings before the current period (the previous value and the jump check's history) and an open
readings window; sign in as the contract's administrator with the test client and time

1. GET the template (`/portal/contracts/<id>/readings/template.xlsx`): every register, previous values;
2. POST the filled template (every row gets a new value, written with openpyxl outside the timing):
   reading, matching, checking and saving all 10 000 readings in one transaction.

The target: each ≤ 5 s. Prints the wall time and this process's CPU time of each request (on a machine
shared with other jobs the wall time includes waiting for a CPU), its SQL statements and the saved row
count; always exits 0.
"""
from __future__ import annotations

import argparse
import io
import logging
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import event, func, select

from bench.pages import build_app, recreate_postgres

TARGET_S = 5.0
PASSWORD = "Bench2026pass"
LOGIN = "files-bench@bench.example"


def _months_before(period: date, count: int) -> list[date]:
    months = []
    for offset in range(count, 0, -1):
        index = period.year * 12 + period.month - 1 - offset
        months.append(date(index // 12, index % 12 + 1, 1))
    return months


def build_contract(app, meters: int, months: int) -> int:
    """One contract with `meters` meters (one A+ register each) and their history; returns its id."""
    from crm import clock
    from crm.extensions import db
    from crm.models import (
        Branch,
        Contract,
        ContractAccess,
        Counterparty,
        EnergyObject,
        Meter,
        MeteringPoint,
        Reading,
        ReadingsWindow,
        Register,
    )
    from crm.validators import complete_inn

    def insert(model, rows, returning=False):
        table = model.__table__
        if returning:
            return db.session.execute(table.insert().returning(table.c.id, sort_by_parameter_order=True),
                                      rows).scalars().all()
        db.session.execute(table.insert(), rows)
        return None

    with app.app_context():
        today = clock.today()
        period = today.replace(day=1)
        (branch_id,) = insert(Branch, [dict(code="FB", name="Филиал бенчмарка")], returning=True)
        (cp_id,) = insert(Counterparty, [dict(full_name="ООО «Много приборов»", short_name="ООО «Много приборов»",
                                              inn=complete_inn("770000001"), partner_code="9900001")], returning=True)
        (contract_id,) = insert(Contract, [dict(number="77999000000001", counterparty_id=cp_id, branch_id=branch_id,
                                                signed_on=date(2020, 1, 1), starts_on=date(2020, 1, 1))],
                                returning=True)
        objects = (meters + 99) // 100
        object_ids = insert(EnergyObject, [dict(contract_id=contract_id, code=f"EO-{n:05d}", name=f"Объект {n}",
                                                address=f"г. Москва, ул. Бенчмарка, д. {n}") for n in range(objects)],
                            returning=True)
        point_ids = insert(MeteringPoint, [dict(energy_object_id=object_ids[n // 100], name=f"ТУ {n:05d}")
                                           for n in range(meters)], returning=True)
        meter_ids = insert(Meter, [dict(metering_point_id=point_ids[n], serial=f"BN{n:08d}", model="Меркурий 230",
                                        digits_integer=6, digits_fraction=2) for n in range(meters)], returning=True)
        register_ids = insert(Register, [dict(meter_id=meter_id) for meter_id in meter_ids], returning=True)
        history = _months_before(period, months)
        rows = []
        for index, register_id in enumerate(register_ids):
            value = Decimal(1000 + index % 500)
            for month in history:
                value += 100
                rows.append(dict(register_id=register_id, period=month, value=value, previous_value=value - 100,
                                 consumption=Decimal(100), source="billing", status="accepted"))
        for start in range(0, len(rows), 20_000):
            insert(Reading, rows[start:start + 20_000])
        insert(ReadingsWindow, [dict(period=period, opens_on=period,
                                     closes_on=(period + timedelta(days=31)).replace(day=1) - timedelta(days=1))])
        sm = app.appbuilder.sm
        user = sm.add_user(username=LOGIN, first_name="Бенч", last_name="Марк", email=LOGIN,
                           role=[sm.find_role("Customer")], password=PASSWORD)
        user.email_confirmed_at = clock.now()
        db.session.add(ContractAccess(user_id=user.id, contract_id=contract_id, role="administrator",
                                      confirmed_at=clock.now()))
        db.session.commit()
        return contract_id


class StatementCounter:
    def __init__(self, engine):
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._before)

    def _before(self, *args, **kwargs):
        self.count += 1


def run(url: str, meters: int, months: int) -> None:
    import openpyxl

    from crm.extensions import db
    from crm.models import Reading

    backend = url.split(":", 1)[0].split("+", 1)[0]
    started = time.perf_counter()
    app, migrated, _seeded = build_app(url, prepare=False)
    with app.app_context():
        from flask_migrate import upgrade

        from crm.services.roles import sync_roles

        upgrade()
        sync_roles(app.appbuilder)
        engine = db.engine
    logging.getLogger("alembic").setLevel(logging.WARNING)
    contract_id = build_contract(app, meters, months)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"[{backend}] load average {load:.1f} on {os.cpu_count()} CPUs (wall times include waiting for a CPU)")
    print(f"[{backend}] data: {meters} meters, {months} months of history, built in "
          f"{time.perf_counter() - started:.1f} s")
    counter = StatementCounter(engine)
    client = app.test_client()
    response = client.post("/portal/login", data={"login": LOGIN, "password": PASSWORD})
    assert response.status_code == 302, response.status_code

    counter.count = 0
    started, cpu = time.perf_counter(), time.process_time()
    response = client.get(f"/portal/contracts/{contract_id}/readings/template.xlsx")
    template_s, template_cpu = time.perf_counter() - started, time.process_time() - cpu
    template_sql = counter.count
    assert response.status_code == 200, response.status_code
    template = response.data

    book = openpyxl.load_workbook(io.BytesIO(template))
    sheet = book.worksheets[0]
    filled = 0
    for row in sheet.iter_rows(min_row=2):
        previous = row[7].value
        row[8].value = round(float(previous) + 37.25, 2)
        filled += 1
    buffer = io.BytesIO()
    book.save(buffer)
    upload = buffer.getvalue()

    counter.count = 0
    started, cpu = time.perf_counter(), time.process_time()
    response = client.post(f"/portal/contracts/{contract_id}/readings/upload",
                           data={"file": (io.BytesIO(upload), "readings.xlsx")}, content_type="multipart/form-data")
    import_s, import_cpu = time.perf_counter() - started, time.process_time() - cpu
    import_sql = counter.count
    page = response.get_data(as_text=True)
    with app.app_context():
        saved = db.session.scalar(select(func.count()).select_from(Reading).where(Reading.source == "file"))
    ok = response.status_code == 200 and saved == filled
    print(f"[{backend}] template: {len(template) / 1024:.0f} KB, {filled} rows, {template_s:.2f} s "
          f"(CPU of this process {template_cpu:.2f} s), {template_sql} SQL statements"
          f"{'  > 5 s' if template_s > TARGET_S else ''}")
    print(f"[{backend}] import:   {len(upload) / 1024:.0f} KB, {saved} readings saved, {import_s:.2f} s "
          f"(CPU of this process {import_cpu:.2f} s), {import_sql} SQL statements"
          f"{'  > 5 s' if import_s > TARGET_S else ''}"
          f"{'' if ok else f'  FAILED (HTTP {response.status_code})'}")
    # The machine-readable lines bench/all.py collects (issue 4: template and import ≤ 5 s each).
    print(f"RESULT | readings template, {meters} meters ({backend}) | {template_s:.2f} s (CPU {template_cpu:.2f} s) | "
          f"≤ {TARGET_S:g} s | {'met' if template_s <= TARGET_S else 'MISSED'}")
    print(f"RESULT | readings file import, {meters} meters ({backend}) | {import_s:.2f} s (CPU {import_cpu:.2f} s)"
          f"{'' if ok else f', FAILED: HTTP {response.status_code}, {saved} of {filled} saved'} | ≤ {TARGET_S:g} s | "
          f"{'met' if ok and import_s <= TARGET_S else 'MISSED'}")
    if not ok:
        print(page[:2000], file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", help="PostgreSQL URL (dropped and recreated; its name must contain 'bench')")
    parser.add_argument("--force-drop", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--meters", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=6)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not args.no_sqlite:
        run(f"sqlite:///{tempfile.mkdtemp(prefix='crm-bench-files-')}/bench.sqlite", args.meters, args.months)
    if args.pg:
        recreate_postgres(args.pg, args.force_drop)
        run(args.pg, args.meters, args.months)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
