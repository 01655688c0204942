"""Households (SPEC C17, issue 5 item 8, issue 4 item 9): houses by account + meter number with precise errors,
one account per house, renaming meters, other users' houses, balance and last reading per house in constant
statements, operations history filters and quick periods, the amount to pay to the kopeck, the payment wizard,
filled and blank receipts (the PDF read back with pypdf).

Test data is built inside `data(app)` and committed before any request; requests run in their own app context.
"""
from __future__ import annotations

import html as html_lib
import io
import re
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from crm import clock
from crm.extensions import db
from crm.models import (
    BillingDocument,
    ContractAccess,
    Meter,
    Payment,
    PaymentIntent,
    PaymentTerm,
    Reading,
    ReadingsWindow,
    Tariff,
)
from crm.models.household import House
from tests import factories as f

TODAY = datetime(2024, 6, 15, 9, 0, tzinfo=UTC)


@contextmanager
def data(app):
    with app.app_context():
        yield
        db.session.commit()


@pytest.fixture(autouse=True)
def _frozen_clock():
    clock.set_now(TODAY)
    yield
    clock.set_now(None)


def _text(response) -> str:
    body = response.get_data(as_text=True)
    match = re.search(r"<main\b.*?</main>", body, re.S)
    text = re.sub(r"<[^>]+>", " ", match.group(0) if match else body)
    return re.sub(r"\s+", " ", html_lib.unescape(text)).replace("\xa0", " ")


def _count(model, **where) -> int:
    query = select(func.count()).select_from(model)
    for key, value in where.items():
        query = query.where(getattr(model, key) == value)
    return db.session.scalar(query)


def _account(branch, tariff, number: str, serial: str, name: str = "Соколова Марина Игоревна"):
    person = f.counterparty(person_type="individual", full_name=name, short_name=name, kpp=None)
    contract = f.contract(person, branch, account_number=number, tariff=tariff)
    db.session.add(PaymentTerm(contract_id=contract.id, kind="final", day_of_month=10, month_offset=1))
    obj = f.energy_object(contract, name="Квартира", address="г. Тверь, ул. Паши Савельевой, д. 38, кв. 112")
    meter = f.meter(obj, zones=("day", "night"), serial=serial, model="Нева МТ 124", digits_integer=6,
                    digits_fraction=1)
    return contract, meter


def _reading(register, period: date, value: str, consumption: str | None, status="accepted"):
    db.session.add(Reading(register_id=register.id, period=period, value=Decimal(value), status=status,
                           consumption=None if consumption is None else Decimal(consumption), source="billing",
                           submitted_at=datetime(period.year, period.month, 24, 10, tzinfo=UTC)))


