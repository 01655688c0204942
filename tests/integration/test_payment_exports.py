"""Payment history exports (SPEC C11, W3; issue 5 acceptance 3): xlsx read back with calamine, csv
with csv, pdf with pypdf, each compared with the data; a large export runs as a background task
with progress, in-process and on the real RQ worker; only the task's owner sees it."""
from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy import select

from crm import clock
from crm.extensions import db as database
from crm.models.billing import Payment
from crm.models.integration import BackgroundTask
from crm.models.outbox import EmailOutbox
from crm.services import payment_exports, tasks
from crm.storage import get_storage
from tests import factories as f

MID_MARCH = datetime(2026, 3, 15, 9, 0, tzinfo=UTC)
STATUS_RU = {"paid": "Оплачен", "pending": "В процессе", "failed": "Не прошёл"}


def add_payment(contract, paid_on: date, amount: str, status="paid", number=None, purpose=None) -> Payment:
    payment = Payment(contract_id=contract.id, paid_on=paid_on, amount=Decimal(amount), status=status,
                      number=number or f"PP-{paid_on:%m%d}-{amount}", bank='АО "АБ "РОССИЯ"',
                      purpose=purpose or f"Оплата задолженности по договору № {contract.number}")
    database.session.add(payment)
    return payment


@pytest.fixture()
def march(app, db):
    clock.set_now(MID_MARCH)
    contract = f.contract()
    f.grant(f.user("accountant@export.example"), contract, "accountant")
    f.grant(f.user("manager@export.example"), contract, "manager")
    add_payment(contract, date(2026, 3, 1), "1116218.00", number="MAR-FIRST", purpose='Оплата; "кавычки", запятые')
    add_payment(contract, date(2026, 3, 12), "44.44", status="pending", number="MAR-PENDING")
    add_payment(contract, date(2026, 3, 20), "5.00", status="failed", number="MAR-FAILED")
    add_payment(contract, date(2026, 3, 31), "0.10", number="MAR-LAST")
    add_payment(contract, date(2026, 4, 1), "7.00", number="APR-FIRST")
    db.session.commit()
    return contract


def signed_in(app, email="accountant@export.example"):
    client = app.test_client()
    assert f.login(client, email).status_code == 302
    return client


def export(client, contract, fmt, **params):
    return client.get(f"/portal/contracts/{contract.id}/payments/export",
                      query_string={"format": fmt, **params})


EXPECTED = [  # newest first, as the page shows them
    (date(2026, 3, 31), "MAR-LAST", Decimal("0.10"), "Оплачен"),
    (date(2026, 3, 20), "MAR-FAILED", Decimal("5.00"), "Не прошёл"),
    (date(2026, 3, 12), "MAR-PENDING", Decimal("44.44"), "В процессе"),
    (date(2026, 3, 1), "MAR-FIRST", Decimal("1116218.00"), "Оплачен"),
]


def xlsx_rows(data: bytes) -> list[list]:
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
    return sheet.to_python()


def as_date(value) -> date:
    return value.date() if isinstance(value, datetime) else value


def test_xlsx_export_reads_back_equal_to_the_payments_of_the_period(app, march):
    response = export(signed_in(app), march, "xlsx")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    assert f'payments_{march.number}_20260301-20260331.xlsx' in response.headers["Content-Disposition"]
    rows = xlsx_rows(response.data)
    assert rows[0][0] == f"Платежи по договору № {march.number} с 01.03.2026 по 31.03.2026"
    assert rows[1] == ["Дата", "№ платёжного поручения", "Банк", "Назначение платежа", "Сумма, ₽", "Статус"]
    body = rows[2:-1]
    assert [(as_date(r[0]), r[1], Decimal(str(r[4])).quantize(Decimal("0.01")), r[5]) for r in body] == EXPECTED
    assert body[-1][3] == 'Оплата; "кавычки", запятые' and body[0][2] == 'АО "АБ "РОССИЯ"'
    assert rows[-1][3] == "Итого" and Decimal(str(rows[-1][4])).quantize(Decimal("0.01")) == Decimal("1116267.54")


