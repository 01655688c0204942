"""Back office (SPEC B1, B2, B3, B10): views, staff roles, customer 360, e-mail outbox."""
from __future__ import annotations

import itertools
import re
from datetime import date
from decimal import Decimal

import pytest

from tests import factories as f

_seq = itertools.count(1)
NBSP = "\u00a0"


# --- data helpers --------------------------------------------------------------------------------

def _staff(client, role: str) -> None:
    username = f"{role.lower().replace(' ', '_')}{next(_seq)}"
    f.user(f"{username}@energo.example", username=username, roles=(role,))
    from crm.extensions import db

    db.session.commit()
    response = f.staff_login(client, username)
    assert response.status_code == 302, "staff sign-in failed"


def _document(contract, number="СФ-1", amount="1116218.00", due="1116218.00", doc_date=date(2024, 1, 31)):
    from crm.extensions import db
    from crm.models import BillingDocument

    doc = BillingDocument(contract=contract, doc_type="invoice", number=number, doc_date=doc_date,
                          period=date(2024, 1, 1), amount=Decimal(amount), amount_due=Decimal(due),
                          due_date=date(2024, 2, 18))
    db.session.add(doc)
    db.session.flush()
    return doc


def _payment(contract, number="ПП-77", amount="250000.00"):
    from crm.extensions import db
    from crm.models import Payment

    payment = Payment(contract=contract, number=number, paid_on=date(2024, 2, 10), amount=Decimal(amount),
                      bank="ПАО Сбербанк", purpose="Оплата по договору")
    db.session.add(payment)
    db.session.flush()
    return payment


def _appeal(contract, author):
    """A minimal appeal with its catalogue and workflow (the appeals desk builds the real ones)."""
    from crm.extensions import db
    from crm.models import Appeal, AppealTopic, WorkflowDefinition, WorkflowState

    n = next(_seq)
    workflow = WorkflowDefinition(code=f"wf{n}", name="Обычный")
    workflow.states.append(WorkflowState(code="new", staff_label="Новое", customer_label="Принято", is_initial=True))
    topic = AppealTopic(level="topic", code=f"t{n}", name="Договор")
    section = AppealTopic(level="section", code=f"s{n}", name="Изменение реквизитов", parent=topic)
    db.session.add_all([workflow, topic, section])
    db.session.flush()
    appeal = Appeal(number=f"{n:07d}-24-01-Ю-Л", sequence=n, author_id=author.id, contract_id=contract.id,
                    topic_id=topic.id, section_id=section.id, workflow_id=workflow.id, state_code="new",
                    title="Смена адреса")
    db.session.add(appeal)
    db.session.flush()
    return appeal


def _reading(meter_):
    from crm.extensions import db
    from crm.models import Reading

    reading = Reading(register_id=meter_.registers[0].id, period=date(2024, 1, 1), value=Decimal("1234.5"),
                      consumption=Decimal("100"), source="portal")
    db.session.add(reading)
    db.session.flush()
    return reading


def _counterparty_with(contracts: int):
    """A counterparty with `contracts` contracts, each fully populated (objects, meters, users, money)."""
    from crm.extensions import db
    from crm.models import AuditLog

    counterparty = f.counterparty()
    for _ in range(contracts):
        contract = f.contract(counterparty)
        for _ in range(2):
            obj = f.energy_object(contract)
            _reading(f.meter(obj, zones=("day", "night")))
        f.grant(f.user(), contract, "manager")
        _document(contract)
        _payment(contract)
        _appeal(contract, f.user())
        db.session.add(AuditLog(action="contract.bound", counterparty_id=counterparty.id, subject_type="contract",
                                subject_id=contract.id))
    db.session.commit()
    return counterparty


def _contract_form(contract, **changes) -> dict:
    data = {
        "number": contract.number, "account_number": contract.account_number or "",
        "counterparty": contract.counterparty.inn, "branch": str(contract.branch_id),
        "kind": contract.kind, "status": contract.status, "price_category": contract.price_category or "",
        "signed_on": contract.signed_on.isoformat(), "starts_on": contract.starts_on.isoformat(),
        "ends_on": "", "contract_volume": "", "opening_balance": "0", "opening_balance_on": "", "tariff": "",
    }
    data.update(changes)
    return data


