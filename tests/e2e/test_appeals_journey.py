"""Issue 6 acceptance 4 in headless Chromium.

1. A customer files the 8-step "Energy supply contract" appeal with a file, saves a draft midway (the
   close button's dialog) and resumes it, sends it; a curator replies with a file at the back-office desk;
   the customer sees the unread badge, reads, replies; the curator closes it; the customer rates it.
2. "Request access" on a contract without an administrator → an "Access rights" appeal → the curator
   grants the role at the desk → the customer is the contract's administrator.
"""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from crm.extensions import db
from crm.models import Appeal, AppealDraft
from crm.models.access import ContractAccess
from crm.services.appeal_definitions import ensure_appeal_definitions
from tests import factories as f
from tests.e2e.conftest import ARTIFACTS

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture()
def office(app):
    """The seeded appeal catalogue, a legal-entity contract with full requisites, its director (no
    administrator on the contract yet) and the branch's curator."""
    with app.app_context():
        ensure_appeal_definitions()
        branch = f.branch(name="Центральный филиал")
        counterparty = f.counterparty(
            full_name="Общество с ограниченной ответственностью «Тверской хлебозавод»",
            short_name="ООО «Тверской хлебозавод»", kpp="695001001", ogrn="1026900512345", okpo="12345678",
            legal_address="170100, г. Тверь, ул. Советская, д. 7", postal_address="170100, г. Тверь, а/я 15",
            bank_name="ПАО Сбербанк", bank_bik="042809679", bank_account="40702810463000001234",
            bank_corr_account="30101810700000000679")
        contract = f.contract(counterparty, branch)
        director = f.user("director@journey.example", first_name="Ольга", last_name="Смирнова",
                          patronymic="Петровна", phone="+7 (4822) 33-45-10", position="Директор")
        f.grant(director, contract, "manager")
        staff = f.user("curator@journey.example", username="journey-curator", roles=("Curator",))
        f.curator(branch, user_id=staff.id)
        db.session.commit()
        return {"contract_id": contract.id, "contract_number": contract.number, "director_id": director.id}


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"appeals-journey-{name}.png"), full_page=True)


def _sign_in(page, live_server) -> None:
    page.goto(live_server + "/portal/login")
    page.fill("input[name=login]", "director@journey.example")
    page.fill("input[name=password]", f.PASSWORD)
    page.click("button[type=submit]")
    expect(page).not_to_have_url(re.compile(r"/portal/login"))


def _desk(page, live_server):
    context = page.context.browser.new_context(viewport={"width": 1280, "height": 900}, locale="ru-RU")
    desk = context.new_page()
    desk.set_default_timeout(15000)
    desk.goto(live_server + "/login/")
    desk.fill("input[name=username]", "journey-curator")
    desk.fill("input[name=password]", f.PASSWORD)
    desk.click("input[type=submit], button[type=submit]")
    return context, desk


def _next(page, counter: str) -> None:
    page.click("#appeal-next")
    expect(page.locator("#appeal-step-counter")).to_have_text(counter)


def _transition(desk, label: str) -> None:
    desk.locator("form.appeal-transitions button[name=transition_id]", has_text=label).first.click()
    expect(desk.locator(".alert").first).to_be_visible()


