"""Settlements in Chromium (issue 5 acceptance 5, the settlements part): the accountant sees the debt on
28.06.2016 of seed 003's contract, the chart drawn by static JS under the CSP, opens the reconciliation act
for 01.05.2016–01.08.2016 from the settlements page and downloads it as PDF, then follows «Оплатить» of an
unpaid document from the documents history to its payment form (paying is the pay journey's part)."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from crm.extensions import db
from crm.models.billing import BillingDocument
from crm.services.demo_seed003 import add_operations
from tests import factories as f
from tests.e2e.conftest import ARTIFACTS


@pytest.fixture()
def seed003(app):
    with app.app_context():
        contract = f.contract()
        add_operations(contract)
        claim = BillingDocument(contract=contract, doc_type="penalty_claim", number="П-17", doc_date=date(2016, 7, 5),
                                sale_kind="penalty", amount=Decimal("4718.36"), amount_due=Decimal("4718.36"))
        db.session.add(claim)
        f.grant(f.user("accountant@e2e-settlements.example", first_name="Анна"), contract, "accountant")
        db.session.commit()
        return {"contract_id": contract.id, "claim_id": claim.id}


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"settlements-journey-{name}.png"), full_page=True)


def test_accountant_sees_the_debt_opens_the_act_and_reaches_the_payment_form(page, live_server, seed003):
    page.goto(live_server + "/portal/login")
    page.fill("input[name=login]", "accountant@e2e-settlements.example")
    page.fill("input[name=password]", f.PASSWORD)
    page.click("button[type=submit]")
    expect(page).not_to_have_url(re.compile(r"/portal/login"))
    contract_id = seed003["contract_id"]

    page.goto(live_server + f"/portal/contracts/{contract_id}/settlements")
    page.fill("#on", "2016-06-28")
    page.get_by_role("button", name="Просмотр").click()
    expect(page.locator("#debt-amount")).to_have_text(re.compile(r"74\s644,26\s₽"))
    expect(page.locator("#debt-amount")).to_have_attribute("data-amount", "-74644.26")
    expect(page.locator("#recommended-amount")).to_have_text(re.compile(r"0,00\s₽"))
    expect(page.locator("figure.finance-chart")).to_be_visible()  # drawn by finance_chart.js
    _shot(page, "settlements")

    page.get_by_role("link", name="Акт сверки").first.click()
    expect(page.locator("h1")).to_have_text("Акт сверки")
    page.fill("#date_from", "2016-05-01")
    page.fill("#date_to", "2016-08-01")
    page.get_by_role("button", name="Просмотр").click()
    expect(page.locator("#act-opening")).to_contain_text(re.compile(r"608\s822,79"))
    expect(page.locator("#act-turnover")).to_contain_text(re.compile(r"284\s159,85\s+1\s404\s989,65"))
    expect(page.locator("#act-closing")).to_contain_text(re.compile(r"512\s007,01"))
    expect(page.locator("#act-closing-side")).to_have_text("в пользу потребителя (переплата)")
    _shot(page, "act")
    with page.expect_download() as download:
        page.locator("#act-pdf").click()
    assert download.value.suggested_filename.endswith("-20160501-20160801.pdf")

    page.goto(live_server + f"/portal/contracts/{contract_id}/documents?doc_type=penalty_claim"
              "&date_from=2016-01-01&date_to=2016-12-31")
    item = page.locator(f"#document-{seed003['claim_id']}")
    expect(item).to_contain_text("№ П-17")
    _shot(page, "documents")
    item.get_by_role("link", name=re.compile("Оплатить")).click()
    expect(page).to_have_url(re.compile(rf"/documents/{seed003['claim_id']}/pay"))
    expect(page.locator("h1")).to_have_text("Оплата документа")
