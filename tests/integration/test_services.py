"""Services (SPEC C14, issue 7 item 6): the catalog, the order form's validation (every problem at once,
nothing saved), the order number and its confirmation e-mail, the history of one's own orders only,
another customer's contract refused, staff issuing a bill that shows in the customer's documents, and
the price list read back with openpyxl."""
from __future__ import annotations

import html
import io
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from crm import clock
from crm.models import AuditLog, BillingDocument, Service, ServiceOrder
from crm.models.outbox import EmailOutbox
from crm.services import service_orders
from tests import factories as f

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen_clock():
    clock.set_now(NOW)
    yield
    clock.set_now(None)


def _plain(response) -> str:
    text = html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).replace("\u00a0", " ")
    return re.sub(r"\s+", " ", text)


@pytest.fixture()
def shop(app, db):
    contract = f.contract()
    customer = f.user("buyer@services.example", phone="+7 (912) 345-67-89")
    f.grant(customer, contract, "accountant")
    stranger = f.user("stranger@services.example")
    foreign_contract = f.contract()
    f.grant(stranger, foreign_contract, "administrator")
    staff = f.user("curator@services.example", roles=("Curator",), username="curator-services")
    service = Service(name="Поверка прибора учёта", description="Выезд, демонтаж и поверка.",
                      approx_price=Decimal("2300.00"), price_note="от 2 300 ₽", position=1, active=True)
    hidden = Service(name="Снятая с продажи услуга", approx_price=Decimal("1.00"), position=2, active=False)
    db.session.add_all([service, hidden])
    db.session.commit()
    return {"contract": contract.id, "foreign_contract": foreign_contract.id, "service": service.id,
            "hidden": hidden.id, "staff": staff.id, "customer": customer.id, "stranger": stranger.id}


def _order(client, shop, **overrides):
    data = {"contract_id": str(shop["contract"]), "contact_name": "Петров Иван", "phone": "8 912 345 67 89",
            "task": "Поверить счётчик в цехе № 2 до конца месяца."}
    data.update(overrides)
    return client.post(f"/portal/services/{shop['service']}/order", data=data)


def test_catalog_shows_active_services_only_when_customer_opens_it(app, shop):
    client = app.test_client()
    f.login(client, "buyer@services.example")
    page = _plain(client.get("/portal/services/"))
    assert "Поверка прибора учёта" in page and "от 2 300 ₽" in page
    assert "Снятая с продажи услуга" not in page
    assert client.get(f"/portal/services/{shop['hidden']}/order").status_code == 404


def test_order_form_is_prefilled_from_profile_when_opened(app, shop):
    client = app.test_client()
    f.login(client, "buyer@services.example")
    body = client.get(f"/portal/services/{shop['service']}/order").get_data(as_text=True)
    assert 'value="Петров Иван"' in body and 'value="+7 (912) 345-67-89"' in body
    assert re.search(rf'<option selected value="{shop["contract"]}"|<option value="{shop["contract"]}" selected', body)


def test_order_is_refused_with_every_problem_when_fields_are_bad(app, db, shop):
    client = app.test_client()
    f.login(client, "buyer@services.example")
    response = _order(client, shop, contact_name=" ", phone="12345", task="коротко")
    assert response.status_code == 400
    page = _plain(response)
    assert "Введите ФИО контактного лица." in page
    assert "Введите российский номер телефона" in page
    assert "Опишите задачу (не менее 10 символов)." in page
    assert db.session.scalar(select(func.count(ServiceOrder.id))) == 0
    assert db.session.scalar(select(func.count(EmailOutbox.id))) == 0


def test_order_gets_number_and_confirmation_email_when_valid(app, db, shop):
    client = app.test_client()
    f.login(client, "buyer@services.example")
    response = _order(client, shop)
    assert response.status_code == 302
    order = db.session.scalar(select(ServiceOrder))
    assert re.fullmatch(r"У-2026-\d{6}", order.number)
    assert order.phone == "+7 (912) 345-67-89" and order.contract_id == shop["contract"] and order.status == "new"
    page = _plain(client.get(response.headers["Location"]))
    assert f"Ваш заказ № {order.number} принят" in page
    mail = db.session.scalar(select(EmailOutbox))
    assert mail.to_address == "buyer@services.example" and order.number in mail.subject
    assert "Поверка прибора учёта" in mail.body_text and "Поверить счётчик в цехе № 2" in mail.body_text


