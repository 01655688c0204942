"""Payment history of a contract (SPEC C11, seed 004 §7.2): the current month by default, the
status filter, exact totals, localised messages for bad filter input, a bounded number of SQL
statements, and who may see it (C6)."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from crm import clock
from crm.extensions import db as database
from crm.models import CrmUser, Payment
from crm.services import payments as payment_service
from tests import factories as f

MID_MARCH = datetime(2026, 3, 15, 9, 0, tzinfo=UTC)
NBSP = "\u00a0"


def pay(contract, paid_on: date, amount: str, status: str = "paid", number: str | None = None, **kw) -> Payment:
    payment = Payment(contract_id=contract.id, paid_on=paid_on, amount=Decimal(amount), status=status,
                      number=number or f"PP-{paid_on:%m%d}-{amount}", bank=kw.pop("bank", 'АО "АБ "РОССИЯ"'),
                      purpose=kw.pop("purpose", f"Оплата задолженности по договору № {contract.number}"), **kw)
    database.session.add(payment)
    database.session.flush()
    return payment


@pytest.fixture()
def march(app, db):
    """A manager's contract with payments around March 2026 and the clock in mid-March."""
    clock.set_now(MID_MARCH)
    contract = f.contract()
    f.grant(f.user("manager@pay.example"), contract, "manager")
    pay(contract, date(2026, 2, 28), "100.00", number="FEB-LAST")
    pay(contract, date(2026, 3, 1), "1116218.00", number="MAR-FIRST")
    pay(contract, date(2026, 3, 12), "44.44", status="pending", number="MAR-PENDING")
    pay(contract, date(2026, 3, 20), "5.00", status="failed", number="MAR-FAILED")
    pay(contract, date(2026, 3, 31), "0.10", number="MAR-LAST")
    pay(contract, date(2026, 4, 1), "7.00", number="APR-FIRST")
    db.session.commit()
    return contract


def signed_in(app, email="manager@pay.example"):
    client = app.test_client()
    assert f.login(client, email).status_code == 302
    return client


def page(client, contract, **params):
    response = client.get(f"/portal/contracts/{contract.id}/payments", query_string=params)
    return response, response.get_data(as_text=True)


def shown_numbers(html: str) -> list[str]:
    body = html.split('<tbody>', 1)[1].split('</tbody>', 1)[0] if "<tbody>" in html else ""
    return re.findall(r'font-monospace text-nowrap">([^<]+)<', body)


def field_error(html: str, name: str) -> str:
    match = re.search(rf'id="{name}-error"[^>]*>([^<]+)<', html)
    return match.group(1).strip() if match else ""


# --- the list --------------------------------------------------------------------------------------

def test_only_current_month_is_shown_newest_first_when_no_filter_given(app, march):
    response, html = page(signed_in(app), march)
    assert response.status_code == 200
    assert shown_numbers(html) == ["MAR-LAST", "MAR-FAILED", "MAR-PENDING", "MAR-FIRST"]
    assert 'value="2026-03-01"' in html and 'value="2026-03-31"' in html
    assert "01.03.2026" in html and "31.03.2026" in html
    assert f"1{NBSP}116{NBSP}218,00{NBSP}₽" in html
    assert "История платежей" in html and "В процессе" in html and "Не прошёл" in html
    assert "<caption" in html and "Платежи с 01.03.2026 по 31.03.2026" in html


def test_chosen_period_is_shown_when_dates_given_in_either_format(app, march):
    client = signed_in(app)
    _, html = page(client, march, date_from="2026-02-01", date_to="2026-03-01")
    assert shown_numbers(html) == ["MAR-FIRST", "FEB-LAST"]
    response, html = page(client, march, date_from="01.04.2026", date_to="30.04.2026")
    assert response.status_code == 200
    assert shown_numbers(html) == ["APR-FIRST"]


def test_only_that_status_is_shown_when_status_filter_set(app, march):
    client = signed_in(app)
    _, html = page(client, march, status="pending")
    assert shown_numbers(html) == ["MAR-PENDING"]
    assert '<option value="pending" selected>' in html
    _, html = page(client, march, status="paid")
    assert shown_numbers(html) == ["MAR-LAST", "MAR-FIRST"]
    _, html = page(client, march, status="all")
    assert len(shown_numbers(html)) == 4


