"""Settlements, reconciliation act and the invoices-and-payments chart through HTTP (SPEC C9, C12; issue 5
acceptance 1 on screen, in PDF and xlsx; acceptance 6: a bound on SQL statements)."""
from __future__ import annotations

import html
import io
import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from crm import clock
from crm.models import BillingDocument, Tariff
from crm.services.demo_seed003 import add_operations
from tests import factories as f

D = Decimal
NBSP = "\u00a0"


def _plain(text: str) -> str:
    """Text without tags, no-break spaces made plain, whitespace squeezed."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", text)).replace(NBSP, " ").replace("\u202f", " ")
    return re.sub(r"\s+", " ", text)


@pytest.fixture()
def seed003(app, db):
    """Seed 003's contract on 28.06.2016 (the figure's day), an accountant signed in."""
    clock.set_now(datetime(2016, 6, 28, 9, 37, tzinfo=UTC))
    contract = f.contract()
    add_operations(contract)
    accountant = f.user("buh@seed003.example")
    f.grant(accountant, contract, "accountant")
    db.session.commit()
    client = app.test_client()
    assert f.login(client, accountant.email).status_code == 302
    return {"contract": contract, "client": client, "id": contract.id}


def test_settlements_page_shows_the_figures_debt_when_the_day_is_28_06_2016(seed003, query_counter):
    client = seed003["client"]
    url = f"/portal/contracts/{seed003['id']}/settlements"
    client.get(url)  # warm-up: the first request loads templates and translations
    with query_counter() as counter:
        response = client.get(url)
    assert response.status_code == 200
    page = _plain(response.get_data(as_text=True))
    assert "Переплата на 28.06.2016 74 644,26 ₽" in page
    assert "Рекомендуемый платёж на 28.06.2016 0,00 ₽" in page
    assert 'data-amount="-74644.26"' in response.get_data(as_text=True)
    assert "Нет задолженности." in page  # every document of the seed is paid
    assert "до 10-го числа расчётного месяца" in page and "до 18-го числа месяца, следующего за расчётным" in page
    # +1 for the portal header (bell, news, appeals badge, waiting modals: one statement)
    assert counter.count <= 11, counter.statements


def test_settlements_page_counts_the_same_statements_when_the_contract_has_many_more_documents(seed003, db,
                                                                                              query_counter):
    client = seed003["client"]
    url = f"/portal/contracts/{seed003['id']}/settlements"
    client.get(url)
    with query_counter() as small:
        client.get(url)
    for n in range(40):
        db.session.add(BillingDocument(contract_id=seed003["id"], doc_type="bill", number=f"X-{n}",
                                       doc_date=date(2016, 6, 1 + n % 20), period=date(2016, 6, 1),
                                       amount=D("10.00"), amount_due=D("10.00")))
    db.session.commit()
    with query_counter() as large:
        response = client.get(url)
    assert response.status_code == 200 and large.count == small.count


def test_receivables_list_unpaid_documents_with_due_dates_and_pay_links_when_amount_due_is_not_zero(seed003, db):
    db.session.add(BillingDocument(contract_id=seed003["id"], doc_type="penalty_claim", number="П-17",
                                   doc_date=date(2016, 6, 1), sale_kind="penalty", amount=D("4718.36"),
                                   amount_due=D("4718.36")))
    db.session.add(BillingDocument(contract_id=seed003["id"], doc_type="bill", number="16-0716",
                                   doc_date=date(2016, 6, 27), period=date(2016, 7, 1), amount=D("120.50"),
                                   amount_due=D("120.50")))
    db.session.commit()
    response = seed003["client"].get(f"/portal/contracts/{seed003['id']}/settlements")
    text = response.get_data(as_text=True)
    page = _plain(text)
    assert "Нет задолженности." not in page
    assert "Пени (не входят в задолженность) 4 718,36 ₽" in page
    # due dates: the claim on its date, the July bill by the first advance term (10.07)
    assert re.search(r"Претензия на уплату пени № П-17 от 01.06.2016 01.06.2016", page)
    assert re.search(r"Счёт на оплату текущего потребления № 16-0716 от 27.06.2016 10.07.2016", page)
    assert "Итого: 4 838,86 ₽" in page
    if "portal.pay_document" in seed003["client"].application.view_functions:
        assert text.count(f"/portal/contracts/{seed003['id']}/documents/") >= 2
        assert "/pay" in text


def test_no_pay_button_when_the_role_cannot_pay(app, db):
    contract = f.contract()
    db.session.add(BillingDocument(contract=contract, doc_type="invoice", number="1", doc_date=date(2026, 1, 31),
                                   period=date(2026, 1, 1), amount=D("100.00"), amount_due=D("100.00")))
    viewer = f.user("viewer@seed003.example")
    f.grant(viewer, contract, "power_engineer")
    db.session.commit()
    client = app.test_client()
    f.login(client, viewer.email)
    assert client.get(f"/portal/contracts/{contract.id}/settlements").status_code == 403


def test_settlements_page_shows_a_message_and_today_when_the_day_is_not_a_date(seed003):
    response = seed003["client"].get(f"/portal/contracts/{seed003['id']}/settlements?on=31.02.2016")
    assert response.status_code == 400
    page = _plain(response.get_data(as_text=True))
    assert "Укажите дату в формате дд.мм.гггг" in page and "Переплата на 28.06.2016" in page


def test_settlements_page_shows_the_february_debt_when_a_past_day_is_chosen(seed003):
    response = seed003["client"].get(f"/portal/contracts/{seed003['id']}/settlements?on=2016-02-18")
    page = _plain(response.get_data(as_text=True))
    assert 'data-amount="-40000.00"' in response.get_data(as_text=True)
    assert "Переплата на 18.02.2016 40 000,00 ₽" in page


def test_tariff_history_lists_the_group_when_the_contract_has_a_tariff(seed003, db):
    old = Tariff(group_code="EL-I", name="Одноставочный", zone="all_day", rate=D("4.12345"),
                 valid_from=date(2015, 7, 1), valid_to=date(2016, 6, 30))
    new = Tariff(group_code="EL-I", name="Одноставочный", zone="all_day", rate=D("4.5"), valid_from=date(2016, 7, 1))
    db.session.add_all([old, new])
    db.session.flush()
    seed003["contract"].tariff_id = new.id
    db.session.commit()
    page = _plain(seed003["client"].get(f"/portal/contracts/{seed003['id']}/settlements").get_data(as_text=True))
    assert "Одноставочный · Круглосуточно · 4,5 ₽/кВт·ч" in page
    assert "01.07.2016 – по настоящее время" in page and "01.07.2015 – 30.06.2016" in page and "4,12345" in page


def test_chart_carries_invoices_and_payments_by_month_when_the_page_renders(seed003):
    text = seed003["client"].get(f"/portal/contracts/{seed003['id']}/settlements").get_data(as_text=True)
    assert "data-finance-chart=" in text and "finance_chart.js" in text and "<script>" not in text
    raw = re.search(r'data-finance-chart="([^"]+)"', text).group(1)
    chart = json.loads(html.unescape(raw))
    assert len(chart["labels"]) == 12 and chart["labels"][-1] == "Июнь 2016"
    invoiced, paid = (series["data"] for series in chart["series"])
    # May 2016: the May invoice 482 844,86; April: 601 372,67 − 198 685,01 (its correction)
    assert invoiced[-2] == "482844.86" and invoiced[-3] == "402687.66"
    assert paid[-2] == "979990.44" and paid[-1] == "424999.21"


# --- the reconciliation act ---------------------------------------------------------------------

ACT = "date_from=2016-05-01&date_to=2016-08-01"


def test_reconciliation_act_page_reproduces_figure_8_when_the_period_is_01_05_to_01_08(seed003, query_counter):
    client = seed003["client"]
    url = f"/portal/contracts/{seed003['id']}/reconciliation?{ACT}"
    client.get(url)
    with query_counter() as counter:
        response = client.get(url)
    assert response.status_code == 200
    page = _plain(response.get_data(as_text=True))
    assert "Сальдо на 01.05.2016 608 822,79" in page
    assert "Корректировочный счёт-фактура от 24.05.2016 № СФ-1604-К1 -198 685,01" in page
    assert "Поступление платежа от 25.05.2016 № 612 979 990,44" in page
    assert "Счёт-фактура от 31.05.2016 № СФ-1605 482 844,86" in page
    assert "Поступление платежа от 20.06.2016 № 745 424 999,21" in page
    assert "Итого оборотов 284 159,85 1 404 989,65" in page
    assert "Сальдо на 01.08.2016 512 007,01 в пользу потребителя (переплата)" in page
    for amount in ("173 118,79", "405 103,24", "244 223,01", "193 139,74", "167 345,26"):
        assert amount in page
    assert counter.count <= 12, counter.statements   # 11 for the act, 1 for the portal header


def test_reconciliation_act_defaults_to_the_current_quarter_when_no_period_is_given(seed003):
    page = _plain(seed003["client"].get(f"/portal/contracts/{seed003['id']}/reconciliation").get_data(as_text=True))
    assert "с 01.04.2016 по 30.06.2016" in page
    assert 'value="2016-04-01"' in seed003["client"].get(
        f"/portal/contracts/{seed003['id']}/reconciliation").get_data(as_text=True)


def test_reconciliation_act_shows_messages_when_the_period_is_reversed(seed003):
    response = seed003["client"].get(
        f"/portal/contracts/{seed003['id']}/reconciliation?date_from=2016-08-01&date_to=2016-05-01")
    assert response.status_code == 400
    assert "Начало периода (01.08.2016) позже его конца (01.05.2016)." in _plain(response.get_data(as_text=True))


def test_reconciliation_act_pdf_carries_the_figures_numbers_when_read_back(seed003):
    from pypdf import PdfReader

    response = seed003["client"].get(f"/portal/contracts/{seed003['id']}/reconciliation.pdf?{ACT}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    text = _plain(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages))
    assert "Акт сверки" in text and seed003["contract"].number in text
    for expected in ("608 822,79", "-198 685,01", "979 990,44", "482 844,86", "424 999,21", "284 159,85",
                     "1 404 989,65", "512 007,01", "в пользу потребителя (переплата)", "Поставщик", "Потребитель"):
        assert expected in text, expected


def test_reconciliation_act_xlsx_has_the_figures_amounts_when_read_back(seed003):
    from python_calamine import CalamineWorkbook

    response = seed003["client"].get(f"/portal/contracts/{seed003['id']}/reconciliation.xlsx?{ACT}")
    assert response.status_code == 200
    book = CalamineWorkbook.from_filelike(io.BytesIO(response.data))
    rows = book.get_sheet_by_index(0).to_python()
    body = [row for row in rows if len(row) >= 5 and row[1]]
    table = {str(row[1]): (row[3], row[4]) for row in body[1:]}
    assert table["Сальдо на 01.05.2016"] == (608822.79, "")
    assert table["Поступление платежа от 25.05.2016"] == ("", 979990.44)
    assert table["Корректировочный счёт-фактура от 24.05.2016"] == (-198685.01, "")
    assert table["Итого оборотов"] == (284159.85, 1404989.65)
    assert table["Сальдо на 01.08.2016"] == ("", 512007.01)
    dates = [row[0] for row in body if isinstance(row[0], (date, datetime))]
    assert [d.strftime("%d.%m.%Y") for d in dates] == ["24.05.2016", "25.05.2016", "31.05.2016", "20.06.2016"]


def test_pages_render_in_english_when_the_language_is_english(seed003):
    client = seed003["client"]
    client.get("/portal/lang/en")
    page = _plain(client.get(f"/portal/contracts/{seed003['id']}/reconciliation?{ACT}").get_data(as_text=True))
    assert "Balance on 01.05.2016 608,822.79" in page and "in the customer's favour (overpayment)" in page
    page = _plain(client.get(f"/portal/contracts/{seed003['id']}/settlements").get_data(as_text=True))
    assert "Overpayment on 28.06.2016 74,644.26 ₽" in page


def test_demo_accountant_and_director_open_the_seeds_act_when_the_demo_is_loaded(app, db):
    from sqlalchemy import select

    from crm.models import Contract
    from crm.services import demo_data
    from crm.services.demo import seed_demo
    from crm.services.demo_seed003 import CONTRACT_NUMBER

    assert seed_demo() is True
    contract_id = db.session.scalar(select(Contract.id).where(Contract.number == CONTRACT_NUMBER))
    for login in ("accountant@demo.example", "director@demo.example"):
        client = app.test_client()
        assert f.login(client, login, demo_data.CUSTOMER_PASSWORD).status_code == 302
        response = client.get(f"/portal/contracts/{contract_id}/reconciliation?{ACT}")
        assert response.status_code == 200, login
        page = _plain(response.get_data(as_text=True))
        assert "Сальдо на 01.05.2016 608 822,79" in page
        assert "Итого оборотов 284 159,85 1 404 989,65" in page
        assert "Сальдо на 01.08.2016 512 007,01 в пользу потребителя (переплата)" in page
        debt = _plain(client.get(f"/portal/contracts/{contract_id}/settlements?on=2016-06-28").get_data(as_text=True))
        assert "Переплата на 28.06.2016 74 644,26 ₽" in debt and "Рекомендуемый платёж на 28.06.2016 0,00 ₽" in debt
    client = app.test_client()
    f.login(client, "engineer@demo.example", demo_data.CUSTOMER_PASSWORD)
    assert client.get(f"/portal/contracts/{contract_id}/reconciliation").status_code == 404


@pytest.mark.parametrize("locale", ["ru", "en"])
def test_fast_money_formatter_gives_what_the_money_filter_gives_when_amounts_vary(app, locale):
    import random

    from crm.formatting import format_money
    from customer_portal.settlements import money_formatter

    rng = random.Random(5)
    values = [D("0"), D("0.00"), D("-0.01"), D("1"), D("-198685.01"), D("1404989.65"), D("999999999999.99"), 7,
              "12.5", D("12.345")]
    values += [D(rng.randint(-10**12, 10**12)).scaleb(-2) for _ in range(500)]
    with app.test_request_context():
        fast = money_formatter(locale)
        for value in values:
            assert fast(value) == format_money(value, "₽", locale), value
            assert fast(value, None) == format_money(value, None, locale), value
