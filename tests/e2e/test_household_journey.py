"""Household journey in headless Chromium on the demo data (issue 5, acceptance 5): the household customer adds a
house with their personal account (account number + meter number), sees its balance and last reading, and
prints a receipt that carries the account and the amount."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm.extensions import db
from tests.e2e.portal import sign_in


@pytest.fixture()
def household(app):
    from crm.models import Contract, Counterparty, EnergyObject, Meter, MeteringPoint
    from crm.services.demo import seed_demo

    with app.app_context():
        assert seed_demo()
        contract = db.session.scalar(select(Contract).join(Counterparty, Contract.counterparty_id == Counterparty.id)
                                     .where(Counterparty.person_type == "individual"))
        serial = db.session.scalar(
            select(Meter.serial).join(MeteringPoint, Meter.metering_point_id == MeteringPoint.id)
            .join(EnergyObject, MeteringPoint.energy_object_id == EnergyObject.id)
            .where(EnergyObject.contract_id == contract.id))
        return {"account": contract.account_number, "serial": serial, "payer": contract.counterparty.full_name}


def test_household_customer_adds_a_house_and_prints_a_receipt_when_account_and_meter_match(page, live_server,
                                                                                           household):
    sign_in(page, live_server, "household@demo.example", "Demo2026pass")
    page.locator("a[href='/portal/houses']").first.click()
    expect(page.locator("#houses-empty")).to_be_visible()
    page.click("#houses-empty a[href='/portal/houses/add']")

    page.fill("#name", "Квартира")
    page.fill("#account_number", household["account"])
    page.fill("#meter_serial", "00000000")
    page.click("#house-add-form button[type=submit]")
    expect(page.locator("#meter_serial-error")).to_contain_text(
        f"Счётчик № 00000000 не относится к лицевому счёту № {household['account']}")

    page.fill("#meter_serial", household["serial"])
    page.click("#house-add-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/portal/houses/\d+\?added=1"))
    expect(page.locator("#house-added")).to_contain_text(household["account"])
    expect(page.locator("#account-number")).to_have_text(household["account"])
    expect(page.locator("#house-balance")).to_contain_text("₽")

    receipt_url = page.locator("#print-receipt").get_attribute("href")
    page.goto(live_server + receipt_url + "?amount=1234,56")
    expect(page.locator("#receipt-account").first).to_have_text(household["account"])
    expect(page.locator("#receipt-payer").first).to_have_text(household["payer"])
    expect(page.locator("#receipt-amount")).to_have_text(re.compile(r"1\s234,56\s₽"))
    page.emulate_media(media="print")
    expect(page.locator(".receipt-tools")).to_be_hidden()