def test_totals_are_exact_when_amounts_have_kopecks(app, db, march):
    for _ in range(10):
        pay(march, date(2026, 3, 5), "0.10", number="DIME")
    pay(march, date(2026, 3, 6), "33333.33", status="refunded")
    db.session.commit()
    history = payment_service.payment_history(march.id, date(2026, 3, 1), date(2026, 3, 31))
    assert history.count == 15
    assert history.total == Decimal("1116218.00") + Decimal("44.44") + Decimal("5.00") + Decimal("0.10") \
        + Decimal("1.00") + Decimal("33333.33")
    assert isinstance(history.total, Decimal) and history.total == Decimal("1149601.87")
    assert {item.status: (item.count, item.total) for item in history.by_status} == {
        "paid": (12, Decimal("1116219.10")), "pending": (1, Decimal("44.44")), "failed": (1, Decimal("5.00")),
        "refunded": (1, Decimal("33333.33"))}
    paid = payment_service.payment_history(march.id, date(2026, 3, 1), date(2026, 3, 31), "paid")
    assert (paid.count, paid.total) == (12, Decimal("1116219.10"))

    _, html = page(signed_in(app), march)
    total = re.search(r'id="payments-total">([^<]+)<', html).group(1)
    assert total == f"1{NBSP}149{NBSP}601,87{NBSP}₽"
    assert "15 платежей" in html and "1 платёж" in html


def test_empty_state_suggests_a_wider_period_when_month_has_no_payments(app, db, march):
    clock.set_now(datetime(2026, 6, 10, 9, 0, tzinfo=UTC))
    response, html = page(signed_in(app), march)
    assert response.status_code == 200
    assert "За выбранный период платежей нет" in html
    assert "расширить период" in html
    assert "date_from=2025-07-01&amp;date_to=2026-06-30&amp;status=all" in html
    assert "<tbody>" not in html


def test_other_contract_payments_are_never_shown_when_same_user_has_both(app, db, march):
    other = f.contract()
    manager = database.session.scalar(select(CrmUser).where(CrmUser.email == "manager@pay.example"))
    f.grant(manager, other, "manager")
    pay(other, date(2026, 3, 10), "999.99", number="OTHER")
    db.session.commit()
    _, html = page(signed_in(app), march)
    assert "OTHER" not in html
    history = payment_service.payment_history(other.id, date(2026, 3, 1), date(2026, 3, 31))
    assert [p.number for p in history.rows] == ["OTHER"] and history.total == Decimal("999.99")


# --- bad input -------------------------------------------------------------------------------------

DEFAULT_LIST = ["MAR-LAST", "MAR-FAILED", "MAR-PENDING", "MAR-FIRST"]


@pytest.mark.parametrize(("params", "field", "message"), [
    ({"date_from": "2026-03-20", "date_to": "2026-03-10"}, "date_from",
     "Начало периода (20.03.2026) позже его конца (10.03.2026)."),
    ({"date_from": "31.02.2026"}, "date_from", "Укажите дату в формате дд.мм.гггг, например 01.03.2026."),
    ({"date_to": "yesterday"}, "date_to", "Укажите дату в формате дд.мм.гггг, например 01.03.2026."),
    ({"date_to": "2026-13-01"}, "date_to", "Укажите дату в формате дд.мм.гггг"),
    ({"date_from": "9" * 5000}, "date_from", "Укажите дату в формате дд.мм.гггг"),
    ({"date_from": "0001-01-01"}, "date_from", "Укажите дату с 01.01.1990 по 31.12.2100."),
    ({"status": "stolen"}, "status", "Выберите статус платежа из списка."),
    ({"status": "<script>alert(1)</script>"}, "status", "Выберите статус платежа из списка."),
])
def test_message_under_field_and_default_list_when_filter_input_bad(app, march, params, field, message):
    response, html = page(signed_in(app), march, **params)
    assert response.status_code == 400
    assert message in field_error(html, field)
    assert 'aria-invalid="true"' in html and f'aria-describedby="{field}-error"' in html
    assert "показаны платежи за текущий месяц" in html
    assert shown_numbers(html) == DEFAULT_LIST
    assert "<script>alert(1)</script>" not in html


def test_every_problem_is_reported_at_once_when_several_fields_bad(app, march):
    response, html = page(signed_in(app), march, date_from="x", date_to="32.01.2026", status="nope")
    assert response.status_code == 400
    assert field_error(html, "date_from") and field_error(html, "date_to") and field_error(html, "status")
    assert shown_numbers(html) == DEFAULT_LIST


