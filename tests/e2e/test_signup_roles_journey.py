"""Issue 3, acceptance 5, in headless Chromium: a new person signs up by e-mail (method (a)) from the
empty sign-in page, confirms the address with the code from the real SMTP sink, introduces
themselves, binds a contract by its number and contract e-mail and follows the confirmation link
from the sink; the contract's administrator then makes them an accountant by e-mail; as an
accountant they see "Платежи" with this month's payment, and neither the readings entry nor the
readings page."""
from __future__ import annotations

import re
import time
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from crm import clock
from crm.extensions import db
from crm.models import ContractEmail, Payment
from tests import factories as f
from tests.e2e.conftest import ARTIFACTS

NEW_USER = "new.accountant@journey-signup.example"
CONTRACT_EMAIL = "office@journey-signup.example"
ADMIN = "boss@journey-signup.example"
PASSWORD = "Signup2026ok"
NBSP = "\u00a0"


@pytest.fixture()
def mail(app, smtp_sink):
    """The live server (it serves the session app) delivers its outbox to the SMTP sink for this test."""
    previous = app.config.get("SMTP_URL")
    app.config["SMTP_URL"] = smtp_sink.url
    smtp_sink.clear()
    yield smtp_sink
    app.config["SMTP_URL"] = previous
    smtp_sink.clear()


@pytest.fixture()
def journey(app):
    """A contract with a registered e-mail, its administrator and a payment made this month."""
    with app.app_context():
        contract = f.contract()
        f.energy_object(contract, name="Котельная")
        db.session.add(ContractEmail(contract_id=contract.id, email=CONTRACT_EMAIL))
        f.grant(f.user(ADMIN, first_name="Ольга", last_name="Соколова"), contract, "administrator")
        db.session.add(Payment(contract_id=contract.id, paid_on=clock.today(), amount=Decimal("1116218.00"),
                               status="paid", number="244435495605", bank='АО "АБ "РОССИЯ"',
                               purpose=f"Оплата задолженности по договору № {contract.number}"))
        db.session.commit()
        return {"contract_id": contract.id, "number": contract.number}


def _text(message) -> str:
    body = message.get_body(preferencelist=("plain", "html"))
    return (body or message).get_content()


