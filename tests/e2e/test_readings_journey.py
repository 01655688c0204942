"""Issue 4 acceptance 4 in headless Chromium: a power engineer submits readings through the form and
through the xlsx file, sees "Показания сохранены" and the history chart; a curator accepts them in the
back office; the engineer then sees them accepted."""
from __future__ import annotations

import calendar
import io
import re
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from playwright.sync_api import expect

from crm import clock
from crm.extensions import db
from crm.models import Reading, ReadingsWindow
from tests import factories as f
from tests.e2e.conftest import ARTIFACTS


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _previous_month(period: date) -> date:
    return date(period.year - 1, 12, 1) if period.month == 1 else date(period.year, period.month - 1, 1)


@pytest.fixture()
def site(app):
    """A contract with two single-register meters, an open window for this month, last month accepted."""
    with app.app_context():
        period = _month_start(clock.today())
        contract = f.contract()
        boiler = f.energy_object(contract, name="Котельная")
        form_meter = f.meter(boiler, serial="E2E-FORM-1", digits_integer=6, digits_fraction=0)
        file_meter = f.meter(boiler, serial="E2E-FILE-2", digits_integer=6, digits_fraction=0)
        for meter, value in ((form_meter, 1000), (file_meter, 2000)):
            db.session.add(Reading(register_id=meter.registers[0].id, period=_previous_month(period),
                                   value=Decimal(value), source="billing", status="accepted"))
        last_day = calendar.monthrange(period.year, period.month)[1]
        db.session.add(ReadingsWindow(period=period, opens_on=period, closes_on=period.replace(day=last_day)))
        f.grant(f.user("engineer@e2e.example", first_name="Пётр", last_name="Иванов"), contract, "power_engineer")
        f.user("curator@e2e.example", username="e2e-curator", roles=("Curator",))
        db.session.commit()
        return {"contract_id": contract.id, "form_register": form_meter.registers[0].id}


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"readings-journey-{name}.png"), full_page=True)


def _fill_template(data: bytes, serial: str, value: int) -> bytes:
    """Fill the current reading of `serial` in the downloaded template, as a person would in Excel."""
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book.worksheets[0]
    rows = list(sheet.iter_rows())
    header_index = next(i for i, row in enumerate(rows) if any(str(c.value or "").startswith("Текущ") for c in row))
    header = [str(cell.value or "") for cell in rows[header_index]]
    current_col = next(i for i, text in enumerate(header) if text.startswith("Текущ"))
    serial_col = header.index("Прибор учёта")
    target = next(row for row in rows[header_index + 1:] if str(row[serial_col].value) == serial)
    target[current_col].value = value
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_engineer_submits_by_form_and_file_and_sees_them_accepted_after_the_curator(page, live_server, site, app,
                                                                                    tmp_path):
    contract_id = site["contract_id"]
    page.goto(live_server + "/portal/login")
    page.fill("input[name=login]", "engineer@e2e.example")
    page.fill("input[name=password]", f.PASSWORD)
    page.click("button[type=submit]")
    expect(page).not_to_have_url(re.compile(r"/portal/login"))

    # 1. The form: one meter's reading, comma-free whole number.
    page.goto(live_server + f"/portal/contracts/{contract_id}/readings/submit")
    expect(page.locator("body")).to_contain_text("принимаются с")
    page.fill(f"#reading-{site['form_register']}", "1150")
    page.click("#readings-entry-submit")
    expect(page.locator("body")).to_contain_text("Показания сохранены")
    expect(page.locator("body")).to_contain_text("150")
    _shot(page, "1-form-saved")

    # 2. The file: download the contract's template, fill the other meter, upload it.
    page.goto(live_server + f"/portal/contracts/{contract_id}/readings/submit")
    with page.expect_download() as download:
        page.click(f"a[href='/portal/contracts/{contract_id}/readings/template.xlsx']")
    filled = tmp_path / "показания.xlsx"
    filled.write_bytes(_fill_template(download.value.path().read_bytes(), "E2E-FILE-2", 2075))
    page.set_input_files("#readings-file", str(filled))
    page.locator("form.readings-upload-form button[type=submit]").click()
    expect(page.locator("body")).to_contain_text("Показания сохранены")
    _shot(page, "2-file-saved")
    with app.app_context():
        saved = {r.value for r in db.session.query(Reading).filter_by(status="submitted")}
        assert saved == {Decimal("1150"), Decimal("2075")}

    # 3. History: the chart is drawn (a canvas with data), both readings listed as submitted.
    page.goto(live_server + f"/portal/contracts/{contract_id}/readings")
    expect(page.locator("canvas").first).to_be_visible()
    expect(page.locator("body")).to_contain_text("E2E-FILE-2")
    _shot(page, "3-history-submitted")

    # 4. The curator accepts both meters in the back office.
    curator = page.context.browser.new_context(viewport={"width": 1280, "height": 900}, locale="ru-RU")
    desk = curator.new_page()
    desk.goto(live_server + "/login/")
    desk.fill("input[name=username]", "e2e-curator")
    desk.fill("input[name=password]", f.PASSWORD)
    desk.click("input[type=submit], button[type=submit]")
    desk.goto(live_server + "/admin/readings/review/")
    items = desk.locator("input[name=item]")
    expect(items).to_have_count(2)
    for index in range(2):
        items.nth(index).check()
    desk.locator("button[name=decision][value=accept]").first.click()
    expect(desk.locator(".alert")).to_contain_text("Проверено показаний: 2")
    desk.screenshot(path=str(ARTIFACTS / "readings-journey-4-curator-accepted.png"), full_page=True)
    curator.close()
    with app.app_context():
        assert {r.status for r in db.session.query(Reading).filter(Reading.value.in_([1150, 2075]))} == {"accepted"}

    # 5. The engineer sees them accepted.
    page.goto(live_server + f"/portal/contracts/{contract_id}/readings?status=accepted")
    expect(page.locator("body")).to_contain_text("E2E-FORM-1")
    expect(page.locator("body")).to_contain_text("E2E-FILE-2")
    expect(page.locator("body")).to_contain_text("Принят")
    _shot(page, "5-history-accepted")