def test_customer_files_the_energy_supply_appeal_with_a_draft_and_rates_the_answer(page, live_server, office, app,
                                                                                    tmp_path):
    scan = tmp_path / "pravo-sobstvennosti.pdf"
    scan.write_bytes(PDF)
    _sign_in(page, live_server)

    # Step 1: the choice (contract, topic and section, subsection).
    page.goto(live_server + "/portal/appeals/")
    expect(page.locator("#appeals-empty")).to_be_visible()
    page.click("#appeal-create")
    page.select_option("#contract_id", str(office["contract_id"]))
    page.select_option("#section_id", label="Заключение договора энергоснабжения")
    page.select_option("#subsection_id", label="Юридическое лицо")
    _shot(page, "1-choice")
    _next(page, "Шаг 2 из 9")

    # Steps 2–4 come prefilled from the contract's requisites.
    expect(page.locator("#field-inn")).not_to_have_value("")
    expect(page.locator("#field-org_short_name")).to_have_value("ООО «Тверской хлебозавод»")
    page.fill("#field-head_position", "Директор")
    page.fill("#field-head_name", "Смирнова Ольга Петровна")
    _shot(page, "2-step-prefilled")
    _next(page, "Шаг 3 из 9")
    page.select_option("#field-branch", index=1)
    _next(page, "Шаг 4 из 9")
    expect(page.locator("#field-bank_bik")).to_have_value("042809679")
    _next(page, "Шаг 5 из 9")
    page.fill("#field-start_date", "2026-12-01")
    page.select_option("#field-delivery", label="На e-mail")
    page.fill("#field-region", "Тверская область")
    _next(page, "Шаг 6 из 9")
    expect(page.locator("#field-contact_last_name")).to_have_value("Смирнова")
    page.fill("#field-contact_phone", "+7 (4822) 33-45-10")
    _next(page, "Шаг 7 из 9")
    page.fill("#field-object_name", "Цех № 2")
    page.fill("#field-object_address", "г. Тверь, ул. Складская, д. 3")
    page.set_input_files("#field-object_documents", str(scan))
    _next(page, "Шаг 8 из 9")

    # Midway: the close button asks whether to keep a draft; keep it.
    page.click("#appeal-close")
    expect(page.locator("#appeal-close-modal")).to_be_visible()
    _shot(page, "3-close-asks-to-save")
    page.click("#appeal-modal-save")
    expect(page.locator(".alert-success")).to_contain_text("Черновик сохранён")
    expect(page.locator("#appeal-tab-drafts")).to_have_attribute("aria-current", "page")
    expect(page.locator("body")).to_contain_text("Дата окончания действия черновика")
    _shot(page, "4-drafts-tab")
    with app.app_context():
        draft = db.session.query(AppealDraft).one()
        assert draft.steps_completed == 6 and [a.filename for a in draft.attachments] == ["pravo-sobstvennosti.pdf"]
        draft_id = draft.id

    # Resume: the next step opens; the file is still there one step back.
    page.locator(f"#draft-{draft_id} a.btn").click()
    expect(page.locator("#appeal-step-counter")).to_have_text("Шаг 8 из 9")
    page.click("#appeal-back")
    expect(page.locator(".appeal-upload-list")).to_contain_text("pravo-sobstvennosti.pdf")
    _next(page, "Шаг 8 из 9")
    page.fill("#field-connection_name", "ТП-114, РУ-0,4 кВ")
    page.fill("#field-max_power", "150")
    page.fill("#field-balance_boundary", "Наконечники кабеля в РУ-0,4 кВ ТП-114")
    page.fill("#field-grid_company", "ПАО «Россети Центр»")
    page.select_option("#field-voltage_level", label="НН")
    page.select_option("#field-price_category", label="I")
    page.select_option("#field-contract_type", label="С услугами по передаче")
    page.select_option("#field-tariff_zones", label="Без тарифных зон")
    _next(page, "Шаг 9 из 9")
    page.fill("#field-metering_point_name", "Ввод 1")
    page.fill("#field-digits_integer", "6")
    page.fill("#field-initial_reading", "12,5")
    page.fill("#field-verified_on", "2025-06-30")
    page.select_option("#field-meter_owner", label="Потребитель")
    page.click("#appeal-send")
    expect(page.locator("#appeal-step-errors")).to_be_visible()             # two required fields left empty
    expect(page.locator("#field-meter_serial-error")).to_be_visible()
    page.fill("#field-meter_serial", "MERC-230-0042")
    page.fill("#field-meter_model", "Меркурий 230 ART")
    page.click("#appeal-send")
    expect(page.locator("#appeal-sent-title")).to_have_text("Обращение отправлено")
    number = page.locator("#appeal-number").inner_text()
    assert re.fullmatch(r"\d{7}-\d{2}-\d+-Ю-Л", number), number
    _shot(page, "5-sent")
    with app.app_context():
        appeal = db.session.query(Appeal).one()
        assert db.session.query(AppealDraft).count() == 0
        appeal_id = appeal.id

    # The curator replies with a file at the desk.
    context, desk = _desk(page, live_server)
    desk.goto(live_server + f"/admin/appeals/{appeal_id}")
    expect(desk.locator("body")).to_contain_text(number)
    desk.fill("#reply-body", "Проект договора во вложении. Проверьте реквизиты, пожалуйста.")
    reply_file = tmp_path / "proekt-dogovora.pdf"
    reply_file.write_bytes(PDF)
    desk.set_input_files("#reply-files", str(reply_file))
    desk.locator("form.appeal-reply button[type=submit]").click()
    expect(desk.locator("#dialogue")).to_contain_text("Проект договора во вложении")
    desk.screenshot(path=str(ARTIFACTS / "appeals-journey-6-curator-replied.png"), full_page=True)

    # The customer sees the unread badge, reads the reply with its file, answers.
    page.goto(live_server + "/portal/appeals/")
    expect(page.locator("[data-menu-badge=appeals]")).to_contain_text("1")
    expect(page.locator(f"#appeal-{appeal_id} .appeal-unread-mark")).to_be_visible()
    _shot(page, "7-unread-badge")
    page.click(f"#appeal-{appeal_id} a")
    expect(page.locator("#appeal-dialogue")).to_contain_text("Проект договора во вложении")
    expect(page.locator("#appeal-dialogue")).to_contain_text("proekt-dogovora.pdf")
    expect(page.locator("#appeal-form-data")).to_contain_text("Цех № 2", use_inner_text=False)
    expect(page.locator("[data-menu-badge=appeals]")).to_have_count(0)
    page.fill("#reply-body", "Реквизиты верны, ждём договор на подпись.")
    page.click("#reply-send")
    expect(page.locator("#appeal-dialogue")).to_contain_text("Реквизиты верны")
    _shot(page, "8-customer-replied")

    # The curator closes the appeal.
    desk.goto(live_server + f"/admin/appeals/{appeal_id}")
    expect(desk.locator("#dialogue")).to_contain_text("Реквизиты верны")
    _transition(desk, "Взять в работу")
    _transition(desk, "Решено")
    desk.screenshot(path=str(ARTIFACTS / "appeals-journey-9-curator-closed.png"), full_page=True)
    context.close()

    # The customer finds it closed, read-only, and rates it.
    page.goto(live_server + "/portal/appeals/?tab=closed")
    page.click(f"#appeal-{appeal_id} a")
    expect(page.locator("#appeal-state")).to_have_text("[Решено]")
    expect(page.locator("#dialogue-closed")).to_be_visible()
    page.click("label[for=rating-5]")
    page.fill("#rating-comment", "Быстро и понятно, спасибо.")
    page.click("#rating-send")
    expect(page.locator("#appeal-rating-value")).to_contain_text("5 из 5")
    _shot(page, "10-rated")
    with app.app_context():
        assert db.session.get(Appeal, appeal_id).rating == 5