@pytest.fixture()
def site(app):
    """Two individuals' accounts (day/night meters, the EL-HH tariff with an old and a current rate), a legal
    entity's contract with an account number, bills and a payment, April readings, an open June window."""
    with data(app):
        branch = f.branch()
        old_day = Tariff(group_code="EL-HH", name="Население, двухзонный", zone="day", rate=Decimal("5.36000"),
                         valid_from=date(2023, 1, 1), valid_to=date(2023, 12, 31))
        day = Tariff(group_code="EL-HH", name="Население, двухзонный", zone="day", rate=Decimal("5.89000"),
                     valid_from=date(2024, 1, 1))
        night = Tariff(group_code="EL-HH", name="Население, двухзонный", zone="night", rate=Decimal("3.41000"),
                       valid_from=date(2024, 1, 1))
        db.session.add_all([old_day, day, night])
        db.session.flush()
        flat, flat_meter = _account(branch, day, "300100200", "40123456")
        dacha, dacha_meter = _account(branch, day, "300100201", "40999999", name="Соколов Игорь Петрович")
        legal = f.contract(f.counterparty(), branch, account_number="500100100")
        f.meter(f.energy_object(legal), serial="50000001")
        day_reg, night_reg = sorted(flat_meter.registers, key=lambda r: r.position)
        _reading(day_reg, date(2024, 4, 1), "12000.0", "310.0")
        _reading(night_reg, date(2024, 4, 1), "5000.0", "120.0")
        dacha_day = sorted(dacha_meter.registers, key=lambda r: r.position)[0]
        _reading(dacha_day, date(2024, 3, 1), "777.7", None)
        db.session.add(ReadingsWindow(period=date(2024, 6, 1), opens_on=date(2024, 6, 1), closes_on=date(2024, 6, 25)))
        april = BillingDocument(contract_id=flat.id, doc_type="bill", number="1001/57", doc_date=date(2024, 5, 2),
                                period=date(2024, 4, 1), amount=Decimal("1000.00"), amount_due=Decimal("0"),
                                due_date=date(2024, 5, 10))
        may = BillingDocument(contract_id=flat.id, doc_type="bill", number="1002/57", doc_date=date(2024, 6, 2),
                              period=date(2024, 5, 1), amount=Decimal("1200.50"), amount_due=Decimal("1200.50"),
                              due_date=date(2024, 6, 10))
        old = BillingDocument(contract_id=flat.id, doc_type="bill", number="0990/57", doc_date=date(2023, 10, 2),
                              period=date(2023, 9, 1), amount=Decimal("800.00"), amount_due=Decimal("0"),
                              due_date=date(2023, 10, 10))
        db.session.add_all([april, may, old])
        db.session.add_all([
            Payment(contract_id=flat.id, paid_on=date(2024, 5, 8), amount=Decimal("1000.00"), status="paid",
                    purpose="Оплата электроэнергии, лицевой счёт 300100200"),
            Payment(contract_id=flat.id, paid_on=date(2023, 10, 8), amount=Decimal("800.00"), status="paid",
                    purpose="Оплата электроэнергии, лицевой счёт 300100200")])
        owner = f.user("marina@test.example", first_name="Марина", last_name="Соколова")
        stranger = f.user("stranger@test.example")
        lawyer = f.user("legal@test.example")
        f.grant(lawyer, legal, "manager")
        ns = SimpleNamespace(flat=flat.id, dacha=dacha.id, legal=legal.id, flat_meter=flat_meter.id,
                             dacha_meter=dacha_meter.id, day=day_reg.id, night=night_reg.id, owner=owner.id,
                             stranger=stranger.id)
    return ns


def _client(app, login: str):
    client = app.test_client()
    response = f.login(client, login)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def _add(client, name="Квартира", address="г. Тверь, ул. Паши Савельевой, д. 38, кв. 112", account="300100200",
         meter="40123456"):
    return client.post("/portal/houses/add", data={"name": name, "address": address, "account_number": account,
                                                   "meter_serial": meter})


def _house_id(app, user_id: int, contract_id: int) -> int:
    with app.app_context():
        return db.session.scalar(select(House.id).where(House.user_id == user_id, House.contract_id == contract_id))


# --- adding houses -----------------------------------------------------------------------------

def test_house_is_added_with_a_manager_role_when_account_and_meter_match(app, site):
    client = _client(app, "marina@test.example")
    response = _add(client, meter=" 4012 3456 ")
    assert response.status_code == 302
    house_id = _house_id(app, site.owner, site.flat)
    assert response.headers["Location"].endswith(f"/portal/houses/{house_id}?added=1")
    with app.app_context():
        access = db.session.scalar(select(ContractAccess).where(ContractAccess.user_id == site.owner))
        assert (access.contract_id, access.role, access.confirmed_at is not None) == (site.flat, "manager", True)
        assert _count(House) == 1
    page = _text(client.get(f"/portal/houses/{house_id}?added=1"))
    assert "Лицевой счёт № 300100200 подключён" in page
    assert "Задолженность 1 200,50 ₽" in page


@pytest.mark.parametrize("form, field, message", [
    (dict(account="999999999"), "account_number",
     "Лицевой счёт № 999999999 не найден: проверьте номер по квитанции."),
    (dict(account="500100100", meter="50000001"), "account_number",
     "Лицевой счёт № 500100100 не найден: проверьте номер по квитанции."),
    (dict(meter="40999999"), "meter_serial",
     "Счётчик № 40999999 не относится к лицевому счёту № 300100200: проверьте заводской номер на счётчике."),
    (dict(name=""), "name", "Укажите название дома, например «Квартира» или «Дача»."),
    (dict(account="", meter=""), "account_number", "Укажите номер лицевого счёта из квитанции."),
])
def test_house_is_refused_with_a_precise_message_and_nothing_added_when_input_is_wrong(app, site, form, field,
                                                                                       message):
    client = _client(app, "marina@test.example")
    response = _add(client, **form)
    assert response.status_code == 422
    assert message in _text(response)
    assert f'id="{field}-error"' in response.get_data(as_text=True)
    with app.app_context():
        assert (_count(House), _count(ContractAccess, user_id=site.owner)) == (0, 0)


