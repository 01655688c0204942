"""The curator desk at scale (issue 6, acceptance 5): 100 000 appeals and 500 000 messages in PostgreSQL.

    .venv/bin/python -m bench.appeals [--pg postgresql+psycopg://postgres@127.0.0.1:5432/crm_bench_appeals]
        [--appeals 100000] [--messages-per-appeal 5] [-n 40] [--existing]

Builds the database (dropped and recreated; its name must contain "bench"): migrations, the seeded appeal
definitions, 1 000 contracts with their customers (bench.generate, one meter each, one month), five
branches with four curators each (staff users, Curator role), then the appeals and their messages with
PostgreSQL COPY: 70 % closed, the rest spread over the open states, SLA due times around now (some
breached), a few unread, every appeal with `--messages-per-appeal` messages (one in ten an internal note).
`--existing` skips the build and times an already generated database.

Then it times, signed in through the test client, the desk queue page (`/admin/appeals/`) for a curator
(their branch only) and for an administrator (every branch), default sort (SLA due) and with filters, and
the appeal card; it prints median and p95 milliseconds, the median CPU milliseconds of this process (the
app's own share; the rest is PostgreSQL and waiting for a core on a shared machine) and SQL statements per
request. It also times the back office's home page `/admin/` as the curator (the curator dashboard).
Targets (issue 8): the curator queue ≤ 35 ms median at 100 000 appeals, the curator dashboard ≤ 150 ms;
each is printed as a `RESULT | figure | value | target | met/MISSED` line (the appeal card as `info`).
"""
from __future__ import annotations

import argparse
import io
import json
import logging
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, select

from bench.copyload import copy_rows
from bench.pages import p95

TARGET_MS = 35.0
DASHBOARD_TARGET_MS = 150.0
PASSWORD = "Bench2026pass"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/crm_bench_appeals"
TITLES = ("Не принимаются показания", "Вопрос по счёту за электроэнергию", "Изменение реквизитов",
          "Заключение договора энергоснабжения", "Предоставление роли «Администратор»", "Ошибка в акте сверки",
          "Перерасчёт по прибору учёта", "Замена прибора учёта", "Отключение электроэнергии", "Доступ к порталу")
BODIES = ("Добрый день! Прошу разобраться с вопросом по договору.", "Направляем документы во вложении.",
          "Обращение принято в работу, ответим в течение двух рабочих дней.",
          "Пришлите, пожалуйста, фото табло прибора учёта.", "Спасибо, вопрос решён.",
          "Проверили данные, расхождение устранено.")





def _staff(app, branch_ids: list[int]) -> tuple[dict[int, list[int]], str, str]:
    """Four curators per branch (staff users with Curator rows) and an admin; returns branch → user ids."""
    from crm.extensions import db
    from crm.models import Curator

    sm = app.appbuilder.sm
    curator_role, admin_role = sm.find_role("Curator"), sm.find_role("Admin")
    curators: dict[int, list[int]] = {}
    for b_index, branch_id in enumerate(branch_ids):
        for k in range(4):
            login = f"curator{b_index}-{k}@bench.example"
            user = sm.find_user(username=login) or sm.add_user(login, "Куратор", f"Бенчев-{b_index}-{k}", login,
                                                                  curator_role, password=PASSWORD)
            db.session.add(Curator(branch_id=branch_id, user_id=user.id, full_name=f"Бенчев-{b_index}-{k} Куратор",
                                   phone="+7 (4822) 30-00-00", email=login))
            curators.setdefault(branch_id, []).append(user.id)
    admin_login = "admin@bench.example"
    if sm.find_user(username=admin_login) is None:
        sm.add_user(admin_login, "Админ", "Бенчев", admin_login, admin_role, password=PASSWORD)
    db.session.commit()
    return curators, "curator0-0@bench.example", admin_login


