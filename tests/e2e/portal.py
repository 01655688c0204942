"""Shared steps of the portal journeys: sign in, and confirm the modal notifications (C16) a customer is
greeted with before using the page (the demo sends some to everyone)."""
from __future__ import annotations

import re

from playwright.sync_api import expect


def confirm_modals(page) -> None:
    """Confirm every modal notification shown on the page, one pane after another."""
    modal = page.locator("#inbox-modal")
    if not modal.count():
        return
    expect(modal).to_be_visible()
    while modal.is_visible():
        panes = modal.locator("[data-pane]").count()
        modal.locator("[data-pane]:not(.d-none) button.btn-primary").click()
        if panes > 1:
            expect(modal.locator("[data-pane]")).to_have_count(panes - 1)
        else:
            expect(modal).to_be_hidden()


def sign_in(page, live_server: str, login: str, password: str) -> None:
    """Sign in through the portal form and confirm any modal notifications."""
    page.goto(live_server + "/portal/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page).not_to_have_url(re.compile(r"/portal/login"))
    confirm_modals(page)