def _document_form(doc, **changes) -> dict:
    data = {
        "contract": doc.contract.number, "doc_type": doc.doc_type, "number": doc.number,
        "doc_date": doc.doc_date.isoformat(), "period": doc.period.isoformat(), "sale_kind": doc.sale_kind,
        "amount": str(doc.amount), "amount_due": str(doc.amount_due), "due_date": "",
    }
    data.update(changes)
    return data


def _refused(response) -> bool:
    """FAB refuses a signed-in user without the permission with 403 (a redirect to sign-in otherwise)."""
    return response.status_code == 403 or (
        response.status_code == 302 and "/login" in response.headers.get("Location", ""))


def _fresh(db, model, pk):
    db.session.expire_all()
    return db.session.get(model, pk)


# --- lists and customer 360 ----------------------------------------------------------------------

def test_admin_sees_contract_user_role_document_and_payment_when_opening_customer_360(app, db, client):
    contract = f.contract(price_category="III")
    customer = f.user("glavbuh@zavod.example")
    f.grant(customer, contract, "accountant")
    _document(contract, number="СФ-0042")
    _payment(contract, number="ПП-991", amount="1116218.00")
    db.session.commit()
    _staff(client, "Admin")

    contracts = client.get("/admin/contracts/list/")
    counterparties = client.get("/admin/counterparties/list/")
    page = client.get(f"/admin/customers/{contract.counterparty_id}")

    assert contracts.status_code == 200 and contract.number in contracts.get_data(as_text=True)
    assert counterparties.status_code == 200
    assert contract.counterparty.short_name in counterparties.get_data(as_text=True)
    assert f"/admin/customers/{contract.counterparty_id}" in counterparties.get_data(as_text=True)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert contract.number in html
    assert "glavbuh@zavod.example" in html
    assert "Бухгалтер" in html
    assert "СФ-0042" in html
    assert "ПП-991" in html
    assert f"1{NBSP}116{NBSP}218,00{NBSP}₽" in html


def test_customer_360_shows_debt_per_contract_when_documents_are_unpaid(app, db, client):
    contract = f.contract()
    _document(contract, number="A", amount="1000.00", due="600.00")
    _document(contract, number="B", amount="500.00", due="400.50")
    db.session.commit()
    _staff(client, "Auditor")

    html = client.get(f"/admin/customers/{contract.counterparty_id}").get_data(as_text=True)

    assert f"Задолженность: 1{NBSP}000,50{NBSP}₽" in html


def test_customer_360_says_so_when_counterparty_has_no_contracts(app, db, client):
    counterparty = f.counterparty(short_name="ООО «Пустышка»")
    db.session.commit()
    _staff(client, "Curator")

    page = client.get(f"/admin/customers/{counterparty.id}")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "ООО «Пустышка»" in html and "Нет договоров" in html


def test_customer_360_answers_404_when_counterparty_does_not_exist(app, db, client):
    _staff(client, "Admin")

    assert client.get("/admin/customers/999999").status_code == 404


def test_customer_360_query_count_does_not_grow_when_counterparty_has_more_contracts(app, db, client,
                                                                                    query_counter):
    from crm.services.customer360 import customer_360

    small, large = _counterparty_with(2), _counterparty_with(6)
    small_id, large_id = small.id, large.id
    large_numbers = [c.number for c in large.contracts]
    _staff(client, "Admin")
    client.get(f"/admin/customers/{small_id}")  # warm caches (permissions, templates)

    def measure(counterparty_id):
        db.session.expunge_all()  # the test shares the request's session: start from an empty identity map
        with query_counter() as counter:
            page = client.get(f"/admin/customers/{counterparty_id}")
        assert page.status_code == 200
        return counter, page.get_data(as_text=True)

    small_count, _ = measure(small_id)
    large_count, large_html = measure(large_id)
    db.session.expunge_all()
    with query_counter() as service_count:
        view = customer_360(large_id)

    assert all(number in large_html for number in large_numbers)
    assert "Изменение реквизитов" in large_html and "Новое" in large_html
    assert large_count.count == small_count.count, large_count.statements
    assert len(view.contracts) == 6 and sum(c.meter_count for c in view.contracts) == 12
    assert service_count.count <= 15, service_count.statements


