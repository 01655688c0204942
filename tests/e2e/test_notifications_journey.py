"""Issue 7 acceptance 4 (notifications part) in headless Chromium: a staff member authors a modal notification
for one branch in the back office and sends it; a customer of that branch sees it in a modal after sign-in
("1 of 2" with another pending one), confirms it, and finds it in the read part of the list; a customer of
another branch never sees it. Screenshots go to test-artifacts/.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from crm import clock
from crm.extensions import db
from tests import factories as f
from tests.e2e.conftest import ARTIFACTS

SUBJECT = "Плановое отключение 15 марта"


@pytest.fixture()
def people(app):
    with app.app_context():
        north, south = f.branch(name="Северный филиал"), f.branch(name="Южный филиал")
        north_customer = f.user("north@journey.example", first_name="Ольга", last_name="Соколова")
        f.grant(north_customer, f.contract(branch_=north), "manager")
        f.grant(f.user("south@journey.example", first_name="Пётр", last_name="Иванов"), f.contract(branch_=south),
                "manager")
        f.user("editor", roles=("Admin",), first_name="Анна", last_name="Редактор")
        # Another modal already waiting for the northern customer, so the modal says "1 of 2".
        f.delivery(north_customer, "Новые тарифы с 1 июля", kind="modal", body="Тарифы изменились.",
                   delivered_at=clock.now() - timedelta(days=1), confirm_text="Ознакомлен")
        db.session.commit()
        return {"north_branch": north.id, "north_branch_name": north.name}


def _sign_in(page, live_server, email):
    page.goto(live_server + "/portal/login")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", f.PASSWORD)
    page.click("button[type=submit]")
    expect(page).not_to_have_url(re.compile(r"/portal/login"))


def _author_and_send(page, live_server, people) -> None:
    """The staff member's part: author a modal for the northern branch in the back office, send it now."""
    page.goto(live_server + "/login/")
    page.fill("input[name=username]", "editor")
    page.fill("input[name=password]", f.PASSWORD)
    page.locator("input[type=submit], button[type=submit]").first.click()
    expect(page).not_to_have_url(re.compile(r"/login/"))
    page.goto(live_server + "/admin/notifications/new")
    page.select_option("#n-kind", "modal")
    page.select_option("#n-category", "outage")
    page.fill("#n-subject", SUBJECT)
    page.fill("#n-body", "С 10:00 до 14:00 **электроснабжение** будет отключено.")
    page.fill("#n-confirm", "Понятно")
    page.check("input[name=audience_type][value=branch]")
    page.select_option("#n-branches", str(people["north_branch"]))
    page.locator("form.notification-form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/admin/notifications/\d+$"))
    page.locator("form[action$='/send'] button[type=submit]").click()
    expect(page.locator(".alert-success").last).to_contain_text(re.compile(r"\b1\b"))  # recipients: 1
    page.screenshot(path=str(ARTIFACTS / "notifications_journey_sent.png"), full_page=True)
    page.context.clear_cookies()


def test_only_the_branchs_customer_sees_and_confirms_the_modal_when_sent_to_a_branch(page, live_server, people):
    ARTIFACTS.mkdir(exist_ok=True)
    _author_and_send(page, live_server, people)

    _sign_in(page, live_server, "north@journey.example")
    modal = page.locator("#inbox-modal")
    expect(modal).to_be_visible()
    expect(modal.locator("[data-counter]")).to_have_text("1 из 2")
    expect(modal.locator("[data-pane]:not(.d-none) .modal-title")).to_have_text("Новые тарифы с 1 июля")
    modal.get_by_role("button", name="Следующее уведомление").click()
    expect(modal.locator("[data-counter]")).to_have_text("2 из 2")
    expect(modal.locator("[data-pane]:not(.d-none) .modal-title")).to_have_text(SUBJECT)
    expect(modal.locator("[data-pane]:not(.d-none) .modal-body strong")).to_have_text("электроснабжение")
    page.screenshot(path=str(ARTIFACTS / "notifications_journey_modal.png"), full_page=True)
    expect(page.locator("#inbox-bell [data-bell-count]")).to_have_text("2")

    modal.locator("[data-pane]:not(.d-none)").get_by_role("button", name="Понятно").click()
    expect(modal.locator("[data-pane]")).to_have_count(1)
    expect(modal.locator("[data-counter]")).to_be_hidden()
    expect(modal.locator("[data-pane] .modal-title")).to_have_text("Новые тарифы с 1 июля")
    expect(page.locator("#inbox-bell [data-bell-count]")).to_have_text("1")

    page.reload()  # the confirmed one does not come back; the other is still waiting
    expect(modal).to_be_visible()
    expect(modal.locator("[data-pane]")).to_have_count(1)
    modal.get_by_role("button", name="Ознакомлен").click()
    expect(modal).to_be_hidden()
    expect(page.locator("#inbox-bell [data-bell-count]")).to_be_hidden()

    page.locator("#inbox-bell").click()
    expect(page.locator("h1")).to_have_text("Уведомления")
    item = page.locator(".inbox-item", has_text=SUBJECT)
    expect(item).to_contain_text("Прочитано")
    expect(page.locator(".inbox-item.inbox-unread")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "notifications_journey_list.png"), full_page=True)

    page.context.clear_cookies()
    _sign_in(page, live_server, "south@journey.example")
    expect(page.locator("#inbox-modal")).to_have_count(0)
    page.goto(live_server + "/portal/notifications")
    expect(page.locator("main")).not_to_contain_text(SUBJECT)
    expect(page.locator("main")).to_contain_text("Уведомлений пока нет")



def test_text_is_read_and_banner_closes_in_place_when_unfolded_and_closed(page, live_server, app):
    with app.app_context():
        person = f.user("reader@journey.example", first_name="Мария")
        f.grant(person, f.contract(), "accountant")
        f.delivery(person, "Новая редакция договора", body="Подробности изменений в договоре. " * 30)
        f.delivery(person, "Плановые работы", kind="banner", body="Ночью кабинет может быть недоступен.",
                   display_until=clock.now() + timedelta(days=1))
        db.session.commit()
    _sign_in(page, live_server, "reader@journey.example")
    banner = page.locator("[data-inbox-banner]")
    expect(banner).to_contain_text("Плановые работы")
    expect(page.locator("#inbox-bell [data-bell-count]")).to_have_text("2")
    banner.get_by_role("button", name=re.compile("Закрыть уведомление")).click()
    expect(banner).to_have_count(0)
    expect(page.locator("#inbox-bell [data-bell-count]")).to_have_text("1")

    page.goto(live_server + "/portal/notifications")
    item = page.locator(".inbox-item", has_text="Новая редакция договора")
    toggle = item.get_by_role("button", name="Подробнее")
    body = item.locator(".inbox-body")
    folded_height = body.evaluate("element => element.clientHeight")
    toggle.click()
    expect(item.get_by_role("button", name="Скрыть")).to_have_attribute("aria-expanded", "true")
    assert body.evaluate("element => element.clientHeight") > folded_height
    expect(page.locator("#inbox-bell [data-bell-count]")).to_be_hidden()
    expect(item.locator("[data-read-mark]")).to_be_visible()
    expect(item.locator("[data-unread-mark]")).to_be_hidden()
    expect(item.get_by_role("button", name="Отметить как прочитанное")).to_have_count(0)
    page.screenshot(path=str(ARTIFACTS / "notifications_journey_unfolded.png"), full_page=True)
    page.reload()
    expect(page.locator(".inbox-item.inbox-unread")).to_have_count(0)
    expect(page.locator(".inbox-item", has_text="Плановые работы")).to_contain_text("Прочитано")
