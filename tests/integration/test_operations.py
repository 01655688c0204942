"""Operations (SPEC B10): outbox resend, failed jobs with retry (real Redis and worker), periodic jobs,
queue depth, the audit log's filters, and a page that survives Redis being down."""
from __future__ import annotations

import itertools
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from crm import clock
from crm.models import AuditLog, EmailOutbox
from crm.models.integration import BackgroundTask
from crm.services import tasks
from tests import factories as f
from tests.services import wait_until

_seq = itertools.count(1)
OPS = "/admin/operations/"


def _staff(client, role: str = "Admin") -> None:
    from crm.extensions import db

    username = f"ops_{role.lower()}{next(_seq)}"
    f.user(f"{username}@energo.example", username=username, roles=(role,))
    db.session.commit()
    assert f.staff_login(client, username).status_code == 302


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def _plain(response) -> str:
    """What a person reads: the page without tags."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def flaky_job(marker: str) -> str:
    """Fails on its first run, succeeds once retried (the marker file remembers the first run)."""
    path = Path(marker)
    if not path.exists():
        path.write_text("failed once")
        raise RuntimeError("first run fails on purpose")
    return "ok on retry"


@tasks.register("ops_test_export")
def _ops_test_runner(task, progress):
    handle = tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False)
    handle.write("a;b\n")
    handle.close()
    return tasks.TaskResult(path=handle.name, name="ops.csv", rows=1, suffix=".csv")


# --- outbox ------------------------------------------------------------------------------------------

@pytest.fixture()
def smtp(app, mailbox):
    previous = app.config.get("SMTP_URL")
    app.config["SMTP_URL"] = mailbox.url
    yield mailbox
    app.config["SMTP_URL"] = previous


def test_failed_email_is_delivered_when_admin_resends_it(app, db, client, smtp):
    row = EmailOutbox(to_address="ivanova@client.example", subject="Квитанция", body_text="Платёж получен.",
                      status="failed", attempts=5, last_error="550 mailbox unavailable")
    db.session.add(row)
    db.session.commit()
    _staff(client)
    assert "Ошибка доставки: 1" in _plain(client.get(OPS))

    response = client.post("/admin/outbox/action_post", data={"action": "retry", "rowid": [str(row.id)]})

    assert response.status_code == 302
    message = smtp.wait_for(1)[0]
    assert message["To"] == "ivanova@client.example" and message["Subject"] == "Квитанция"
    db.session.expire_all()
    sent = db.session.get(EmailOutbox, row.id)
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 1, None)


def test_outbox_lists_only_failed_messages_when_filtered_by_status(app, db, client):
    db.session.add_all([EmailOutbox(to_address="a@x.example", subject="Не ушло", body_text=".", status="failed"),
                        EmailOutbox(to_address="b@x.example", subject="Ушло", body_text=".", status="sent")])
    db.session.commit()
    _staff(client, "Auditor")

    page = _text(client.get("/admin/outbox/list/?_flt_0_status=failed"))

    assert "Не ушло" in page and "Ушло" not in page.replace("Не ушло", "")


# --- in-process mode ---------------------------------------------------------------------------------

def test_page_says_in_process_mode_and_lists_periodic_jobs_when_no_redis(app, db, client):
    _staff(client)

    page = _text(client.get(OPS))

    assert "Режим без очереди" in page
    assert "workflows.jobs.sweep_outbox_job" in page and "каждые 1 мин" in page
    assert "workflows.jobs.readings_reminders_job" in page and "каждые 1 ч" in page


def test_failed_background_task_runs_again_when_admin_retries_it(app, db, client):
    owner = f.user("exporter@client.example")
    task = BackgroundTask(kind="ops_test_export", user_id=owner.id, params={}, status="failed",
                          error="The task failed.", finished_at=clock.now())
    db.session.add(task)
    db.session.commit()
    _staff(client)
    assert f"ops_test_export № {task.id}" in _plain(client.get(OPS))

    response = client.post(f"{OPS}tasks/{task.id}/retry")

    assert response.status_code == 302
    db.session.expire_all()
    done = db.session.get(BackgroundTask, task.id)
    assert (done.status, done.result_name, done.error) == ("done", "ops.csv", None)
    assert db.session.scalar(select(AuditLog.action).where(AuditLog.subject_id == task.id,
                                                           AuditLog.subject_type == "background_task")) \
        == "operations.task_retry"
    assert client.post(f"{OPS}tasks/{task.id}/retry").status_code == 302   # a second click changes nothing
    db.session.expire_all()
    assert db.session.get(BackgroundTask, task.id).status == "done"


def test_auditor_reads_the_page_but_is_refused_when_retrying(app, db, client):
    task = BackgroundTask(kind="ops_test_export", params={}, status="failed", finished_at=clock.now())
    db.session.add(task)
    db.session.commit()
    _staff(client, "Auditor")

    assert client.get(OPS).status_code == 200
    assert client.post(f"{OPS}tasks/{task.id}/retry").status_code in (302, 403)
    db.session.expire_all()
    assert db.session.get(BackgroundTask, task.id).status == "failed"


def test_customer_is_refused_when_opening_operations(app, db, client):
    f.user("buh@zavod.example")
    db.session.commit()
    f.login(client, "buh@zavod.example")

    response = client.get(OPS)

    assert response.status_code in (302, 403)
    assert "Очередь заданий" not in response.get_data(as_text=True)


# --- audit log ---------------------------------------------------------------------------------------

def _audit(action, actor, subject_type=None, subject_id=None, when=None):
    return AuditLog(action=action, actor_label=actor, subject_type=subject_type, subject_id=subject_id,
                    created_at=when or clock.now())


@pytest.fixture()
def audit_rows(db):
    rows = [_audit("contract_role.granted", "admin@energo.example", "contract", 7,
                   datetime(2026, 11, 2, 9, tzinfo=UTC)),
            _audit("contract_role.changed", "curator@energo.example", "contract", 8,
                   datetime(2026, 11, 10, 9, tzinfo=UTC)),
            _audit("password.recovery_requested", "ivanov@client.example", "user", 7,
                   datetime(2026, 11, 20, 21, 30, tzinfo=UTC)),   # 21.11 00:30 in Moscow
            _audit("payment.paid", "ivanov@client.example", "payment", 3, datetime(2026, 10, 1, 9, tzinfo=UTC))]
    db.session.add_all(rows)
    db.session.commit()
    return rows


def _actions(response) -> list[str]:
    return re.findall(r"<td><code>([a-z0-9_.]+)</code></td>", response.get_data(as_text=True))


def test_audit_filters_by_actor_action_subject_and_dates_when_given(app, db, client, audit_rows):
    _staff(client, "Auditor")
    url = "/admin/audit/list/"

    assert _actions(client.get(url + "?actor=IVANOV")) == ["password.recovery_requested", "payment.paid"]
    assert _actions(client.get(url + "?action=contract_role")) == ["contract_role.changed", "contract_role.granted"]
    assert _actions(client.get(url + "?subject_type=contract&subject_id=7")) == ["contract_role.granted"]
    assert _actions(client.get(url + "?date_from=01.11.2026&date_to=20.11.2026")) == [
        "contract_role.changed", "contract_role.granted"]
    assert _actions(client.get(url + "?date_from=2026-11-21&date_to=2026-11-21")) == ["password.recovery_requested"]


def test_audit_refuses_a_malformed_date_with_its_message_when_filtered(app, db, client, audit_rows):
    _staff(client)

    response = client.get("/admin/audit/list/?date_from=32.13.2026&subject_id=abc")

    assert response.status_code == 400
    page = _text(response)
    assert "Укажите дату в формате дд.мм.гггг" in page
    assert "Номер объекта должен быть целым числом." in page


def test_audit_pages_to_older_records_when_there_are_more_than_a_page(app, db, client):
    from crm.services import audit_search

    db.session.add_all([_audit(f"test.n{n:03d}", "x@y.example", when=datetime(2026, 1, 1, tzinfo=UTC))
                        for n in range(audit_search.PAGE_SIZE + 5)])
    db.session.commit()
    _staff(client)

    first = client.get("/admin/audit/list/?action=test.")
    more = re.search(r'href="([^"]+)"[^>]*>\s*Более ранние записи', first.get_data(as_text=True)).group(1)
    second = client.get(more.replace("&amp;", "&"))

    assert len(_actions(first)) == audit_search.PAGE_SIZE and len(_actions(second)) == 5
    assert not set(_actions(first)) & set(_actions(second))


# --- RQ mode: real Redis, real worker ----------------------------------------------------------------

def test_failed_rq_job_is_listed_and_succeeds_when_admin_retries_it(rq_app, start_worker, tmp_path):
    from workflows.queue import get_rq_queue

    start_worker()
    queue = get_rq_queue()
    marker = str(tmp_path / "flaky.marker")
    job = queue.enqueue(flaky_job, marker)   # no retry policy: it lands in the failed registry at once
    wait_until(lambda: job.get_status(refresh=True) == "failed", message="the job to fail")
    client = rq_app.test_client()
    _staff(client)

    page = _text(client.get(OPS))
    assert "tests.integration.test_operations.flaky_job" in page
    assert "RuntimeError: first run fails on purpose" in page
    assert "Обработчиков: 1" in page

    response = client.post(f"{OPS}jobs/{job.id}/retry")

    assert response.status_code == 302
    wait_until(lambda: job.get_status(refresh=True) == "finished", message="the retried job to finish")
    assert job.return_value() == "ok on retry"
    assert "flaky_job" not in _text(client.get(OPS))


def test_queue_depth_and_missing_worker_are_shown_when_jobs_wait(rq_app, redis_server):
    from workflows.jobs import sweep_outbox_job
    from workflows.queue import get_rq_queue

    for _ in range(3):
        get_rq_queue().enqueue(sweep_outbox_job)
    client = rq_app.test_client()
    _staff(client)

    page = _text(client.get(OPS))

    assert re.search(r"<td><code>crm</code></td><td>3</td>", page), page
    assert "Обработчиков: 0" in page and "ни один обработчик не запущен" in page
    assert "Планировщик периодических заданий не запущен" in page


def test_next_run_of_periodic_jobs_comes_from_the_cron_scheduler_when_it_runs(rq_app, start_worker):
    start_worker(cron=True)
    client = rq_app.test_client()
    _staff(client)

    page = _text(client.get(OPS))

    assert "Время — по планировщику RQ" in page
    row = re.search(r"workflows.jobs.sweep_outbox_job</code>.*?</tr>", page).group(0)
    assert len(re.findall(r"\d\d\.\d\d\.\d{4} \d\d:\d\d", row)) == 2, row   # last and next run


def test_page_answers_200_saying_redis_is_unavailable_when_redis_is_down(rq_app, redis_server):
    from crm.extensions import db

    failed = EmailOutbox(to_address="a@x.example", subject="x", body_text=".", status="failed")
    db.session.add(failed)
    db.session.commit()
    client = rq_app.test_client()
    _staff(client)
    redis_server.stop()

    response = client.get(OPS)

    assert response.status_code == 200
    page = _text(response)
    assert "Redis недоступен" in page
    assert "Ошибка доставки: 1" in _plain(response), "the outbox part still works"


def test_every_periodic_job_is_described_in_russian_on_the_page(app):
    """Operators read what a job does, not its code path only (the path stays beside it)."""
    from crm.services.operations import JOB_TITLES
    from workflows.schedule import PERIODIC_JOBS

    assert {job.__name__ for job, _interval in PERIODIC_JOBS} <= set(JOB_TITLES)
    with app.test_request_context():
        from crm.services.operations import scheduled_jobs

        titles = [job["doc"] for job in scheduled_jobs().jobs]
    assert "Отправка писем из очереди (и повтор зависших)" in titles
    assert all(any("а" <= ch <= "я" for ch in title.lower()) for title in titles)