def test_contract_list_shows_russian_labels_when_enum_values_are_stored(app, db, client):
    f.contract(kind="heat", status="suspended")
    db.session.commit()
    _staff(client, "Admin")

    html = client.get("/admin/contracts/list/").get_data(as_text=True)

    assert "Теплоснабжение" in html and "Приостановлен" in html
    assert ">heat<" not in html and ">suspended<" not in html


def test_contract_edit_form_rejects_a_kind_when_it_is_not_a_valid_choice(app, db, client):
    from crm.models import Contract

    contract = f.contract()
    db.session.commit()
    _staff(client, "Admin")

    form = client.get(f"/admin/contracts/edit/{contract.id}").get_data(as_text=True)
    response = client.post(f"/admin/contracts/edit/{contract.id}", data=_contract_form(contract, kind="gas"))

    assert re.search(r'<option[^>]*value="heat"', form) and 'value="gas"' not in form
    assert response.status_code == 200  # the form again, with the error
    assert _fresh(db, Contract, contract.id).kind == "electricity"


def test_home_quick_search_finds_counterparty_when_staff_types_part_of_its_name(app, db, client):
    f.counterparty(short_name="ООО «Северный хладокомбинат»")
    f.counterparty(short_name="АО «Южный порт»")
    db.session.commit()
    _staff(client, "Curator")

    home = client.get("/admin/").get_data(as_text=True)
    found = client.get("/admin/counterparties/list/?_flt_2_short_name=хладокомбинат").get_data(as_text=True)

    assert 'name="_flt_2_short_name"' in home
    assert "Северный хладокомбинат" in found and "Южный порт" not in found


def test_customer_is_sent_to_portal_when_opening_back_office_home(app, db, client):
    contract = f.contract()
    f.grant(f.user("buh@zavod.example"), contract, "accountant")
    db.session.commit()
    f.login(client, "buh@zavod.example")

    response = client.get("/admin/")

    assert response.status_code == 302 and "/portal" in response.headers["Location"]


# --- staff roles ---------------------------------------------------------------------------------

def test_curator_changes_contract_and_is_audited_when_posting_the_edit_form(app, db, client):
    from crm.models import AuditLog, Contract

    contract = f.contract()
    db.session.commit()
    _staff(client, "Curator")

    response = client.post(f"/admin/contracts/edit/{contract.id}",
                           data=_contract_form(contract, status="suspended", price_category="IV"))

    assert response.status_code == 302
    saved = _fresh(db, Contract, contract.id)
    assert (saved.status, saved.price_category) == ("suspended", "IV")
    audit = db.session.query(AuditLog).filter_by(action="backoffice.update", subject_type="contract").one()
    assert audit.counterparty_id == contract.counterparty_id
    assert audit.detail["changes"]["status"] == ["active", "suspended"]
    page = client.get(f"/admin/customers/{contract.counterparty_id}").get_data(as_text=True)
    assert "backoffice.update" in page


def test_curator_is_refused_when_opening_staff_users_or_retrying_outbox(app, db, client):
    from crm.models import EmailOutbox

    mail = EmailOutbox(to_address="a@b.example", subject="Код", body_text="1234", status="held")
    db.session.add(mail)
    db.session.commit()
    _staff(client, "Curator")

    assert _refused(client.get("/admin/staff/list/"))
    response = client.post("/admin/outbox/action_post", data={"action": "retry", "rowid": [str(mail.id)]})
    assert response.status_code in {302, 403}
    assert _fresh(db, EmailOutbox, mail.id).status == "held"


def test_auditor_lists_but_is_refused_when_adding_editing_or_deleting(app, db, client):
    from crm.models import Contract

    contract = f.contract()
    db.session.commit()
    _staff(client, "Auditor")

    assert client.get("/admin/contracts/list/").status_code == 200
    assert client.get("/admin/audit/list/").status_code == 200
    assert client.get("/admin/outbox/list/").status_code == 200
    assert _refused(client.get("/admin/contracts/add"))
    assert _refused(client.post(f"/admin/contracts/edit/{contract.id}",
                                data=_contract_form(contract, status="terminated")))
    assert _refused(client.post(f"/admin/contracts/delete/{contract.id}"))
    assert _fresh(db, Contract, contract.id).status == "active"


