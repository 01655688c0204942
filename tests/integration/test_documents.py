"""Documents history (SPEC C10, seed 004 §7.1): filters, stored and generated PDF, "send to e-mail" through
the queue and the SMTP sink with the PDF attached, "Pay" where the amount due is not zero, 404 for a
document of another contract."""
from __future__ import annotations

import html
import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crm import clock
from crm.models import BillingDocument
from crm.models.outbox import EmailOutbox
from tests import factories as f
from tests.services import wait_until

D = Decimal
SEED_MESSAGE = ("Документ будет отправлен на ваш электронный адрес после формирования. "
                "Время подготовки может составить до 10 минут.")


def _plain(text: str) -> str:
    text = html.unescape(re.sub(r"<[^>]+>", " ", text)).replace("\u00a0", " ")
    return re.sub(r"\s+", " ", text)


def _documents(db, contract) -> dict[str, BillingDocument]:
    rows = [
        ("invoice", "СФ-0131", date(2026, 1, 31), D("118000.00"), D("0.00")),
        ("bill", "С-0201", date(2026, 2, 1), D("35400.00"), D("35400.00")),
        ("reconciliation_act", "АС-2025-4", date(2026, 1, 15), D("0.00"), D("0.00")),
        ("penalty_claim", "П-7", date(2026, 2, 20), D("4718.36"), D("4718.36")),
        ("corrective_invoice", "СФ-0131-К", date(2026, 2, 24), D("-1200.00"), D("0.00")),
        ("acceptance_act", "АПП-0131", date(2026, 1, 31), D("118000.00"), D("0.00")),
        ("invoice", "СФ-2024", date(2024, 12, 31), D("99.00"), D("0.00")),  # outside the default year
    ]
    docs = {}
    for doc_type, number, day, amount, due in rows:
        doc = BillingDocument(contract=contract, doc_type=doc_type, number=number, doc_date=day,
                              period=day.replace(day=1), amount=amount, amount_due=due,
                              sale_kind="penalty" if doc_type == "penalty_claim" else "main")
        db.session.add(doc)
        docs[number] = doc
    db.session.flush()
    return docs


@pytest.fixture()
def setup(app, db):
    clock.set_now(datetime(2026, 3, 10, 8, 0, tzinfo=UTC))
    contract = f.contract()
    docs = _documents(db, contract)
    other = f.contract()
    foreign = BillingDocument(contract=other, doc_type="invoice", number="ЧУЖОЙ-1", doc_date=date(2026, 2, 28),
                              amount=D("1.00"), amount_due=D("1.00"))
    db.session.add(foreign)
    accountant = f.user("buh@documents.example")
    f.grant(accountant, contract, "accountant")
    db.session.commit()
    client = app.test_client()
    assert f.login(client, accountant.email).status_code == 302
    return {"contract": contract, "id": contract.id, "docs": docs, "foreign": foreign, "client": client,
            "user": accountant}


def _numbers(page: str) -> list[str]:
    return re.findall(r"№ (\S+) от", page)


def test_every_document_of_the_last_year_is_listed_newest_first_when_no_filter_is_given(setup, query_counter):
    client = setup["client"]
    url = f"/portal/contracts/{setup['id']}/documents"
    client.get(url)
    with query_counter() as counter:
        response = client.get(url)
    assert response.status_code == 200
    page = _plain(response.get_data(as_text=True))
    assert "6 документов" in page
    assert set(_numbers(page)) == {"СФ-0131-К", "П-7", "С-0201", "СФ-0131", "АПП-0131", "АС-2025-4"}
    assert _numbers(page)[:3] == ["СФ-0131-К", "П-7", "С-0201"]
    # 8 for the page, 1 for the header (bell, news, appeals badge, waiting modals: one statement)
    assert counter.count <= 9, counter.statements


@pytest.mark.parametrize(("doc_type", "numbers"), [
    ("reconciliation_act", ["АС-2025-4"]), ("acceptance_act", ["АПП-0131"]), ("invoice", ["СФ-0131"]),
    ("bill", ["С-0201"]), ("penalty_claim", ["П-7"]), ("corrective_invoice", ["СФ-0131-К"]),
    ("acceptance_statement", []),
])
def test_only_documents_of_the_type_are_listed_when_a_type_is_chosen(setup, doc_type, numbers):
    response = setup["client"].get(f"/portal/contracts/{setup['id']}/documents?doc_type={doc_type}")
    page = _plain(response.get_data(as_text=True))
    assert _numbers(page) == numbers
    if not numbers:
        assert "По выбранному фильтру документов нет" in page