def test_customer_requests_the_administrator_role_and_the_curator_grants_it(page, live_server, office, app,
                                                                             tmp_path):
    order = tmp_path / "prikaz.pdf"
    order.write_bytes(PDF)
    _sign_in(page, live_server)
    page.goto(live_server + "/portal/contracts/")
    button = page.locator(f"#request-access-{office['contract_id']}")
    expect(button).to_be_visible()
    _shot(page, "access-1-contracts")
    button.click()
    expect(page.locator("#contract_id")).to_have_value(str(office["contract_id"]))
    expect(page.locator("#section_id option:checked")).to_have_text("Права доступа")
    _next(page, "Шаг 2 из 2")
    expect(page.locator("#field-full_name")).to_have_value("Смирнова Ольга Петровна")
    page.fill("#field-reason", "Назначена ответственной за договор приказом № 14-к от 01.03.2026")
    page.set_input_files("#field-power_of_attorney", str(order))
    _shot(page, "access-2-form")
    page.click("#appeal-send")
    expect(page.locator("#appeal-sent-title")).to_have_text("Обращение отправлено")
    with app.app_context():
        appeal_id = db.session.query(Appeal.id).scalar()

    context, desk = _desk(page, live_server)
    desk.goto(live_server + f"/admin/appeals/{appeal_id}")
    desk.locator("form[action$='/grant-administrator'] button[type=submit]").click()
    expect(desk.locator(".alert").first).to_be_visible()
    desk.screenshot(path=str(ARTIFACTS / "appeals-journey-access-3-granted.png"), full_page=True)
    context.close()
    with app.app_context():
        access = db.session.query(ContractAccess).filter_by(user_id=office["director_id"],
                                                            contract_id=office["contract_id"]).one()
        assert access.role == "administrator"

    page.goto(live_server + f"/portal/contracts/{office['contract_id']}/")
    expect(page.locator(".role-badge")).to_contain_text("Администратор")
    expect(page.locator("#request-access")).to_have_count(0)
    page.goto(live_server + f"/portal/appeals/{appeal_id}")
    expect(page.locator("#appeal-state")).to_contain_text("предоставлена")
    _shot(page, "access-4-administrator")