def test_account_is_refused_when_it_is_already_in_one_of_your_houses(app, site):
    client = _client(app, "marina@test.example")
    assert _add(client).status_code == 302
    response = _add(client, name="Ещё квартира")
    assert response.status_code == 422
    assert "Лицевой счёт № 300100200 уже добавлен в один из ваших домов." in _text(response)
    same_name = _add(client, account="300100201", meter="40999999")
    assert "У вас уже есть дом «Квартира»: выберите другое название." in _text(same_name)
    with app.app_context():
        assert (_count(House), _count(ContractAccess, user_id=site.owner)) == (1, 1)


def test_database_refuses_a_second_house_with_the_same_account_when_inserted_directly(app, site):
    with app.app_context():
        db.session.add(House(user_id=site.owner, contract_id=site.flat, name="Один"))
        db.session.commit()
        db.session.add(House(user_id=site.owner, contract_id=site.flat, name="Два"))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
        assert _count(House) == 1


def test_removing_a_house_takes_the_role_away_when_no_other_house_uses_the_account(app, site):
    client = _client(app, "marina@test.example")
    _add(client)
    _add(client, name="Дача", account="300100201", meter="40999999")
    house_id = _house_id(app, site.owner, site.flat)
    assert client.post(f"/portal/houses/{house_id}/remove").status_code == 302
    with app.app_context():
        assert _count(House, user_id=site.owner) == 1
        roles = db.session.scalars(select(ContractAccess.contract_id).where(ContractAccess.user_id == site.owner)).all()
        assert roles == [site.dacha]
    assert client.get(f"/contracts/{site.flat}").status_code == 404


def test_house_is_renamed_when_the_name_is_free(app, site):
    client = _client(app, "marina@test.example")
    _add(client)
    house_id = _house_id(app, site.owner, site.flat)
    response = client.post(f"/portal/houses/{house_id}/edit", data={"name": "Городская квартира", "address": ""})
    assert response.status_code == 302
    with app.app_context():
        house = db.session.get(House, house_id)
        assert (house.name, house.address) == ("Городская квартира", None)


# --- meters -----------------------------------------------------------------------------------------

def test_meter_is_renamed_when_it_is_on_the_house_account_and_404_when_not(app, site):
    client = _client(app, "marina@test.example")
    _add(client)
    house_id = _house_id(app, site.owner, site.flat)
    url = f"/portal/houses/{house_id}/meters/{site.flat_meter}/rename"
    assert client.post(url, data={"label": "  Кухня  "}).status_code == 302
    with app.app_context():
        assert db.session.get(Meter, site.flat_meter).customer_label == "Кухня"
    assert "Кухня" in _text(client.get(f"/portal/houses/{house_id}"))
    too_long = client.post(url, data={"label": "К" * 129})
    assert too_long.status_code == 422 and "Название слишком длинное: не более 128 символов." in _text(too_long)
    other = client.post(f"/portal/houses/{house_id}/meters/{site.dacha_meter}/rename", data={"label": "Чужой"})
    assert other.status_code == 404
    with app.app_context():
        assert db.session.get(Meter, site.dacha_meter).customer_label is None
    assert client.post(url, data={"label": ""}).status_code == 302
    with app.app_context():
        assert db.session.get(Meter, site.flat_meter).customer_label is None


@pytest.mark.parametrize("suffix", ["", "/edit", "/readings", "/readings/result", "/pay", "/operations", "/receipt",
                                    "/receipt.pdf", "/meters/{meter}/rename"])