def build(url: str, appeal_count: int, per_appeal: int) -> None:
    from bench import generate

    started = time.perf_counter()
    generate.main(["--database-url", url, "--contracts", "1000", "--meters-per-contract", "1", "--months", "1",
                   "--batch", "250", "--fresh"])
    app = generate._prepare(url, fresh=False)
    from crm.extensions import db
    from crm.models import AppealTopic, Branch, Contract, ContractAccess, WorkflowDefinition, WorkflowState
    from crm.services.appeal_definitions import ensure_appeal_definitions
    from crm.services.appeal_forms import current_workflow

    rng = random.Random(6)
    with app.app_context():
        ensure_appeal_definitions()
        db.session.commit()
        existing = list(db.session.scalars(select(Branch.id).order_by(Branch.id)))
        for i in range(len(existing), 5):
            db.session.add(Branch(code=f"{85 + i}", name=f"Филиал № {i + 1}"))
        db.session.commit()
        branch_ids = list(db.session.scalars(select(Branch.id).order_by(Branch.id)))[:5]
        contracts = db.session.execute(select(Contract.id, ContractAccess.user_id, Contract.branch_id)
                                       .join(ContractAccess, ContractAccess.contract_id == Contract.id)).all()
        # Spread the contracts over the five branches (the generator uses three).
        for index, (contract_id, _user, _branch) in enumerate(contracts):
            db.session.execute(Contract.__table__.update().where(Contract.id == contract_id)
                               .values(branch_id=branch_ids[index % 5]))
        db.session.commit()
        contracts = [(c, u, branch_ids[i % 5]) for i, (c, u, _b) in enumerate(contracts)]
        curators, _curator, _admin = _staff(app, branch_ids)
        sections = []
        for section in db.session.scalars(select(AppealTopic).where(AppealTopic.level == "section")):
            workflow = current_workflow(section)
            if workflow is not None:
                sections.append((section.parent_id, section.id, workflow.id))
        states = {w.id: [(s.code, s.is_closing, s.is_initial, s.sla_hours) for s in
                         db.session.scalars(select(WorkflowState).where(WorkflowState.workflow_id == w.id))]
                  for w in db.session.scalars(select(WorkflowDefinition))}
        print(f"\nbase data in {time.perf_counter() - started:.1f} s; appeals …", flush=True)

        now = datetime.now(UTC)
        letters = "Ю-Л"
        appeal_rows = []
        for seq in range(1, appeal_count + 1):
            contract_id, author_id, branch_id = contracts[rng.randrange(len(contracts))]
            topic_id, section_id, workflow_id = sections[rng.randrange(len(sections))]
            choices = states[workflow_id]
            closing = [s for s in choices if s[1]]
            open_states = [s for s in choices if not s[1]]
            created = now - timedelta(minutes=rng.randint(10, 60 * 24 * 365))
            closed = rng.random() < 0.7
            code = rng.choice(closing if closed else open_states)[0]
            last = min(now, created + timedelta(hours=rng.randint(1, 240)))
            due = None if closed else now + timedelta(hours=rng.randint(-48, 72))
            assignee = rng.choice(curators[branch_id]) if rng.random() < 0.8 else None
            appeal_rows.append((f"{seq:07d}-{created:%y}-{branch_id:02d}-{letters}", seq, author_id, contract_id,
                                branch_id, topic_id, section_id, workflow_id, code, "portal",
                                TITLES[seq % len(TITLES)], json.dumps({"question": BODIES[seq % len(BODIES)]}),
                                assignee, created, last, last, due,
                                min(now, last + timedelta(hours=2)) if closed else None,
                                rng.random() < 0.05, (not closed) and rng.random() < 0.2, letters,
                                created + timedelta(hours=rng.randint(1, 30)) if rng.random() < 0.9 else None))
        columns = ["number", "sequence", "author_id", "contract_id", "branch_id", "topic_id", "section_id",
                   "workflow_id", "state_code", "channel", "title", "form_data", "assignee_id", "created_at",
                   "last_message_at", "state_entered_at", "sla_due_at", "closed_at", "customer_unread", "staff_unread",
                   "person_type", "first_response_at"]
        t0 = time.perf_counter()
        with db.engine.begin() as conn:
            copy_rows(conn, "appeal", columns, appeal_rows)
            first_id = conn.exec_driver_sql("SELECT min(id) FROM appeal").scalar()
            print(f"  {appeal_count:,} appeals in {time.perf_counter() - t0:.1f} s", flush=True)
            t1 = time.perf_counter()

            def messages():
                for offset, row in enumerate(appeal_rows):
                    appeal_id = first_id + offset
                    author_id, assignee, created = row[2], row[12], row[13]
                    for k in range(per_appeal):
                        staff = k % 2 == 1
                        yield (appeal_id, (assignee if staff else author_id), staff, staff and k == 3,
                               BODIES[(offset + k) % len(BODIES)], False, created + timedelta(hours=k))
            count = copy_rows(conn, "appeal_message", ["appeal_id", "author_id", "from_staff", "internal", "body",
                                                   "needs_decision", "created_at"], messages())
            print(f"  {count:,} messages in {time.perf_counter() - t1:.1f} s", flush=True)
            conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('appeal', 'id'), (SELECT max(id) FROM appeal))")
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    print(f"built in {time.perf_counter() - started:.1f} s")


