"""Smoke journeys in headless Chromium on the demo data (issue Foundation, acceptance 2)."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from crm.extensions import db
from tests.e2e.portal import confirm_modals


@pytest.fixture()
def demo(app):
    from crm.services.demo import seed_demo

    with app.app_context():
        assert seed_demo()
        from crm.models import ContractAccess, Counterparty, CrmUser

        director = db.session.query(CrmUser).filter_by(email="director@demo.example").one()
        numbers = sorted(a.contract.number for a in db.session.query(ContractAccess).filter_by(user_id=director.id))
        counterparty = db.session.query(Counterparty).filter(
            Counterparty.id == db.session.query(ContractAccess).filter_by(user_id=director.id).first()
            .contract.counterparty_id).one()
        return {"director_contracts": numbers, "counterparty_id": counterparty.id,
                "counterparty_name": counterparty.short_name}


def test_demo_customer_signs_in_and_opens_a_contract_card(page, live_server, demo):
    page.goto(live_server + "/")
    expect(page).to_have_url(re.compile(r"/portal/login"))
    page.fill("input[name=login]", "director@demo.example")
    page.fill("input[name=password]", "Demo2026pass")
    page.click("button[type=submit]")
    confirm_modals(page)
    for number in demo["director_contracts"]:
        expect(page.locator("main").get_by_text(number).first).to_be_visible()
    page.locator(f"main a[href*='/portal/contracts/']:has-text('{demo['director_contracts'][0]}')").first.click()
    expect(page).to_have_url(re.compile(r"/portal/contracts/\d+/"))
    expect(page.locator("h1")).to_contain_text(demo["director_contracts"][0])
    expect(page.get_by_text("ИНН").first).to_be_visible()


def test_demo_staff_signs_in_and_lists_contracts_and_a_customer_360(page, live_server, demo):
    page.goto(live_server + "/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "Admin2026pass")
    page.click("input[type=submit], button[type=submit]")
    page.goto(live_server + "/admin/contracts/list/")
    expect(page.get_by_text(demo["director_contracts"][0]).first).to_be_visible()
    page.goto(live_server + f"/admin/customers/{demo['counterparty_id']}")
    expect(page.get_by_text(demo["counterparty_name"]).first).to_be_visible()
    expect(page.get_by_text("director@demo.example").first).to_be_visible()