def test_only_documents_of_the_period_are_listed_when_a_period_is_chosen(setup):
    response = setup["client"].get(
        f"/portal/contracts/{setup['id']}/documents?doc_type=all&date_from=2024-12-01&date_to=31.01.2026")
    assert _numbers(_plain(response.get_data(as_text=True))) == ["АПП-0131", "СФ-0131", "АС-2025-4", "СФ-2024"]


def test_filter_mistakes_are_shown_next_to_their_fields_when_the_input_is_bad(setup):
    response = setup["client"].get(
        f"/portal/contracts/{setup['id']}/documents?doc_type=contract&date_from=32.01.2026&date_to=2026-01-01")
    assert response.status_code == 400
    page = _plain(response.get_data(as_text=True))
    assert "Выберите тип документа из списка." in page
    assert "Укажите дату в формате дд.мм.гггг" in page
    assert 'value="32.01.2026"' in response.get_data(as_text=True)
    assert len(_numbers(page)) == 6  # the default list


def test_pay_is_offered_only_where_the_amount_due_is_not_zero(setup):
    text = setup["client"].get(f"/portal/contracts/{setup['id']}/documents").get_data(as_text=True)
    docs = setup["docs"]
    pay_links = set(re.findall(rf"/portal/contracts/{setup['id']}/documents/(\d+)/pay", text))
    assert pay_links == {str(docs["С-0201"].id), str(docs["П-7"].id)}


def test_stored_file_is_downloaded_as_it_is_when_the_document_has_one(setup, db):
    from crm.storage import get_storage

    original = b"%PDF-1.4\n% the billing system's scan\n%%EOF\n"
    doc = setup["docs"]["СФ-0131"]
    doc.file_key = get_storage().put("documents", original, ".pdf")
    db.session.commit()
    response = setup["client"].get(f"/portal/contracts/{setup['id']}/documents/{doc.id}/download")
    assert response.status_code == 200 and response.data == original
    assert response.mimetype == "application/pdf"
    assert 'filename="invoice-0131-20260131.pdf"' in response.headers["Content-Disposition"]


def test_a_pdf_is_generated_from_the_data_when_no_file_is_stored(setup):
    from pypdf import PdfReader

    doc = setup["docs"]["П-7"]
    response = setup["client"].get(f"/portal/contracts/{setup['id']}/documents/{doc.id}/download")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = _plain(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages))
    assert "Претензия на уплату пени № П-7 от 20.02.2026" in text
    assert "4 718,36" in text and setup["contract"].number in text
    assert setup["contract"].counterparty.inn in text


def test_a_document_of_another_contract_is_not_found_when_asked_through_this_contract(setup):
    client, foreign = setup["client"], setup["foreign"]
    assert client.get(f"/portal/contracts/{setup['id']}/documents/{foreign.id}/download").status_code == 404
    assert client.post(f"/portal/contracts/{setup['id']}/documents/{foreign.id}/send").status_code == 404
    assert client.get(f"/portal/contracts/{foreign.contract_id}/documents/{foreign.id}/download").status_code == 404


