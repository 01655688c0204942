"""Peer bench: django-helpdesk seeded like bench/appeals.py, timed beside our curator desk (issue 8 item 3).

    bench/peer/.venv/bin/python bench/peer/run.py seed     # drop, migrate and fill crm_bench_peer_helpdesk
    bench/peer/.venv/bin/python bench/peer/run.py time     # time the peer, then ours, print the ratio
    bench/peer/.venv/bin/python bench/peer/run.py all      # both

Runs in the peer's own venv (Django + django-helpdesk); our figures come from
`.venv/bin/python -m bench.appeals --existing -n N [--pg URL]` (`--ours-pg URL`), run as a subprocess from
the repository root. `time` ends with `RESULT | … | ratio | ≥ 3× | met/MISSED` lines for bench/all.py.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peer_settings")

import django  # noqa: E402

PASSWORD = "Bench2026pass"
QUEUES = 5
STAFF_PER_QUEUE = 4
TITLES = ("Не принимаются показания", "Вопрос по счёту за электроэнергию", "Изменение реквизитов",
          "Заключение договора энергоснабжения", "Предоставление роли «Администратор»", "Ошибка в акте сверки",
          "Перерасчёт по прибору учёта", "Замена прибора учёта", "Отключение электроэнергии", "Доступ к порталу")
BODIES = ("Добрый день! Прошу разобраться с вопросом по договору.", "Направляем документы во вложении.",
          "Обращение принято в работу, ответим в течение двух рабочих дней.",
          "Пришлите, пожалуйста, фото табло прибора учёта.", "Спасибо, вопрос решён.",
          "Проверили данные, расхождение устранено.")
OURS = re.compile(r"^(curator|admin): (.+?)\s{2,}([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\d+)", re.M)


def _recreate_database() -> None:
    """Drop and create the peer's database (its name must contain "bench", like every bench here)."""
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    if "bench" not in db["NAME"]:
        raise SystemExit(f"refusing to drop {db['NAME']!r}: the name must contain 'bench'")
    with psycopg.connect(host=db["HOST"], port=db["PORT"], user=db["USER"], dbname="postgres",
                         autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db["NAME"]}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db["NAME"]}"')