def test_billing_operator_edits_documents_but_is_refused_when_editing_contracts(app, db, client):
    from crm.models import BillingDocument, Contract

    contract = f.contract()
    doc = _document(contract, due="100.00")
    db.session.commit()
    _staff(client, "Billing operator")

    edited = client.post(f"/admin/documents/edit/{doc.id}", data=_document_form(doc, amount_due="0.00"))
    refused = client.post(f"/admin/contracts/edit/{contract.id}",
                          data=_contract_form(contract, status="terminated"))

    assert edited.status_code == 302
    assert _fresh(db, BillingDocument, doc.id).amount_due == Decimal("0.00")
    assert _refused(refused)
    assert _fresh(db, Contract, contract.id).status == "active"
    assert client.get("/admin/contracts/list/").status_code == 200


def test_customer_is_refused_when_opening_customer_360(app, db, client):
    contract = f.contract()
    f.grant(f.user("boss@zavod.example"), contract, "administrator")
    db.session.commit()
    f.login(client, "boss@zavod.example")

    response = client.get(f"/admin/customers/{contract.counterparty_id}")

    assert _refused(response)


def test_staff_view_lists_only_staff_when_customers_share_the_user_table(app, db, client):
    f.user("customer@zavod.example", username="customer-login")
    f.user("curator@energo.example", username="curator-login", roles=("Curator",))
    db.session.commit()
    _staff(client, "Admin")

    html = client.get("/admin/staff/list/").get_data(as_text=True)

    assert "curator-login" in html and "Куратор" in html
    assert "customer-login" not in html


# --- e-mail outbox -------------------------------------------------------------------------------

@pytest.fixture()
def held_mail(db):
    from crm.models import EmailOutbox

    mail = EmailOutbox(to_address="new.user@zavod.example", subject="Код подтверждения",
                       body_text="Ваш код подтверждения: 482913", status="held",
                       last_error="SMTP_URL is not configured; the message is kept in the outbox")
    db.session.add(mail)
    db.session.commit()
    return mail


def test_outbox_lists_held_email_and_shows_its_body_when_admin_opens_it(app, db, client, held_mail):
    _staff(client, "Admin")

    listing = client.get("/admin/outbox/list/").get_data(as_text=True)
    filtered = client.get("/admin/outbox/list/?_flt_0_status=held").get_data(as_text=True)
    shown = client.get(f"/admin/outbox/show/{held_mail.id}").get_data(as_text=True)

    assert "new.user@zavod.example" in listing and "Задержано" in listing
    assert "Код подтверждения" in filtered
    assert "Ваш код подтверждения: 482913" in shown


def test_admin_retry_delivers_held_email_when_smtp_is_configured_again(app, db, client, held_mail, smtp_sink,
                                                                       monkeypatch):
    from crm.models import EmailOutbox

    smtp_sink.clear()
    monkeypatch.setitem(app.config, "SMTP_URL", smtp_sink.url)
    _staff(client, "Admin")

    response = client.post("/admin/outbox/action_post", data={"action": "retry", "rowid": [str(held_mail.id)]})

    assert response.status_code == 302
    delivered = smtp_sink.wait_for(1)
    assert delivered[0]["To"] == "new.user@zavod.example"
    assert _fresh(db, EmailOutbox, held_mail.id).status == "sent"


def test_auditor_reads_outbox_but_is_refused_when_retrying(app, db, client, held_mail):
    from crm.models import EmailOutbox

    _staff(client, "Auditor")

    shown = client.get(f"/admin/outbox/show/{held_mail.id}")
    client.post("/admin/outbox/action_post", data={"action": "retry", "rowid": [str(held_mail.id)]})

    assert shown.status_code == 200
    assert _fresh(db, EmailOutbox, held_mail.id).status == "held"


def test_outbox_answers_404_when_action_name_is_unknown(app, db, client, held_mail):
    _staff(client, "Admin")

    assert client.post("/admin/outbox/action_post", data={"action": "nope"}).status_code == 404
    assert client.post(f"/admin/outbox/action/nope/{held_mail.id}").status_code == 404