def _mail_to(sink, address: str, after: int = 0, timeout: float = 20.0):
    """The newest message to `address` among those that arrived after the first `after` ones."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [m for m in list(sink.messages)[after:] if address.lower() in str(m["To"]).lower()]
        if found:
            return found[-1]
        time.sleep(0.1)
    pytest.fail(f"no mail to {address}")


def _sign_in(page, live_server, email, password=f.PASSWORD):
    page.goto(live_server + "/portal/login")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page).not_to_have_url(re.compile(r"/portal/login"))


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"signup_roles_journey-{name}.png"), full_page=True)


def test_signed_up_user_made_accountant_sees_payments_but_not_readings(app, page, live_server, mail, journey):
    contract_id, number = journey["contract_id"], journey["number"]

    # (i) Sign-up (a) from the empty sign-in page.
    page.goto(live_server + "/portal/login")
    expect(page.locator("input[name=login]")).to_have_value("")
    page.locator("#signup-email-link").click()
    expect(page).to_have_url(re.compile(r"/portal/signup$"))
    page.fill("input[name=email]", NEW_USER)
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=password_repeat]", PASSWORD)
    page.locator("input[name=agreement]").check()
    page.locator("main form").get_by_role("button", name="Зарегистрироваться").click()

    expect(page).to_have_url(re.compile(r"/portal/signup/confirm$"))
    code = re.search(r"\b(\d{6})\b", _text(_mail_to(mail, NEW_USER))).group(1)
    page.fill("input[name=code]", code)
    page.get_by_role("button", name="Подтвердить").click()

    expect(page).to_have_url(re.compile(r"/portal/signup/about$"))
    expect(page.locator("h1")).to_have_text("Давайте познакомимся")
    page.fill("input[name=last_name]", "Кузнецова")
    page.fill("input[name=first_name]", "Анна")
    page.fill("input[name=patronymic]", "Сергеевна")
    page.fill("input[name=organisation]", "ООО «Тепловые сети»")
    page.fill("input[name=position]", "Главный бухгалтер")
    page.fill("textarea[name=address]", "г. Москва, ул. Тестовая, д. 1")
    page.get_by_role("button", name="Сохранить").click()

    expect(page).to_have_url(re.compile(r"/portal/signup/phone$"))
    page.fill("input[name=phone]", "+7 912 345-67-89")
    page.get_by_role("button", name="Сохранить").click()

    expect(page).to_have_url(re.compile(r"/portal/contracts/bind$"))
    sent_before = len(mail.messages)
    page.fill("input[name=contract_number]", number)
    page.fill("input[name=contract_email]", CONTRACT_EMAIL)
    page.get_by_role("button", name="Отправить ссылку для подтверждения").click()
    expect(page.locator("main")).to_contain_text(CONTRACT_EMAIL)
    _shot(page, "1-binding-sent")

    link = re.search(r"https?://\S+", _text(_mail_to(mail, CONTRACT_EMAIL, after=sent_before))).group(0)
    page.goto(live_server + urlsplit(link).path)
    expect(page.locator("main")).to_contain_text(number)
    page.goto(live_server + "/portal/contracts/")
    expect(page.locator("main").get_by_text(number).first).to_be_visible()
    expect(page.locator("main")).to_contain_text("Руководитель")  # a contract bound by the customer: manager
    _shot(page, "2-contract-bound")

    # (ii) The contract's administrator makes the new user an accountant, by e-mail.
    page.context.clear_cookies()
    _sign_in(page, live_server, ADMIN)
    page.goto(live_server + f"/portal/contracts/{contract_id}/")
    page.locator("#portal-sidebar").get_by_role("link", name="Пользователи").click()
    expect(page.locator("h1")).to_have_text("Пользователи договора")
    expect(page.locator("table.contract-users")).to_contain_text(NEW_USER)
    sent_before = len(mail.messages)
    page.fill("input[name=email]", NEW_USER)
    page.get_by_label("Бухгалтер").check()
    page.get_by_role("button", name="Добавить пользователя").click()
    expect(page.locator(".alert-success")).to_contain_text(NEW_USER)
    row = page.locator("table.contract-users tr", has_text=NEW_USER)
    expect(row).to_contain_text("Бухгалтер")
    _mail_to(mail, NEW_USER, after=sent_before)  # the user is told about the new role
    _shot(page, "3-accountant-granted")

    # (iii) The accountant sees payments with this month's payment, and no readings.
    page.context.clear_cookies()
    _sign_in(page, live_server, NEW_USER, PASSWORD)
    sidebar = page.locator("#portal-sidebar")
    expect(sidebar.get_by_role("link", name="Платежи")).to_have_count(1)
    expect(sidebar.get_by_role("link", name=re.compile("Показания"))).to_have_count(0)
    expect(sidebar.locator("a[href*='/readings']")).to_have_count(0)
    sidebar.get_by_role("link", name="Платежи").click()

    expect(page).to_have_url(re.compile(rf"/portal/contracts/{contract_id}/payments$"))
    expect(page.locator("h1")).to_have_text("История платежей")
    table = page.locator("#payments-table")
    expect(table.locator("caption")).to_contain_text(clock.today().strftime("%m.%Y"))
    payment_row = table.locator("tbody tr", has_text="244435495605")
    expect(payment_row).to_contain_text(clock.today().strftime("%d.%m.%Y"))
    expect(payment_row).to_contain_text(f"1{NBSP}116{NBSP}218,00{NBSP}₽")
    expect(payment_row).to_contain_text("Оплачен")
    expect(page.locator("#payments-total")).to_have_text(f"1{NBSP}116{NBSP}218,00{NBSP}₽")
    expect(sidebar.get_by_role("link", name="Платежи")).to_have_attribute("aria-current", "page")
    _shot(page, "4-payments")
    page.set_viewport_size({"width": 390, "height": 844})
    _shot(page, "5-payments-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    # A mistaken period is explained under the field; the current month is still listed.
    page.fill("#date_from", "2099-12-31")
    page.get_by_role("button", name="Показать").click()
    expect(page.locator("#date_from-error")).to_contain_text("Начало периода (31.12.2099) позже его конца")
    expect(page.locator("#date_from")).to_have_attribute("aria-invalid", "true")
    expect(table.locator("tbody tr", has_text="244435495605")).to_have_count(1)
    _shot(page, "6-payments-bad-period")

    # Last month has no payments: the empty state says so and offers a wider period.
    page.get_by_role("link", name="Прошлый месяц").click()
    expect(page.locator("#payments-empty")).to_contain_text("За выбранный период платежей нет")
    _shot(page, "7-payments-empty")
    page.get_by_role("link", name="Показать за последние 12 месяцев").click()
    expect(page.locator("#payments-table tbody tr", has_text="244435495605")).to_have_count(1)

    if "portal.readings" in app.view_functions:
        assert page.goto(live_server + f"/portal/contracts/{contract_id}/readings").status == 403
    assert page.goto(live_server + f"/portal/contracts/{contract_id}/users").status == 403
