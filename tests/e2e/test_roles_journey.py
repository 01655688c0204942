"""The contract's administrator grants an accountant role to an existing user in the browser; the
accountant signs in and sees the contract, with no readings section in the menu.

The whole journey of issue 3 acceptance 5 (sign-up, binding, grant, payments but no readings) is
tests/e2e/test_signup_roles_journey.py."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from crm.extensions import db
from tests import factories as f


@pytest.fixture()
def people(app):
    with app.app_context():
        contract = f.contract()
        f.energy_object(contract, name="Котельная")
        f.grant(f.user("boss@journey.example", first_name="Ольга", last_name="Соколова"), contract, "administrator")
        f.user("clerk@journey.example", first_name="Анна", last_name="Кузнецова")
        db.session.commit()
        return {"contract_id": contract.id, "number": contract.number}


def _sign_in(page, live_server, email):
    page.goto(live_server + "/portal/login")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", f.PASSWORD)
    page.click("button[type=submit]")
    expect(page).not_to_have_url(re.compile(r"/portal/login"))


def test_administrator_grants_accountant_and_accountant_sees_the_contract(page, live_server, people):
    _sign_in(page, live_server, "boss@journey.example")
    page.goto(live_server + f"/portal/contracts/{people['contract_id']}/")
    page.get_by_role("link", name="Пользователи договора").click()
    expect(page.locator("h1")).to_have_text("Пользователи договора")
    page.fill("input[name=email]", "clerk@journey.example")
    page.get_by_label("Бухгалтер").check()
    page.get_by_role("button", name="Добавить пользователя").click()
    expect(page.locator(".alert-success")).to_contain_text("clerk@journey.example")
    expect(page.locator("table.contract-users")).to_contain_text("Бухгалтер")

    page.context.clear_cookies()
    _sign_in(page, live_server, "clerk@journey.example")
    expect(page.locator("main").get_by_text(people["number"]).first).to_be_visible()
    page.goto(live_server + f"/portal/contracts/{people['contract_id']}/")
    expect(page.locator("h1")).to_contain_text(people["number"])
    expect(page.locator("main")).to_contain_text("Бухгалтер")
    sidebar = page.locator("#portal-sidebar")
    expect(sidebar.get_by_role("link", name="Договоры")).to_have_count(1)
    expect(sidebar.get_by_role("link", name=re.compile("Показания"))).to_have_count(0)
    expect(sidebar.get_by_role("link", name="Пользователи")).to_have_count(0)
    assert page.goto(live_server + f"/portal/contracts/{people['contract_id']}/users").status == 403
