"""Time to fan out a broadcast to 100 000 customers end to end (issue 7 acceptance 2; SPEC W4).

    .venv/bin/python -m bench.notifications_fanout [--pg postgresql+psycopg://postgres@127.0.0.1:5432/crm_bench_notify]
                                                   [--users 100000] [--email-share 0.2] [--sqlite]

PostgreSQL (the database named by `--pg` is DROPPED and recreated, so its name must contain `bench`),
and SQLite too with `--sqlite` (a temporary file). Per backend: run the migrations, then load — with
COPY on PostgreSQL, executemany on SQLite — `--users` customer accounts (FAB role Customer), one
counterparty and one contract per 10 users in 5 branches, a confirmed role for every user, and e-mail
switched on for `--email-share` of them (off for the rest). Then, timed:

    create_notification(kind="bell", category="general", send_email=True, audience everyone)
    send_now(): claim → INSERT … SELECT deliveries → mark e-mails → INSERT … SELECT outbox rows → commit
                → hand the outbox rows to the queue in batches of 500 ids

The queue is RQ on a private `redis-server` the bench starts on a spare port (no worker: sending the
mail is the workers' job, not the fan-out's); without redis-server it says so and the hand-off is
skipped. Prints each phase and the total against the ≤ 20 s target, and checks the row counts; then
`RESULT | notification fan-out to N customers, end to end (backend) | s | ≤ 20 s | met/MISSED` for
bench/all.py. Always exits 0.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime

from sqlalchemy import event, func, select, text
from sqlalchemy.engine import make_url

from bench.pages import recreate_postgres

TARGET_SECONDS = 20.0
USERS_PER_CONTRACT = 10
BRANCHES = 5
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)





def _start_redis() -> tuple[subprocess.Popen | None, str | None]:
    binary = shutil.which("redis-server")
    if not binary:
        return None, None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                "--dir", tempfile.mkdtemp(prefix="bench-redis-")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    process.terminate()
    return None, None


def _build(url: str, redis_url: str | None):
    from flask_migrate import upgrade

    from app import create_app

    config = {"CRM_CONFIG": "test", "SQLALCHEMY_DATABASE_URI": url, "TESTING": False,
              "STORAGE_URL": f"file://{tempfile.mkdtemp(prefix='bench-files-')}"}
    if redis_url:
        config.update(REDIS_URL=redis_url, JOBS_INLINE=False)
    app = create_app(config)
    with app.app_context():
        from crm.services.roles import sync_roles

        upgrade()
        sync_roles(app.appbuilder)
    return app


def _rows(users: int, email_share: float, customer_role_id: int):
    """Rows per table (dicts), generated in order: ids are given explicitly."""
    now = NOW
    contracts = (users + USERS_PER_CONTRACT - 1) // USERS_PER_CONTRACT
    opted_in = int(users * email_share)
    yield "branch", [{"id": b, "code": f"B{b}", "name": f"Филиал {b}", "created_at": now, "updated_at": now}
                     for b in range(1, BRANCHES + 1)]
    yield "counterparty", ({"id": c, "person_type": "legal", "full_name": f"ООО «Бенч {c}»",
                            "short_name": f"ООО «Бенч {c}»", "inn": f"{7700000000 + c}", "created_at": now,
                            "updated_at": now} for c in range(1, contracts + 1))
    yield "contract", ({"id": c, "number": f"{77100000000000 + c}", "counterparty_id": c,
                        "branch_id": c % BRANCHES + 1, "kind": "electricity", "status": "active",
                        "signed_on": date(2024, 1, 1), "starts_on": date(2024, 1, 1), "opening_balance": 0,
                        "created_at": now, "updated_at": now} for c in range(1, contracts + 1))
    # Staff ids start after the bench's users (the app's sync created none).
    yield "ab_user", ({"id": u, "first_name": "Иван", "last_name": f"Бенчев{u}", "username": f"bench{u}@bench.example",
                       "email": f"bench{u}@bench.example", "password": "!", "active": True, "created_on": now,
                       "changed_on": now, "marketing_consent": False, "must_change_password": False,
                       "second_factor_enabled": False, "tips_dismissed": False,
                       "notification_settings": {"email": u <= opted_in}} for u in range(1, users + 1))
    yield "ab_user_role", ({"id": u, "user_id": u, "role_id": customer_role_id} for u in range(1, users + 1))
    yield "contract_access", ({"id": u, "user_id": u, "contract_id": (u - 1) // USERS_PER_CONTRACT + 1,
                               "role": "administrator" if (u - 1) % USERS_PER_CONTRACT == 0 else "manager",
                               "granted_at": now, "confirmed_at": now} for u in range(1, users + 1))


def _load(db, users: int, email_share: float) -> float:
    from flask_appbuilder.security.sqla.models import Role

    from crm.models import CUSTOMER_ROLE

    started = time.perf_counter()
    role_id = db.session.scalar(select(Role.id).where(Role.name == CUSTOMER_ROLE))
    db.session.commit()
    engine = db.engine
    for name, rows in _rows(users, email_share, role_id):
        table = db.metadata.tables[name]
        rows = list(rows)
        columns = list(rows[0])
        if engine.dialect.name == "postgresql":
            raw = engine.raw_connection()
            try:
                with raw.cursor() as cursor:
                    with cursor.copy(f'COPY "{name}" ({", ".join(columns)}) FROM STDIN') as copy:
                        for row in rows:
                            copy.write_row([json.dumps(v) if isinstance(v, dict) else v for v in row.values()])
                raw.commit()
            finally:
                raw.close()
        else:
            with engine.begin() as conn:
                for start in range(0, len(rows), 5000):
                    conn.execute(table.insert(), rows[start:start + 5000])
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            for name in ("branch", "counterparty", "contract", "ab_user", "ab_user_role", "contract_access"):
                sequence = "ab_user_role_id_seq" if name == "ab_user_role" else (
                    "ab_user_id_seq" if name == "ab_user" else None)
                target = f"'{sequence}'" if sequence else f"pg_get_serial_sequence('{name}', 'id')"
                conn.execute(text(f"SELECT setval({target}, (SELECT max(id) FROM \"{name}\"))"))
            conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


def _run(url: str, users: int, email_share: float, redis_url: str | None) -> None:
    from crm import clock

    backend = make_url(url).get_backend_name()
    app = _build(url, redis_url)
    with app.app_context():
        from crm.extensions import db
        from crm.models import EmailOutbox, NotificationDelivery
        from workflows import notifications

        clock.set_now(None)
        load_seconds = _load(db, users, email_share)
        print(f"[{backend}] loaded {users} customers, {users // USERS_PER_CONTRACT} contracts in {load_seconds:.1f} s")

        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731 - before_cursor_execute(conn, cursor, stmt, …)
        event.listen(db.engine, "before_cursor_execute", listener)
        kicked = []
        original_kick = notifications._kick_outbox

        def timed_kick(ids):
            started = time.perf_counter()
            original_kick(ids)
            kicked.append((len(ids), time.perf_counter() - started))

        notifications._kick_outbox = timed_kick if redis_url else (lambda ids: kicked.append((len(ids), 0.0)))
        try:
            started = time.perf_counter()
            notification = notifications.create_notification(
                None, kind="bell", category="general", send_email=True, subject="Плановое отключение",
                body_markdown="Уважаемые клиенты! **10 марта** с 10:00 до 14:00 плановые работы.",
                audience={"type": "everyone"})
            recipients = notifications.send_now(notification)
            total = time.perf_counter() - started
        finally:
            notifications._kick_outbox = original_kick
            event.remove(db.engine, "before_cursor_execute", listener)
        deliveries = db.session.scalar(select(func.count()).select_from(NotificationDelivery))
        emails = db.session.scalar(select(func.count()).select_from(EmailOutbox))
        queued, kick_seconds = kicked[0] if kicked else (0, 0.0)
        print(f"[{backend}] fan-out of a broadcast: {recipients} recipients, {deliveries} deliveries, {emails} outbox "
              f"rows, {queued} ids handed to the queue in {kick_seconds:.2f} s"
              f"{'' if redis_url else ' (no redis-server: hand-off skipped)'}; {len(statements)} SQL statements")
        verdict = "OK" if total <= TARGET_SECONDS else "OVER TARGET"
        print(f"SUMMARY {backend}: {total:.2f} s end to end for {users} users "
              f"(target ≤ {TARGET_SECONDS:.0f} s) — {verdict}")
        # All recipients must have their delivery (and the opted-in share an outbox row) for the time to count.
        complete = deliveries == users and recipients == users
        size = f"{users:,}".replace(",", " ")
        print(f"RESULT | notification fan-out to {size} customers, end to end ({backend}) | {total:.2f} s"
              f"{'' if complete else f' ({deliveries} of {users} deliveries)'} | ≤ {TARGET_SECONDS:.0f} s | "
              f"{'met' if complete and total <= TARGET_SECONDS else 'MISSED'}")
        db.session.remove()
        db.engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/crm_bench_notify")
    parser.add_argument("--no-pg", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--sqlite", action="store_true", help="also run on a temporary SQLite file")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--email-share", type=float, default=0.2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    redis, redis_url = _start_redis()
    if not redis_url:
        print("redis-server not found: the outbox hand-off is not timed")
    try:
        if not args.no_pg:
            recreate_postgres(args.pg, force=False)
            _run(args.pg, args.users, args.email_share, redis_url)
        if args.sqlite:
            path = os.path.join(tempfile.mkdtemp(prefix="bench-notify-"), "bench.sqlite")
            _run(f"sqlite:///{path}", args.users, args.email_share, redis_url)
    finally:
        if redis:
            redis.terminate()
            redis.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