def test_order_numbers_differ_when_two_orders_are_placed(app, db, shop):
    client = app.test_client()
    f.login(client, "buyer@services.example")
    _order(client, shop)
    _order(client, shop, contract_id="")
    numbers = db.session.scalars(select(ServiceOrder.number)).all()
    assert len(set(numbers)) == 2
    assert db.session.scalar(select(ServiceOrder.contract_id).where(ServiceOrder.number == max(numbers))) is None


def test_order_is_refused_when_contract_belongs_to_another_customer(app, db, shop):
    client = app.test_client()
    f.login(client, "buyer@services.example")
    response = _order(client, shop, contract_id=str(shop["foreign_contract"]))
    assert response.status_code == 400
    assert "Выберите один из своих договоров." in _plain(response)
    assert db.session.scalar(select(func.count(ServiceOrder.id))) == 0


def test_history_lists_own_orders_only_when_two_customers_ordered(app, db, shop):
    buyer, stranger = app.test_client(), app.test_client()
    f.login(buyer, "buyer@services.example")
    f.login(stranger, "stranger@services.example")
    _order(buyer, shop)
    _order(stranger, shop, contract_id=str(shop["foreign_contract"]), task="Заменить счётчик на складе.")
    mine = db.session.scalar(select(ServiceOrder).where(ServiceOrder.user_id == shop["customer"]))
    theirs = db.session.scalar(select(ServiceOrder).where(ServiceOrder.user_id == shop["stranger"]))
    page = _plain(buyer.get("/portal/services/orders/"))
    assert mine.number in page and theirs.number not in page and "Принят" in page
    assert buyer.get(f"/portal/services/orders/{theirs.id}").status_code == 404
    assert buyer.get(f"/portal/services/orders/{mine.id}").status_code == 200


def test_issued_bill_appears_in_customer_documents_when_staff_issue_it(app, db, shop):
    client = app.test_client()
    f.login(client, "buyer@services.example")
    _order(client, shop)
    order = db.session.scalar(select(ServiceOrder))
    staff = db.session.get(type(order.user), shop["staff"])
    bill = service_orders.issue_bill(order.id, staff, "2 300,50", "Выезд согласован на 12.03.")
    assert bill.doc_type == "bill" and bill.amount == Decimal("2300.50") == bill.amount_due
    assert bill.contract_id == shop["contract"] and bill.number == order.number
    db.session.refresh(order)
    assert order.status == "bill_issued" and order.bill_document_id == bill.id and order.processed_by_id == staff.id
    documents = _plain(client.get(f"/portal/contracts/{shop['contract']}/documents"))
    assert order.number in documents and "2 300,50" in documents
    card = _plain(client.get(f"/portal/services/orders/{order.id}"))
    assert "Выставлен счёт" in card and "Выезд согласован на 12.03." in card
    mails = db.session.scalars(select(EmailOutbox).order_by(EmailOutbox.id)).all()
    assert len(mails) == 2 and "Выставлен счёт" in mails[1].subject
    assert db.session.scalar(select(func.count(AuditLog.id)).where(AuditLog.action == "service_order.bill")) == 1


def test_bill_is_refused_and_nothing_changes_when_amount_or_contract_is_missing(app, db, shop):
    client = app.test_client()
    f.login(client, "buyer@services.example")
    _order(client, shop, contract_id="")
    order = db.session.scalar(select(ServiceOrder))
    staff = db.session.get(type(order.user), shop["staff"])
    with pytest.raises(service_orders.OrderError) as caught:
        service_orders.issue_bill(order.id, staff, "-5")
    assert set(caught.value.problems) == {"contract", "amount"}
    db.session.rollback()
    assert db.session.scalar(select(func.count(BillingDocument.id))) == 0
    assert db.session.get(ServiceOrder, order.id).status == "new"