def test_send_to_email_queues_a_message_with_the_pdf_attached_when_jobs_run_in_process(setup, db):
    from crm.services.outbox import _build_message

    doc = setup["docs"]["С-0201"]
    response = setup["client"].post(f"/portal/contracts/{setup['id']}/documents/{doc.id}/send",
                                    data={"next": f"/portal/contracts/{setup['id']}/documents?doc_type=bill"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/portal/contracts/{setup['id']}/documents?doc_type=bill")
    page = _plain(setup["client"].get(response.headers["Location"]).get_data(as_text=True))
    assert SEED_MESSAGE in page and "buh@documents.example" in page
    row = db.session.scalar(select(EmailOutbox))
    assert row.to_address == "buh@documents.example" and row.category == "document"
    number = setup["contract"].number
    assert row.subject == f"Счёт на оплату текущего потребления № С-0201 от 01.02.2026, договор № {number}"
    message = _build_message(row, "noreply@energo.example")
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == "bill-0201-20260201.pdf"
    assert attachment.get_content().startswith(b"%PDF")


def test_send_to_email_is_refused_when_the_address_is_not_confirmed(setup, db):
    user = setup["user"]
    user.email_confirmed_at = None
    db.session.commit()
    doc = setup["docs"]["С-0201"]
    response = setup["client"].post(f"/portal/contracts/{setup['id']}/documents/{doc.id}/send")
    assert response.status_code == 302
    page = _plain(setup["client"].get(response.headers["Location"]).get_data(as_text=True))
    assert "Сначала подтвердите адрес электронной почты в профиле" in page
    assert db.session.scalar(select(func.count(EmailOutbox.id))) == 0


def test_the_worker_sends_the_document_with_the_pdf_attached_when_redis_and_smtp_are_up(rq_app, rq_worker,
                                                                                         mailbox):
    from pypdf import PdfReader

    from crm.extensions import db

    contract = f.contract()
    doc = BillingDocument(contract=contract, doc_type="invoice", number="СФ-77", doc_date=date(2026, 2, 28),
                          period=date(2026, 2, 1), amount=D("118000.00"), amount_due=D("118000.00"))
    db.session.add(doc)
    user = f.user("worker@documents.example")
    f.grant(user, contract, "manager")
    db.session.commit()
    client = rq_app.test_client()
    assert f.login(client, user.email).status_code == 302
    response = client.post(f"/portal/contracts/{contract.id}/documents/{doc.id}/send")
    assert response.status_code == 302
    message = mailbox.wait_for(1, timeout=60)[0]
    assert message["To"] == "worker@documents.example"
    assert message["Subject"].startswith("Счёт-фактура № СФ-77 от 28.02.2026")
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    text = _plain(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(attachment.get_content())).pages))
    assert "Счёт-фактура № СФ-77 от 28.02.2026" in text and "118 000,00" in text
    wait_until(lambda: db.session.scalar(select(EmailOutbox.status)) == "sent" or db.session.rollback(),
               message="the outbox row to be marked sent")


def test_history_is_paged_by_fifty_when_there_are_more_documents(setup, db, query_counter):
    for n in range(120):
        db.session.add(BillingDocument(contract=setup["contract"], doc_type="bill", number=f"Б-{n:03d}",
                                       doc_date=date(2025, 6, 1), period=date(2025, 6, 1), amount=D("1.00"),
                                       amount_due=D("0.00")))
    db.session.commit()
    client = setup["client"]
    url = f"/portal/contracts/{setup['id']}/documents?doc_type=bill&date_from=2025-01-01&date_to=2026-03-31"
    client.get(url)
    with query_counter() as first:
        page_one = _plain(client.get(url).get_data(as_text=True))
    assert "121 документ · страница 1 из 3" in page_one and len(_numbers(page_one)) == 50
    assert _numbers(page_one)[0] == "С-0201"
    with query_counter() as last:
        page_three = _plain(client.get(url + "&page=3").get_data(as_text=True))
    assert _numbers(page_three) == [f"Б-{n:03d}" for n in range(20, -1, -1)]
    assert first.count == last.count
    # a page past the end shows the last one; a bad page number the first
    assert _numbers(_plain(client.get(url + "&page=99").get_data(as_text=True))) == _numbers(page_three)
    assert _numbers(_plain(client.get(url + "&page=x").get_data(as_text=True)))[0] == "С-0201"


def test_send_to_email_says_so_when_the_queue_is_down(setup, db, monkeypatch):
    import workflows.queue

    def down(*_args, **_kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(workflows.queue, "enqueue", down)
    doc = setup["docs"]["С-0201"]
    response = setup["client"].post(f"/portal/contracts/{setup['id']}/documents/{doc.id}/send")
    assert response.status_code == 302
    page = _plain(setup["client"].get(response.headers["Location"]).get_data(as_text=True))
    assert "Не удалось поставить документ в очередь на отправку" in page and SEED_MESSAGE not in page
    assert db.session.scalar(select(func.count(EmailOutbox.id))) == 0
