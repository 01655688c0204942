"""Paying one document through the test acquirer in Chromium (issue 5 acceptance 5, the payment
part): the accountant opens the document's payment form, goes to the test bank, pays with a test
card, comes back to the portal, sees the payment paid and finds it in the payment history; then a
large export runs as a task whose progress bar (static JS under the CSP) ends in a download link."""
from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from crm import clock
from crm.extensions import db
from crm.models.billing import BillingDocument, Payment
from tests import factories as f
from tests.e2e.conftest import ARTIFACTS


@pytest.fixture()
def accountant(app):
    with app.app_context():
        contract = f.contract()
        f.grant(f.user("accountant@e2e-pay.example", first_name="Анна"), contract, "accountant")
        today = clock.today()
        document = BillingDocument(contract_id=contract.id, doc_type="invoice", number="СФ-0042",
                                   doc_date=today.replace(day=1), amount=Decimal("12345.67"),
                                   amount_due=Decimal("12345.67"), due_date=today + timedelta(days=10))
        db.session.add(document)
        for n in range(8):
            db.session.add(Payment(contract_id=contract.id, paid_on=today, amount=Decimal("10.00") + n,
                                   number=f"OLD-{n}", bank="Банк", purpose="Оплата", status="paid"))
        db.session.commit()
        return {"contract_id": contract.id, "document_id": document.id, "number": contract.number}


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"pay-journey-{name}.png"), full_page=True)


def _sign_in(page, live_server, email):
    page.goto(live_server + "/portal/login")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", f.PASSWORD)
    page.click("button[type=submit]")
    expect(page).not_to_have_url(re.compile(r"/portal/login"))


def test_accountant_pays_a_document_at_the_test_bank_and_sees_it_paid(page, live_server, accountant, app,
                                                                       monkeypatch):
    _sign_in(page, live_server, "accountant@e2e-pay.example")
    contract_id = accountant["contract_id"]
    page.goto(live_server + f"/portal/contracts/{contract_id}/documents/{accountant['document_id']}/pay")
    expect(page.locator("h1")).to_have_text("Оплата документа")
    expect(page.locator("#amount")).to_have_value(re.compile(r"12\s345,67"))
    _shot(page, "pay-form")
    page.get_by_role("button", name="Перейти к оплате").click()

    expect(page).to_have_url(re.compile(r"/test-acquirer/checkout/"))
    expect(page.locator("#test-bank-banner")).to_contain_text("Тестовый банк — без реальных денег")
    page.get_by_label("Номер карты").fill("4111 1111 1111 1111")
    page.get_by_label("Срок действия (ММ/ГГ)").fill("12/30")
    page.get_by_label("CVC/CVV").fill("123")
    page.get_by_label("Имя на карте").fill("ANNA PETROVA")
    _shot(page, "test-bank")
    page.get_by_role("button", name=re.compile("Оплатить")).click()
    expect(page.locator("h1")).to_have_text("Платёж одобрен")
    page.get_by_role("link", name="Вернуться в личный кабинет").click()

    expect(page.locator("#pay-status")).to_have_attribute("data-status", "paid")
    expect(page.locator("#pay-status")).to_contain_text("Оплачен")
    page.get_by_role("link", name="История платежей").click()
    expect(page.locator("#payments-table")).to_contain_text("12 345,67")
    expect(page.locator("#payments-table")).to_contain_text("Оплата документа № СФ-0042")
    _shot(page, "history")

    # a "large" export: a task page whose bar is sized by static JS and which ends with a download link
    monkeypatch.setitem(app.config, "EXPORT_INLINE_MAX_ROWS", 3)
    page.locator("#payments-export").get_by_role("link", name="XLSX").click()
    expect(page).to_have_url(re.compile(r"/portal/tasks/\d+$"))
    expect(page.locator("#task-progress")).to_have_attribute("aria-valuenow", "100")
    # the bar's width is set by static JS after load (no inline style under the CSP): wait for it
    expect(page.locator("#task-progress-bar")).to_have_attribute("style", re.compile(r"width:\s*100%"))
    with page.expect_download() as download:
        page.locator("#task-download").click()
    assert download.value.suggested_filename.startswith(f"payments_{accountant['number']}_")