def test_another_users_house_answers_404_when_opened_by_id(app, site, suffix):
    _add(_client(app, "marina@test.example"))
    house_id = _house_id(app, site.owner, site.flat)
    stranger = _client(app, "stranger@test.example")
    assert stranger.get(f"/portal/houses/{house_id}{suffix.format(meter=site.flat_meter)}").status_code == 404
    assert stranger.post(f"/portal/houses/{house_id}/remove").status_code == 404
    with app.app_context():
        assert _count(House) == 1


def test_house_shows_nothing_of_the_account_when_the_role_was_taken_away(app, site):
    client = _client(app, "marina@test.example")
    _add(client)
    house_id = _house_id(app, site.owner, site.flat)
    with app.app_context():
        db.session.execute(ContractAccess.__table__.delete().where(ContractAccess.user_id == site.owner))
        db.session.commit()
    for url in ("/portal/houses", f"/portal/houses/{house_id}"):
        text = _text(client.get(url))
        assert "У вас больше нет доступа к этому лицевому счёту." in text
        assert "1 200,50" not in text and "12 000,0" not in text
    for suffix in ("/readings", "/readings/result", "/pay", "/operations", "/receipt", "/receipt.pdf"):
        assert client.get(f"/portal/houses/{house_id}{suffix}").status_code == 403, suffix


def test_houses_page_works_in_english_when_english_is_chosen(app, site):
    client = _client(app, "marina@test.example")
    _add(client)
    client.get("/portal/lang/en")
    text = _text(client.get("/portal/houses"))
    assert "Managing personal accounts" in text and "Personal account No. 300100200" in text
    assert "Debt 1,200.50" in text and "Last readings, April 2024" in text


# --- the houses page: balance and last reading, constant statements ---------------------------------

def test_houses_page_shows_balance_and_last_reading_in_constant_statements_when_houses_grow(app, site,
                                                                                          query_counter):
    client = _client(app, "marina@test.example")
    _add(client)
    client.get("/portal/houses")
    with query_counter() as one:
        page = client.get("/portal/houses")
    text = _text(page)
    assert "Задолженность 1 200,50 ₽" in text
    assert "Последние показания, Апрель 2024" in text
    assert "12 000,0" in text and "5 000,0" in text
    _add(client, name="Дача", account="300100201", meter="40999999")
    with query_counter() as two:
        text = _text(client.get("/portal/houses"))
    assert "Дача" in text and "777,7" in text and "Задолженности нет" in text
    assert two.count == one.count, (one.statements, two.statements)


def test_house_page_issues_the_same_statements_when_the_account_has_more_history(app, site, query_counter):
    client = _client(app, "marina@test.example")
    _add(client)
    house_id = _house_id(app, site.owner, site.flat)
    client.get(f"/portal/houses/{house_id}")
    with query_counter() as before:
        assert client.get(f"/portal/houses/{house_id}").status_code == 200
    with app.app_context():
        for n in range(12):
            db.session.add(BillingDocument(contract_id=site.flat, doc_type="bill", number=f"9{n:03d}/57",
                                           doc_date=date(2023, 1 + n, 2), period=date(2023, 1 + n, 1),
                                           amount=Decimal("10.00"), amount_due=Decimal("0")))
            db.session.add(Payment(contract_id=site.flat, paid_on=date(2023, 1 + n, 5), amount=Decimal("10.00")))
        db.session.commit()
    with query_counter() as after:
        text = _text(client.get(f"/portal/houses/{house_id}"))
    assert "Задолженность 1 200,50 ₽" in text
    assert after.count == before.count


def test_prepayment_is_started_when_the_account_has_no_debt(app, site):
    client = _client(app, "marina@test.example")
    _add(client, account="300100201", meter="40999999")
    house_id = _house_id(app, site.owner, site.dacha)
    url = f"/portal/houses/{house_id}/pay"
    assert "Задолженности нет: сумма будет зачтена как аванс." in _text(client.get(url))
    key = "a" * 32
    done = client.post(url, data={"amount": "500", "key": key, "step": "2", "rules": "accepted"})
    assert done.status_code == 302
    with app.app_context():
        intent = db.session.scalar(select(PaymentIntent))
        assert (intent.kind, intent.amount, intent.document_ids) == ("prepayment", Decimal("500.00"), [])