def test_status_change_is_refused_when_order_is_already_done(app, db, shop):
    client = app.test_client()
    f.login(client, "buyer@services.example")
    _order(client, shop)
    order = db.session.scalar(select(ServiceOrder))
    staff = db.session.get(type(order.user), shop["staff"])
    service_orders.change_status(order.id, staff, "done", "Поверка выполнена.")
    with pytest.raises(service_orders.OrderError):
        service_orders.change_status(order.id, staff, "in_progress")
    db.session.rollback()
    assert db.session.get(ServiceOrder, order.id).status == "done"


def test_price_list_is_a_real_xlsx_when_downloaded(app, shop):
    client = app.test_client()
    f.login(client, "buyer@services.example")
    response = client.get("/portal/services/price-list.xlsx")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = [row for row in sheet.iter_rows(values_only=True) if row and row[0] is not None]
    assert rows[0][0] == "Прейскурант услуг"
    assert rows[2][:2] == ("№", "Услуга")
    assert rows[3][1] == "Поверка прибора учёта" and rows[3][3] == 2300 and rows[3][4] == "от 2 300 ₽"
    assert all("Снятая" not in str(row[1]) for row in rows)


def test_curator_issues_a_bill_in_the_back_office_and_auditor_cannot(app, db, shop):
    client = app.test_client()
    f.login(client, "buyer@services.example")
    _order(client, shop)
    order_id = db.session.scalar(select(ServiceOrder.id))
    f.user("auditor@services.example", username="auditor-services", roles=("Auditor",))
    db.session.commit()
    auditor = app.test_client()
    assert f.staff_login(auditor, "auditor-services").status_code == 302
    assert "Поверить счётчик" in _plain(auditor.get(f"/admin/content/service-orders/show/{order_id}"))
    auditor.post(f"/admin/content/service-orders/process/{order_id}", data={"decision": "bill", "amount": "100"})
    assert db.session.scalar(select(func.count(BillingDocument.id))) == 0
    curator = app.test_client()
    assert f.staff_login(curator, "curator-services").status_code == 302
    listing = _plain(curator.get("/admin/content/service-orders/list/"))
    assert "Принят" in listing
    refused = curator.post(f"/admin/content/service-orders/process/{order_id}",
                           data={"decision": "bill", "amount": "abc"}, follow_redirects=True)
    assert "Укажите сумму счёта" in _plain(refused)
    curator.post(f"/admin/content/service-orders/process/{order_id}",
                 data={"decision": "bill", "amount": "4 500,00", "comment": "Выезд 12.03."})
    db.session.expire_all()
    order = db.session.get(ServiceOrder, order_id)
    assert order.status == "bill_issued" and db.session.get(BillingDocument, order.bill_document_id).amount == 4500


PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82")


def test_admin_uploads_a_picture_that_the_card_shows_and_svg_is_refused(app, db, shop):
    f.user("admin@services.example", username="admin-services", roles=("Admin",))
    db.session.commit()
    admin = app.test_client()
    assert f.staff_login(admin, "admin-services").status_code == 302
    form = {"name": "Технологическое присоединение", "description": "Присоединение к сетям.",
            "approx_price": "2150.90", "price_note": "", "position": "3", "active": "y"}
    refused = admin.post("/admin/content/services/add", content_type="multipart/form-data", follow_redirects=True,
                         data={**form, "picture": (io.BytesIO(b"<svg onload=alert(1)>"), "x.svg")})
    assert "PNG, JPEG или WebP" in _plain(refused)
    assert db.session.scalar(select(func.count(Service.id)).where(Service.name == form["name"])) == 0
    admin.post("/admin/content/services/add", content_type="multipart/form-data",
               data={**form, "picture": (io.BytesIO(PNG), "photo.png")})
    service = db.session.scalar(select(Service).where(Service.name == form["name"]))
    assert service.picture_key and service.picture_key.endswith(".png") and "photo" not in service.picture_key
    customer = app.test_client()
    f.login(customer, "buyer@services.example")
    catalog = customer.get("/portal/services/")
    assert f"/portal/services/{service.id}/picture" in catalog.get_data(as_text=True)
    assert "от 2 150,90 ₽" in _plain(catalog)
    picture = customer.get(f"/portal/services/{service.id}/picture")
    assert picture.status_code == 200 and picture.mimetype == "image/png" and picture.data == PNG
    assert customer.get(f"/portal/services/{shop['service']}/picture").status_code == 404