def _copy(cursor, table: str, columns: list[str], rows) -> int:
    count = 0
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def seed(tickets: int, per_ticket: int) -> None:
    """Same shape as bench/appeals.py: 5 queues (branches) × 4 staff, 70 % closed, 80 % assigned, N follow-ups."""
    _recreate_database()
    django.setup()
    from django.contrib.auth.models import Permission, User
    from django.core.management import call_command
    from django.db import connection, transaction
    from helpdesk.models import Queue

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"migrated in {time.perf_counter() - started:.1f} s", flush=True)
    rng = random.Random(6)
    staff: dict[int, list[int]] = {}
    with transaction.atomic():
        User.objects.create_superuser("admin", "admin@bench.example", PASSWORD)
        for q in range(QUEUES):
            queue = Queue.objects.create(title=f"Филиал № {q + 1}", slug=f"branch{q + 1}",
                                         allow_public_submission=False, allow_email_submission=False)
            codename = queue.permission_name.split(".", 1)[1]
            permission = Permission.objects.get(codename=codename)
            for k in range(STAFF_PER_QUEUE):
                user = User.objects.create_user(f"curator{q}-{k}", f"curator{q}-{k}@bench.example", PASSWORD,
                                                is_staff=True, first_name="Куратор", last_name=f"Бенчев-{q}-{k}")
                user.user_permissions.add(permission)
                staff.setdefault(queue.id, []).append(user.id)
    queue_ids = sorted(staff)
    now = datetime.now(UTC)
    rows = []
    for seq in range(1, tickets + 1):
        queue_id = queue_ids[rng.randrange(QUEUES)]
        created = now - timedelta(minutes=rng.randint(10, 60 * 24 * 365))
        closed = rng.random() < 0.7
        status = rng.choice((3, 4)) if closed else rng.choice((1, 1, 1, 2))
        last = min(now, created + timedelta(hours=rng.randint(1, 240)))
        due = None if closed else now + timedelta(hours=rng.randint(-48, 72))
        assignee = rng.choice(staff[queue_id]) if rng.random() < 0.8 else None
        rows.append((TITLES[seq % len(TITLES)], created, last, f"customer{seq % 1000}@bench.example", status,
                     False, BODIES[seq % len(BODIES)], None, rng.randint(1, 5), due, assignee, queue_id,
                     str(uuid.UUID(int=rng.getrandbits(128)))))
    columns = ["title", "created", "modified", "submitter_email", "status", "on_hold", "description", "resolution",
               "priority", "due_date", "assigned_to_id", "queue_id", "secret_key"]
    with transaction.atomic(), connection.cursor() as wrapper:
        cursor = wrapper.cursor
        t0 = time.perf_counter()
        _copy(cursor, "helpdesk_ticket", columns, rows)
        cursor.execute("SELECT min(id) FROM helpdesk_ticket")
        first_id = cursor.fetchone()[0]
        print(f"  {tickets:,} tickets in {time.perf_counter() - t0:.1f} s", flush=True)
        t1 = time.perf_counter()

        def followups():
            for offset, row in enumerate(rows):
                assignee, created = row[10], row[1]
                for k in range(per_ticket):
                    from_staff = k % 2 == 1
                    yield (first_id + offset, created + timedelta(hours=k),
                           "Comment" if k else "Ticket Opened", BODIES[(offset + k) % len(BODIES)],
                           not (from_staff and k == 3), None, assignee if from_staff else None)
        count = _copy(cursor, "helpdesk_followup",
                      ["ticket_id", "date", "title", "comment", "public", "new_status", "user_id"], followups())
        print(f"  {count:,} follow-ups in {time.perf_counter() - t1:.1f} s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"seeded in {time.perf_counter() - started:.1f} s")


def _timed(client, path: str, runs: int, statements: list[int]) -> tuple[float, float, float, int]:
    for _ in range(3):
        response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"{path}: HTTP {response.status_code}")
    times, cpu, counts = [], [], []
    for _ in range(runs):
        statements[0] = 0
        t0, c0 = time.perf_counter(), time.process_time()
        client.get(path)
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        counts.append(statements[0])
    return statistics.median(times), _p95(times), statistics.median(cpu), int(statistics.median(counts))


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def measure_peer(runs: int) -> tuple[int, list[tuple[str, float, float, float, int]]]:
    """The ticket list as its page loads it (HTML shell, then the datatables JSON), and one ticket page."""
    django.setup()
    import gc

    from django.db import connection
    from django.test import Client
    from helpdesk.models import Ticket
    from helpdesk.query import query_to_base64

    statements = [0]

    def count(execute, sql, params, many, context):
        statements[0] += 1
        return execute(sql, params, many, context)

    # The list page's default query (views/staff.py ticket_list: open + reopened, by created) and the
    # parameters its DataTable sends for the first page of 25 rows (ticket_list.html).
    query = query_to_base64({"filtering": {"status__in": [1, 2]}, "sorting": "created", "search_string": "",
                             "sortreverse": False})
    data = (f"/helpdesk/datatables_ticket_list/{query}?draw=1&start=0&length=25"
            "&order%5B0%5D%5Bcolumn%5D=5&order%5B0%5D%5Bdir%5D=asc&search%5Bvalue%5D=")
    clients = {}
    for who, login in (("curator", "curator0-0"), ("admin", "admin")):
        client = Client()
        if not client.login(username=login, password=PASSWORD):
            raise SystemExit(f"sign-in of {login} failed")
        clients[who] = client
    ticket_count = Ticket.objects.count()
    ticket_id = (Ticket.objects.filter(assigned_to__username="curator0-0", status__in=[1, 2])
                 .values_list("id", flat=True).first())
    plan = [
        ("curator", "ticket list data (datatables JSON)", data),
        ("curator", "ticket list page (HTML shell)", "/helpdesk/tickets/"),
        ("curator", "ticket page", f"/helpdesk/tickets/{ticket_id}/"),
        ("admin", "ticket list data, all queues", data),
    ]
    gc.collect()
    gc.freeze()  # as our bench does (crm.serving.prepare_for_serving)
    results = []
    with connection.execute_wrapper(count):
        for who, name, path in plan:
            results.append((f"{who}: {name}", *_timed(clients[who], path, runs, statements)))
    return ticket_count, results