def test_households_menu_is_shown_to_individuals_and_not_to_legal_entities(app, site):
    marina = _client(app, "marina@test.example")
    _add(marina)
    assert 'href="/portal/houses"' in marina.get("/portal/houses").get_data(as_text=True)
    lawyer = _client(app, "legal@test.example")
    assert 'href="/portal/houses"' not in lawyer.get(f"/portal/contracts/{site.legal}").get_data(as_text=True)


# --- the readings wizard and the amount to pay (issue 4 item 9) -------------------------------------

def test_amount_to_pay_is_exact_to_the_kopeck_when_readings_are_submitted(app, site):
    client = _client(app, "marina@test.example")
    _add(client)
    house_id = _house_id(app, site.owner, site.flat)
    form = client.get(f"/portal/houses/{house_id}/readings")
    assert form.status_code == 200 and "Предыдущее показание: 12 000,0 (Апрель 2024)" in _text(form)
    response = client.post(f"/portal/houses/{house_id}/readings",
                           data={f"r{site.day}": "12123,4", f"r{site.night}": "5042.5"})
    assert response.status_code == 302, _text(response)
    assert response.headers["Location"].endswith(f"/portal/houses/{house_id}/readings/result")
    text = _text(client.get(response.headers["Location"]))
    # 123,4 × 5,89 = 726,826 → 726,83; 42,5 × 3,41 = 144,925 → 144,93 (half up, not half even); no 2023 rate
    assert "123,4 кВт·ч × 5,89 ₽ = 726,83 ₽" in text
    assert "42,5 кВт·ч × 3,41 ₽ = 144,93 ₽" in text
    assert "Итого к оплате" in text and "871,76 ₽" in text
    with app.app_context():
        from crm.services import households

        contract = db.session.get(House, house_id).contract
        day_register = db.session.get(Meter, site.flat_meter).registers[0]
        charge = households.amount_to_pay(contract, {day_register: Decimal("100.0")}, date(2023, 6, 1))
        assert charge.lines[0].rate == Decimal("5.36000") and charge.total == Decimal("536.00")


def test_readings_are_refused_and_nothing_saved_when_one_register_of_the_meter_is_missing(app, site):
    client = _client(app, "marina@test.example")
    _add(client)
    house_id = _house_id(app, site.owner, site.flat)
    response = client.post(f"/portal/houses/{house_id}/readings", data={f"r{site.day}": "12123,4"})
    assert response.status_code == 422
    assert "Показания не сохранены" in _text(response)
    with app.app_context():
        assert _count(Reading) == 3


# --- the payment wizard -------------------------------------------------------------------------

def test_payment_wizard_goes_amount_then_rules_then_provider_when_rules_are_accepted(app, site):
    client = _client(app, "marina@test.example")
    _add(client)
    house_id = _house_id(app, site.owner, site.flat)
    url = f"/portal/houses/{house_id}/pay"
    first = client.get(url).get_data(as_text=True)
    assert 'value="1200,50"' in first
    key = re.search(r'name="key" value="([0-9a-f]{32})"', first).group(1)
    bad = client.post(url, data={"amount": "12,345", "key": key})
    assert bad.status_code == 422
    second = client.post(url, data={"amount": "1500,00", "key": key})
    assert second.status_code == 200 and 'id="pay-rules"' in second.get_data(as_text=True)
    refused = client.post(url, data={"amount": "1500,00", "key": key, "step": "2"})
    assert refused.status_code == 422
    assert "Ознакомьтесь с правилами оплаты и подтвердите согласие с ними." in _text(refused)
    with app.app_context():
        assert _count(PaymentIntent) == 0
    done = client.post(url, data={"amount": "1500,00", "key": key, "step": "2", "rules": "accepted"})
    assert done.status_code == 302
    with app.app_context():
        intent = db.session.scalar(select(PaymentIntent))
        assert (intent.kind, intent.amount, intent.contract_id, intent.idempotency_key) == (
            "debt", Decimal("1500.00"), site.flat, key)
    again = client.post(url, data={"amount": "1500,00", "key": key, "step": "2", "rules": "accepted"})
    assert again.status_code == 302
    with app.app_context():
        assert _count(PaymentIntent) == 1