def test_parse_history_filter_defaults_empty_fields_to_current_month():
    today = date(2024, 2, 10)
    assert payment_service.parse_history_filter("", None, "", today=today) == \
        payment_service.HistoryFilter(date(2024, 2, 1), date(2024, 2, 29), None)
    assert payment_service.parse_history_filter("05.01.2024", "", "refunded", today=today) == \
        payment_service.HistoryFilter(date(2024, 1, 5), date(2024, 2, 29), "refunded")
    with pytest.raises(payment_service.PaymentFilterError) as error:
        payment_service.parse_history_filter("2024-03-01", "", "all", today=today)
    assert set(error.value.errors) == {"date_from"}


# --- cost --------------------------------------------------------------------------------------------

def test_service_issues_two_statements_whatever_the_number_of_payments(app, db, march, query_counter):
    for day in range(1, 29):
        pay(march, date(2026, 3, day), "10.00", number=f"BULK-{day}")
    db.session.commit()
    contract_id = march.id  # read before counting: the commit expired the object
    with query_counter() as few:
        payment_service.payment_history(contract_id, date(2026, 2, 1), date(2026, 2, 28))
    with query_counter() as many:
        history = payment_service.payment_history(contract_id, date(2026, 3, 1), date(2026, 3, 31))
    assert history.count == 32
    assert few.count == many.count == 2


def test_page_statement_count_is_bounded_and_independent_of_row_count(app, db, march, query_counter):
    client = signed_in(app)
    page(client, march)  # warm-up: the first request of a session may load caches
    with query_counter() as small:
        response, _ = page(client, march, date_from="2026-04-01", date_to="2026-04-30")
    assert response.status_code == 200
    for day in range(1, 31):
        pay(march, date(2026, 4, day), "1.00", number=f"APR-{day}")
    db.session.commit()
    march.id  # noqa: B018 - reload the expired contract before counting
    with query_counter() as large:
        response, html = page(client, march, date_from="2026-04-01", date_to="2026-04-30")
    assert len(shown_numbers(html)) == 31
    assert small.count == large.count, (small.statements, large.statements)
    assert large.count <= 12, large.statements


# --- who may see it (C6) -----------------------------------------------------------------------------

@pytest.fixture()
def roles(app, db, march):
    people = {}
    for role in ("administrator", "accountant", "power_engineer"):
        person = f.user(f"{role}@pay.example")
        f.grant(person, march, role)
        people[role] = person.email
    stranger = f.user("stranger@pay.example")
    f.grant(stranger, f.contract(), "administrator")
    people["other_counterparty"] = stranger.email
    people["manager"] = "manager@pay.example"
    db.session.commit()
    return people


@pytest.mark.parametrize("role", ["accountant", "manager", "administrator"])
def test_history_and_menu_entry_are_shown_when_role_has_finance(app, march, roles, role):
    response, html = page(signed_in(app, roles[role]), march)
    assert response.status_code == 200
    assert shown_numbers(html) == DEFAULT_LIST
    assert re.search(rf'href="/portal/contracts/{march.id}/payments"[^>]*aria-current="page"', html)
    assert "<span>Платежи</span>" in html


def test_power_engineer_is_refused_and_sees_no_menu_entry_when_opening_payments(app, march, roles):
    client = signed_in(app, roles["power_engineer"])
    response, html = page(client, march)
    assert response.status_code == 403
    assert "MAR-FIRST" not in html
    card = client.get(f"/portal/contracts/{march.id}/").get_data(as_text=True)
    assert "/payments" not in card and "<span>Платежи</span>" not in card


def test_other_counterpartys_user_gets_not_found_when_opening_payments(app, march, roles):
    response, html = page(signed_in(app, roles["other_counterparty"]), march)
    assert response.status_code == 404
    assert "MAR-FIRST" not in html


def test_page_is_in_english_when_english_chosen(app, march):
    client = signed_in(app)
    client.get("/portal/lang/en")
    response, html = page(client, march)
    assert response.status_code == 200
    assert "Payment history" in html and "Payment order No." in html and "In progress" in html
    assert "1,116,218.00" in html and "01.03.2026" in html
    _, html = page(client, march, date_from="2026-03-31", date_to="2026-03-01")
    assert "The start of the period (31.03.2026) is after its end (01.03.2026)." in field_error(html, "date_from")