def measure(url: str, runs: int) -> tuple[int, list[tuple[str, float, float, float, int, int]]]:
    """Time each page of the plan; returns the number of appeals and (name, median, p95, CPU, SQL, status).

    A page that does not answer 200 after the warm-up (e.g. a dashboard not built yet) is reported with
    its status and no times instead of stopping the run.
    """
    from sqlalchemy import func

    from app import create_app
    from crm.extensions import db
    from crm.models import Appeal, CrmUser

    app = create_app({"CRM_CONFIG": "test", "SQLALCHEMY_DATABASE_URI": url, "TESTING": False, "DEBUG": False,
                      "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    results = []
    with app.app_context():
        statements = [0]
        event.listen(db.engine, "before_cursor_execute", lambda *a, **k: statements.__setitem__(0, statements[0] + 1))
        curator = db.session.scalar(select(CrmUser).where(CrmUser.username == "curator0-0@bench.example"))
        if curator is None:
            raise SystemExit(f"{url} has no curator0-0@bench.example: build it first (without --existing)")
        appeal_id = db.session.scalar(select(Appeal.id).where(Appeal.assignee_id == curator.id,
                                                              Appeal.closed_at.is_(None)).limit(1))
        appeal_count = db.session.scalar(select(func.count()).select_from(Appeal))
        db.session.remove()
    plan = [
        ("curator", "queue, default (SLA due)", "/admin/appeals/"),
        ("curator", "queue, mine + breached", "/admin/appeals/?assignee=mine&sla=breached"),
        ("curator", "queue, search by number", "/admin/appeals/?q=00012"),
        ("curator", "appeal card", f"/admin/appeals/{appeal_id}"),
        ("curator", "dashboard (/admin/)", "/admin/"),
        ("admin", "queue, default, all branches", "/admin/appeals/"),
        ("admin", "queue, unread, by last message", "/admin/appeals/?unread=1&sort=last_message"),
        ("admin", "appeals report, 30 days", "/admin/appeals/report/"),
    ]
    clients = {}
    for who, login in (("curator", "curator0-0@bench.example"), ("admin", "admin@bench.example")):
        client = app.test_client()
        response = client.post("/login/", data={"username": login, "password": PASSWORD})
        if response.status_code not in (200, 302):
            raise SystemExit(f"sign-in of {login} failed: {response.status_code}")
        clients[who] = client
    for who, name, path in plan:
        client = clients[who]
        status = 200
        for _ in range(3):
            status = client.get(path).status_code
            if status != 200:
                break
        if status != 200:
            print(f"{path} as {who}: HTTP {status} — not timed", flush=True)
            results.append((f"{who}: {name}", float("nan"), float("nan"), float("nan"), 0, status))
            continue
        times, cpu, counts = [], [], []
        for _ in range(runs):
            statements[0] = 0
            t0, c0 = time.perf_counter(), time.process_time()
            status = client.get(path).status_code
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
            counts.append(statements[0])
        results.append((f"{who}: {name}", statistics.median(times), p95(times), statistics.median(cpu),
                        int(statistics.median(counts)), status))
    return appeal_count, results


def result_line(figure: str, value: str, target: str, verdict: str) -> str:
    """The machine-readable line bench/all.py collects."""
    return f"RESULT | {figure} | {value} | {target} | {verdict}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Curator desk at 100 000 appeals in PostgreSQL.")
    parser.add_argument("--pg", default=DEFAULT_URL)
    parser.add_argument("--appeals", type=int, default=100_000)
    parser.add_argument("--messages-per-appeal", type=int, default=5)
    parser.add_argument("-n", type=int, default=40, help="timed requests per page")
    parser.add_argument("--existing", action="store_true", help="time an already built database")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not args.existing:
        build(args.pg, args.appeals, args.messages_per_appeal)
    out = io.StringIO()
    appeal_count, rows = measure(args.pg, args.n)
    print(f"\n{appeal_count:,} appeals, {args.n} requests per page", file=out)
    print(f"{'page':<44} {'median ms':>10} {'p95 ms':>8} {'app CPU ms':>11} {'SQL':>5}", file=out)
    by_name = {}
    for name, median, high, cpu, sql, status in rows:
        by_name[name] = (median, status)
        if status != 200:
            print(f"{name:<44} {'HTTP ' + str(status):>10}", file=out)
            continue
        mark = ""
        if name.startswith("curator: queue, default"):
            mark = f"  ≤ {TARGET_MS:g} ms target: " + ("met" if median <= TARGET_MS else "MISSED")
        elif name.startswith("curator: dashboard"):
            mark = f"  ≤ {DASHBOARD_TARGET_MS:g} ms target: " + ("met" if median <= DASHBOARD_TARGET_MS else "MISSED")
        print(f"{name:<44} {median:>10.1f} {high:>8.1f} {cpu:>11.1f} {sql:>5}{mark}", file=out)
    print(out.getvalue())
    size = f"{appeal_count:,} appeals".replace(",", " ")
    median, status = by_name["curator: queue, default (SLA due)"]
    print(result_line(f"curator queue /admin/appeals/ median ({size})", f"{median:.1f} ms", f"≤ {TARGET_MS:g} ms",
                      "met" if median <= TARGET_MS else "MISSED"))
    median, status = by_name["curator: appeal card"]
    print(result_line(f"curator appeal card median ({size})", f"{median:.1f} ms", "—", "info"))
    median, status = by_name["curator: dashboard (/admin/)"]
    if status == 200:
        print(result_line(f"curator dashboard /admin/ median ({size})", f"{median:.1f} ms",
                          f"≤ {DASHBOARD_TARGET_MS:g} ms", "met" if median <= DASHBOARD_TARGET_MS else "MISSED"))
    else:
        print(result_line(f"curator dashboard /admin/ median ({size})", f"HTTP {status}",
                          f"≤ {DASHBOARD_TARGET_MS:g} ms", "MISSED"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