# --- operations history -------------------------------------------------------------------------

def _operations(client, house_id: int, query: str = "") -> list[str]:
    body = client.get(f"/portal/houses/{house_id}/operations{query}").get_data(as_text=True)
    return re.findall(r'<tr class="operation operation-(\w+)">\s*<td class="ps-3 text-nowrap">([^<]+)</td>', body)


def test_operations_history_filters_kinds_and_periods_newest_first_when_the_clock_is_frozen(app, site,
                                                                                            query_counter):
    client = _client(app, "marina@test.example")
    _add(client)
    house_id = _house_id(app, site.owner, site.flat)
    half = _operations(client, house_id)   # default: half a year, 16.12.2023–15.06.2024
    assert half == [("bills", "02.06.2024"), ("payments", "08.05.2024"), ("bills", "02.05.2024"),
                    ("readings", "24.04.2024"), ("readings", "24.04.2024")]
    assert _operations(client, house_id, "?period=half") == half
    year = _operations(client, house_id, "?period=year")
    assert year[-2:] == [("payments", "08.10.2023"), ("bills", "02.10.2023")] and len(year) == 7
    assert _operations(client, house_id, "?period=year&kind=payments") == [("payments", "08.05.2024"),
                                                                         ("payments", "08.10.2023")]
    assert _operations(client, house_id, "?period=year&kind=bills&kind=readings") == [
        ("bills", "02.06.2024"), ("bills", "02.05.2024"), ("readings", "24.04.2024"), ("readings", "24.04.2024"),
        ("bills", "02.10.2023")]
    assert _operations(client, house_id, "?date_from=2024-05-01&date_to=2024-05-31") == [
        ("payments", "08.05.2024"), ("bills", "02.05.2024")]
    wrong = client.get(f"/portal/houses/{house_id}/operations?date_from=2024-06-01&date_to=2024-05-01")
    assert wrong.status_code == 400
    assert "Конец периода раньше его начала" in _text(wrong)
    with query_counter() as q:
        client.get(f"/portal/houses/{house_id}/operations?period=year")
    with app.app_context():
        for n in range(20):
            db.session.add(Payment(contract_id=site.flat, paid_on=date(2024, 1, 1 + n), amount=Decimal("1.00")))
        db.session.commit()
    with query_counter() as more:
        client.get(f"/portal/houses/{house_id}/operations?period=year")
    assert more.count == q.count


# --- receipts -----------------------------------------------------------------------------------

def _pdf_text(response) -> str:
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(response.data))
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages)).replace("\xa0", " ")


def test_receipt_is_filled_with_account_payer_readings_and_amount_when_printed(app, site):
    client = _client(app, "marina@test.example")
    _add(client)
    house_id = _house_id(app, site.owner, site.flat)
    client.post(f"/portal/houses/{house_id}/readings", data={f"r{site.day}": "12123,4", f"r{site.night}": "5042.5"})
    page = client.get(f"/portal/houses/{house_id}/receipt")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "@media print" not in body and "receipt.css" in body
    text = _text(page)
    assert "300100200" in text and "Соколова Марина Игоревна" in text and "871,76 ₽" in text
    assert "Июнь 2024" in text and "40702810263020100417" in text
    pdf = _pdf_text(client.get(f"/portal/houses/{house_id}/receipt.pdf?amount=1000,5"))
    for expected in ("300100200", "Соколова Марина Игоревна", "1 000,50 ₽", "12 123,4", "5,89",
                     "АО «Тверская энергосбытовая компания»", "042809679",
                     "Оплата электроэнергии, лицевой счёт 300100200, Июнь 2024"):
        assert expected in pdf, expected


def test_blank_receipt_has_only_the_payee_when_printed(app, site):
    client = _client(app, "marina@test.example")
    _add(client)
    text = _text(client.get("/portal/houses/receipt/blank"))
    assert "АО «Тверская энергосбытовая компания»" in text and "300100200" not in text
    pdf = _pdf_text(client.get("/portal/houses/receipt/blank.pdf"))
    assert "6901067107" in pdf and "300100200" not in pdf and "Соколова" not in pdf
    assert "Плательщик" in pdf and "Сумма к оплате" in pdf