def test_csv_export_is_utf8_with_bom_and_semicolons_for_russian_excel(app, march):
    response = export(signed_in(app), march, "csv", status="paid")
    assert response.status_code == 200 and response.data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Дата", "№ платёжного поручения", "Банк", "Назначение платежа", "Сумма, ₽", "Статус"]
    assert rows[1:] == [
        ["31.03.2026", "MAR-LAST", 'АО "АБ "РОССИЯ"', f"Оплата задолженности по договору № {march.number}", "0,10",
         "Оплачен"],
        ["01.03.2026", "MAR-FIRST", 'АО "АБ "РОССИЯ"', 'Оплата; "кавычки", запятые', "1116218,00", "Оплачен"],
    ]


def test_pdf_export_holds_every_payment_and_the_total(app, march):
    from pypdf import PdfReader

    response = export(signed_in(app), march, "pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)
    text = re.sub(r"\s+", " ", text.replace("\u00a0", " "))
    for _day, number, _amount, status in EXPECTED:
        assert number in text and status in text
    assert "1 116 218,00" in text and "44,44" in text and "1 116 267,54" in text
    assert "APR-FIRST" not in text and "Итого" in text


def test_export_of_a_bad_filter_goes_back_to_the_page(app, march):
    response = export(signed_in(app), march, "xlsx", date_from="31.02.2026")
    assert response.status_code == 302 and "/payments?date_from=31.02.2026" in response.headers["Location"]


def test_history_page_offers_the_three_formats_with_the_filter(app, march):
    html = signed_in(app).get(f"/portal/contracts/{march.id}/payments", query_string={"status": "paid"}).get_data(
        as_text=True)
    for fmt in ("xlsx", "csv", "pdf"):
        assert f"format={fmt}" in html
    assert "date_from=2026-03-01" in html and "status=paid" in html


# --- large exports as background tasks ----------------------------------------------------------------

@pytest.fixture()
def many(march, app, db, monkeypatch):
    """Twelve more payments, a threshold of 5 rows, batches of 4, progress after every batch."""
    for day in range(1, 13):
        add_payment(march, date(2026, 3, day), f"{day}.01", number=f"BULK-{day:02d}")
    db.session.commit()
    monkeypatch.setitem(app.config, "EXPORT_INLINE_MAX_ROWS", 5)
    monkeypatch.setattr(payment_exports, "BATCH", 4)
    monkeypatch.setattr(tasks, "PROGRESS_EVERY", 1)
    return march


def test_large_export_runs_as_a_task_with_progress_and_a_download_when_in_process(app, many, query_counter):
    client = signed_in(app)
    with query_counter() as counted:
        response = export(client, many, "xlsx")
    assert response.status_code == 302
    task_url = response.headers["Location"]
    assert re.fullmatch(r"/portal/tasks/\d+", task_url)
    task = database.session.scalars(select(BackgroundTask)).one()
    assert (task.status, task.progress, task.total, task.kind) == ("done", 16, 16, "payments_export")
    progress_writes = [s for s in counted.statements if s.startswith("UPDATE background_task SET progress")]
    assert len(progress_writes) == 4  # 16 rows in batches of 4
    page = client.get(task_url).get_data(as_text=True)
    assert 'data-percent="100"' in page and "task_progress.js" in page and "Скачать" in page
    assert client.get(f"{task_url}.json").get_json()["status"] == "done"
    download = client.get(f"{task_url}/download")
    assert download.status_code == 200
    rows = xlsx_rows(download.data)
    assert len(rows) == 2 + 16 + 1 and [r[1] for r in rows[2:6]] == ["MAR-LAST", "MAR-FAILED", "BULK-12",
                                                                      "MAR-PENDING"]
    assert Decimal(str(rows[-1][4])).quantize(Decimal("0.01")) == Decimal("1116267.54") + sum(
        Decimal(f"{day}.01") for day in range(1, 13))


def test_large_result_is_also_e_mailed_with_a_link_when_above_the_mail_threshold(app, many, monkeypatch):
    monkeypatch.setitem(app.config, "EXPORT_EMAIL_MIN_ROWS", 10)
    response = export(signed_in(app), many, "csv")
    task_id = int(response.headers["Location"].rsplit("/", 1)[1])
    mail = database.session.scalars(select(EmailOutbox)).one()
    assert mail.to_address == "accountant@export.example" and mail.category == "task_done"
    assert f"/portal/tasks/{task_id}" in mail.body_text and "Файл готов" in mail.subject


def test_small_export_sends_no_mail_and_makes_no_task(app, march):
    assert export(signed_in(app), march, "csv").status_code == 200
    assert database.session.scalars(select(BackgroundTask)).all() == []


def test_another_users_task_is_404_on_page_json_and_download(app, many):
    owner = signed_in(app)
    task_url = export(owner, many, "xlsx").headers["Location"]
    other = signed_in(app, "manager@export.example")
    for suffix in ("", ".json", "/download"):
        assert other.get(task_url + suffix).status_code == 404
        assert owner.get(task_url + suffix).status_code == 200


def test_task_is_404_when_the_owner_lost_the_role_on_the_contract(app, many, db):
    from crm.models.access import ContractAccess

    client = signed_in(app)
    task_url = export(client, many, "xlsx").headers["Location"]
    db.session.execute(ContractAccess.__table__.delete())
    db.session.commit()
    assert client.get(task_url + "/download").status_code == 404


def test_task_fails_with_its_message_when_the_runner_refuses(app, many, monkeypatch, db):
    from crm.models import CrmUser

    monkeypatch.setattr(payment_exports, "PDF_MAX_ROWS", 3)
    client = signed_in(app)
    response = export(client, many, "pdf")  # refused at once rather than queued to fail
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/contracts/{many.id}/payments")
    assert db.session.scalars(select(BackgroundTask)).all() == []
    user = db.session.scalar(select(CrmUser).where(CrmUser.email == "accountant@export.example"))
    params = dict(payment_exports.ExportRequest(many.id, date(2026, 3, 1), date(2026, 3, 31), None, "pdf").params(),
                  locale="ru", capability="view_finance")
    with app.test_request_context():
        task = tasks.create_task(user, "payments_export", params, contract_id=many.id)
    task = db.session.get(BackgroundTask, task.id)
    db.session.refresh(task)
    assert task.status == "failed" and task.result_key is None
    page = client.get(f"/portal/tasks/{task.id}").get_data(as_text=True)
    assert "PDF может содержать не больше 3 платежей" in page
    assert client.get(f"/portal/tasks/{task.id}/download").status_code == 404


def test_large_export_runs_on_the_rq_worker_with_progress(rq_app, rq_worker, many):
    rq_app.config["EXPORT_INLINE_MAX_ROWS"] = 5
    client = rq_app.test_client()
    assert f.login(client, "accountant@export.example").status_code == 302
    response = export(client, many, "xlsx")
    task_url = response.headers["Location"]
    task_id = int(task_url.rsplit("/", 1)[1])

    def finished():
        state = client.get(f"{task_url}.json").get_json()
        return state if state["status"] in ("done", "failed") else None

    from tests.services import wait_until

    state = wait_until(finished, timeout=60, message="the export task")
    assert state["status"] == "done" and state["progress"] == state["total"] == 16 and state["percent"] == 100
    download = client.get(state["download_url"])
    rows = xlsx_rows(download.data)
    assert len(rows) == 19 and rows[2][1] == "MAR-LAST"
    key = database.session.get(BackgroundTask, task_id).result_key
    get_storage().delete(key)
