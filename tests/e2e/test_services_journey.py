"""Services journey in headless Chromium on the demo data (issue 7, acceptance 4, second half): a customer
opens «Услуги» from the menu, orders a service with the form prefilled from the profile, gets the order
number, and sees the order in «Мои заказы»; a wrong phone is refused first, with the field marked. Also the
getting-started tips: hidden from the widget without leaving the page."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm.extensions import db
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.portal import sign_in


@pytest.fixture()
def demo(app):
    from crm.models import CrmUser
    from crm.services.demo import seed_demo

    with app.app_context():
        assert seed_demo()
        director = db.session.scalar(select(CrmUser).where(CrmUser.email == "director@demo.example"))
        return {"full_name": director.full_name}


def _sign_in(page, live_server, login: str) -> None:
    sign_in(page, live_server, login, "Demo2026pass")


def test_customer_orders_a_service_and_sees_it_in_the_history_when_the_form_is_valid(page, live_server, demo):
    _sign_in(page, live_server, "director@demo.example")
    page.locator("#portal-sidebar a[href='/portal/services/']").click()
    cards = page.locator(".service-card")
    expect(cards.first).to_be_visible()
    expect(page.locator("#services")).to_contain_text("Поверка прибора учёта")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "services-journey-catalog.png"), full_page=True)

    cards.filter(has_text="Поверка прибора учёта").locator("a").click()
    expect(page.locator("#service-title")).to_have_text("Поверка прибора учёта")
    expect(page.locator("#contact_name")).to_have_value(demo["full_name"])
    expect(page.locator("#contract_id option:checked")).not_to_have_text("—")

    page.fill("#phone", "12-34")
    page.fill("#task", "Поверить два счётчика в котельной до 1 апреля.")
    page.click("#order-submit")
    expect(page.locator("#phone-error")).to_contain_text("Введите российский номер телефона")
    expect(page.locator("#phone")).to_have_attribute("aria-invalid", "true")

    page.fill("#phone", "8 (912) 345 67 89")
    page.click("#order-submit")
    expect(page.locator("#order-placed")).to_contain_text("принят")
    number = page.locator("#order-number").inner_text()
    assert re.fullmatch(r"У-\d{4}-\d{6}", number)
    page.screenshot(path=str(ARTIFACTS / "services-journey-confirmation.png"), full_page=True)

    page.click("text=Все мои заказы")
    row = page.locator(f"#orders tr[data-order-number='{number}']")
    expect(row).to_contain_text("Поверка прибора учёта")
    expect(row).to_contain_text("Принят")
    # The demo's earlier orders are there too, with the bill the company issued.
    expect(page.locator("#orders")).to_contain_text("Выставлен счёт")
    page.screenshot(path=str(ARTIFACTS / "services-journey-history.png"), full_page=True)


def test_new_user_hides_the_tips_widget_without_leaving_the_page(page, live_server, demo):
    _sign_in(page, live_server, "manager@demo.example")
    widget = page.locator("#tips-widget")
    expect(widget).to_be_visible()
    expect(widget).to_contain_text("Помощь по кабинету")
    page.locator("#tips-carousel .carousel-control-next").click()
    expect(page.locator("#tips-carousel .carousel-item.active")).not_to_have_attribute("data-tip", "contracts")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "services-journey-tips.png"), full_page=True)
    url = page.url
    page.click("#tips-hide")
    expect(widget).to_have_count(0)
    assert page.url == url
    page.reload()
    expect(page.locator("#tips-widget")).to_have_count(0)


def test_customer_finds_an_answer_and_the_contacts_in_help(page, live_server, demo):
    _sign_in(page, live_server, "manager@demo.example")
    page.locator("#portal-sidebar a[href='/portal/help/']").click()
    page.fill("#faq-q", "ПОКАЗАНИЯ")
    page.click("#faq-search button[type=submit]")
    expect(page.locator(".faq-item").first).to_be_visible()
    expect(page.locator(".faq-item .accordion-body").first).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "services-journey-faq.png"), full_page=True)
    page.click("#help-tab-contacts")
    expect(page.locator(".contact-card").first).to_contain_text("Куратор")
    page.screenshot(path=str(ARTIFACTS / "services-journey-contacts.png"), full_page=True)