def measure_ours(runs: int, url: str | None) -> tuple[int | None, dict[str, tuple[float, float, float, int]]]:
    """Run bench.appeals --existing in the project's venv and parse its table (and its appeal count)."""
    command = [str(ROOT / ".venv/bin/python"), "-m", "bench.appeals", "--existing", "-n", str(runs)]
    if url:
        command += ["--pg", url]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    count = re.search(r"^([\d,]+) appeals, ", done.stdout, re.M)
    rows = {f"{m[0]}: {m[1]}": (float(m[2]), float(m[3]), float(m[4]), int(m[5])) for m in OURS.findall(done.stdout)}
    return (int(count.group(1).replace(",", "")) if count else None), rows


def _n(value: int | None) -> str:
    return "?" if value is None else f"{value:,}".replace(",", " ")


def report(runs: int, ours_url: str | None = None) -> None:
    ticket_count, peer = measure_peer(runs)
    print(f"\ndjango-helpdesk, {ticket_count:,} tickets, {runs} requests per page")
    print(f"{'page':<44} {'median ms':>10} {'p95 ms':>8} {'app CPU ms':>11} {'SQL':>5}")
    for name, median, high, cpu, sql in peer:
        print(f"{name:<44} {median:>10.1f} {high:>8.1f} {cpu:>11.1f} {sql:>5}")
    appeal_count, ours = measure_ours(runs, ours_url)
    print(f"\nours (bench.appeals --existing -n {runs}), {_n(appeal_count)} appeals")
    for name, (median, high, cpu, sql) in ours.items():
        print(f"{name:<44} {median:>10.1f} {high:>8.1f} {cpu:>11.1f} {sql:>5}")
    peer_by = {name: median for name, median, *_ in peer}
    pairs = [
        # (label, RESULT figure, our row, peer row (None: shell + data), target ratio or None)
        ("curator queue vs ticket list data", "curator queue vs django-helpdesk ticket list data endpoint",
         "curator: queue, default (SLA due)", "curator: ticket list data (datatables JSON)", 3.0),
        ("curator queue vs list shell + data", "curator queue vs django-helpdesk list page shell + data",
         "curator: queue, default (SLA due)", None, None),
        ("admin queue vs ticket list data, all", "admin queue (all branches) vs django-helpdesk admin list data",
         "admin: queue, default, all branches", "admin: ticket list data, all queues", None),
        ("appeal card vs ticket page", "appeal card vs django-helpdesk ticket page",
         "curator: appeal card", "curator: ticket page", None),
    ]
    size = f"{_n(appeal_count)} appeals / {_n(ticket_count)} tickets"
    results = []
    print(f"\n{'comparison':<40} {'ours ms':>8} {'peer ms':>8} {'ratio':>6}")
    for label, figure, our_name, peer_name, target in pairs:
        if our_name not in ours:
            print(f"{label:<40} (our row {our_name!r} missing)")
            results.append(f"RESULT | {figure} ({size}) | our row missing | "
                           f"{f'≥ {target:g}×' if target else '—'} | {'MISSED' if target else 'info'}")
            continue
        mine = ours[our_name][0]
        theirs = (peer_by[peer_name] if peer_name else peer_by["curator: ticket list data (datatables JSON)"]
                  + peer_by["curator: ticket list page (HTML shell)"])
        ratio = theirs / mine
        mark = f"  ≥ {target:g}× target: {'met' if ratio >= target else 'MISSED'}" if target else ""
        print(f"{label:<40} {mine:>8.1f} {theirs:>8.1f} {ratio:>5.1f}×{mark}")
        verdict = ("met" if ratio >= target else "MISSED") if target else "info"
        results.append(f"RESULT | {figure} ({size}) | {ratio:.1f}× ({mine:.1f} vs {theirs:.1f} ms) | "
                       f"{f'≥ {target:g}×' if target else '—'} | {verdict}")
    if appeal_count is not None and appeal_count != ticket_count:
        print(f"\nnote: {appeal_count} appeals against {ticket_count} tickets — not the same count; "
              "seed both with the same number (bench.appeals --appeals N, run.py seed --tickets N)")
    print()
    for line in results:
        print(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="django-helpdesk beside the curator desk at 100 000 tickets.")
    parser.add_argument("step", choices=("seed", "time", "all"))
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--followups-per-ticket", type=int, default=5)
    parser.add_argument("-n", type=int, default=40, help="timed requests per page")
    parser.add_argument("--ours-pg", help="our desk's database (bench.appeals --pg; default its crm_bench_appeals)")
    args = parser.parse_args(argv)
    if args.step in ("seed", "all"):
        seed(args.tickets, args.followups_per_ticket)
    if args.step in ("time", "all"):
        report(args.n, args.ours_pg)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
