"""Background tasks whose worker died or whose queue entry was lost are recovered by a periodic job
(issue 8, nothing lost): requeued once and run to the end, failed with a message the second time."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from crm import clock
from crm.models.billing import Payment
from crm.models.integration import BackgroundTask
from crm.services import payment_exports, tasks
from tests import factories as f
from workflows import jobs
from workflows.schedule import PERIODIC_JOBS

NOON = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)


@pytest.fixture()
def contract_with_payments(app, db):
    clock.set_now(NOON)
    contract = f.contract()
    user = f.user("exports@recovery.example")
    f.grant(user, contract, "accountant")
    for day in (3, 9, 27):
        db.session.add(Payment(contract_id=contract.id, paid_on=date(2026, 3, day), amount=Decimal(f"{day}.50"),
                               status="paid", number=f"REC-{day}", bank="Банк", purpose="Оплата"))
    db.session.commit()
    return contract, user


def a_task(db, contract, user, status: str, age: timedelta, **extra) -> int:
    """A payments export left in `status`, started (or created) `age` ago — as a killed worker leaves it."""
    params = dict(payment_exports.ExportRequest(contract.id, date(2026, 3, 1), date(2026, 3, 31), None, "xlsx")
                  .params(), locale="ru", capability="view_finance", **extra)
    when = clock.now() - age
    task = BackgroundTask(kind="payments_export", user_id=user.id, contract_id=contract.id, params=params,
                          status=status, created_at=when, started_at=when if status == "running" else None,
                          progress=1 if status == "running" else 0, total=3)
    db.session.add(task)
    db.session.commit()
    return task.id


def reload(db, task_id: int) -> BackgroundTask:
    db.session.expire_all()
    return db.session.get(BackgroundTask, task_id)


def test_a_task_whose_worker_died_is_run_again_to_the_end(contract_with_payments, db):
    contract, user = contract_with_payments
    task_id = a_task(db, contract, user, "running", timedelta(minutes=20))
    assert jobs.recover_interrupted_tasks_job() == 1
    task = reload(db, task_id)
    assert (task.status, task.progress, task.total) == ("done", 3, 3)
    assert task.result_key and task.params[tasks.INTERRUPTED_KEY] == 1


def test_a_task_interrupted_twice_fails_with_a_message_instead_of_looping(contract_with_payments, db):
    contract, user = contract_with_payments
    task_id = a_task(db, contract, user, "running", timedelta(minutes=20), **{tasks.INTERRUPTED_KEY: 1})
    assert jobs.recover_interrupted_tasks_job() == 1
    task = reload(db, task_id)
    assert task.status == "failed" and task.result_key is None
    assert "дважды прерывалось" in task.error


def test_a_queued_task_whose_queue_entry_was_lost_is_enqueued_again(contract_with_payments, db):
    contract, user = contract_with_payments
    task_id = a_task(db, contract, user, "queued", timedelta(minutes=16))
    assert jobs.recover_interrupted_tasks_job() == 1
    assert reload(db, task_id).status == "done"


def test_tasks_still_within_their_time_are_left_alone(contract_with_payments, db):
    contract, user = contract_with_payments
    running = a_task(db, contract, user, "running", timedelta(minutes=5))
    queued = a_task(db, contract, user, "queued", timedelta(minutes=5))
    assert jobs.recover_interrupted_tasks_job() == 0
    assert (reload(db, running).status, reload(db, queued).status) == ("running", "queued")


def test_the_recovery_runs_periodically():
    assert (jobs.recover_interrupted_tasks_job, 300) in PERIODIC_JOBS
