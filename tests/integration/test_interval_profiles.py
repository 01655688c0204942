"""Hourly interval profiles (issue 4 item 5, acceptance 2): template, upload, primary acts, comparison.

Files are written by openpyxl and xlwt; every refusal asserts its exact message and that no primary act
was written.
"""
from __future__ import annotations

import html as html_lib
import io
import re
import zipfile
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

import openpyxl
import pytest
import xlwt
from sqlalchemy import func, select

from crm import clock
from crm.extensions import db
from crm.models import IntervalProfile, Reading, ReadingsWindow
from tests import factories as f

TODAY = datetime(2026, 4, 10, 9, 0, tzinfo=UTC)
APRIL = date(2026, 4, 1)
HOURS = [f"{hour:02d}-{hour + 1:02d}" for hour in range(24)]


@contextmanager
def data(app):
    with app.app_context():
        yield
        db.session.commit()


@pytest.fixture(autouse=True)
def _frozen_clock():
    clock.set_now(TODAY)
    yield
    clock.set_now(None)


@pytest.fixture()
def site(app):
    """A price category III contract: object A with an interval meter (A+ April consumption 1000 by the
    integral readings) and an ordinary meter, object B with another interval meter; an engineer limited
    to A; another contract's interval meter."""
    with data(app):
        contract = f.contract(price_category="III")
        obj_a = f.energy_object(contract, code="EO-A")
        obj_b = f.energy_object(contract, code="EO-B")
        interval = f.meter(obj_a, serial="I0000001", interval_metering=True)
        plain = f.meter(obj_a, serial="P0000002")
        other_object = f.meter(obj_b, serial="I0000003", interval_metering=True)
        db.session.add(Reading(register_id=interval.registers[0].id, period=APRIL, value=Decimal("5000"),
                               previous_value=Decimal("4000"), consumption=Decimal("1000.5"), source="portal",
                               status="submitted"))
        db.session.add(ReadingsWindow(period=APRIL, opens_on=date(2026, 4, 1), closes_on=date(2026, 4, 25)))
        f.grant(f.user("engineer@test.example"), contract, "power_engineer")
        f.grant(f.user("scoped@test.example"), contract, "power_engineer", objects=[obj_a])
        stranger = f.meter(f.energy_object(f.contract(price_category="IV")), serial="S0000009", interval_metering=True)
        ids = SimpleNamespace(contract=contract.id, interval=interval.id, plain=plain.id, other_object=other_object.id,
                              stranger=stranger.id)
    return ids


def signed_in(app, login="engineer@test.example"):
    client = app.test_client()
    assert f.login(client, login).status_code == 302
    return client


def grid(days=30, month=4, year=2026, value=lambda day, hour: Decimal("1.5") if hour else Decimal("0.25")):
    """The seed's layout: "Время" and the dates in row 1, an hour label and its values in each next row."""
    header = ["Время"] + [f"{day:02d}.{month:02d}.{year}" for day in range(1, days + 1)]
    rows = [[hour] + [value(day, index) for day in range(1, days + 1)] for index, hour in enumerate(HOURS)]
    return [header, *rows]


def xlsx(rows) -> bytes:
    book = openpyxl.Workbook()
    for values in rows:
        book.active.append([float(v) if isinstance(v, Decimal) else v for v in values])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def xls(rows) -> bytes:
    book = xlwt.Workbook()
    sheet = book.add_sheet("Профиль")
    day_style = xlwt.easyxf(num_format_str="DD.MM.YYYY")
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            if r == 0 and c > 0:
                sheet.write(r, c, datetime.strptime(value, "%d.%m.%Y"), day_style)   # real date cells
            elif value is not None:
                sheet.write(r, c, float(value) if isinstance(value, Decimal) else value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload(client, site, content: bytes, name="profile.xlsx", month="2026-04", meter=None):
    return client.post(f"/portal/contracts/{site.contract}/meters/{meter or site.interval}/profile",
                       data={"file": (io.BytesIO(content), name), "month": month}, content_type="multipart/form-data")


def text(response) -> str:
    page = response.get_data(as_text=True)
    main = re.search(r"<main\b.*?</main>", page, re.S).group(0)
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", main))).replace("\xa0", " ")


def problems(response) -> list[str]:
    page = html_lib.unescape(response.get_data(as_text=True))
    block = re.search(r'id="interval-problems".*?</ul>', page, re.S)
    assert block, "no problems listed"
    return [re.sub(r"\s+", " ", item).strip() for item in re.findall(r"<li>(.*?)</li>", block.group(0), re.S)]


def act_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(IntervalProfile))


# --- a good profile -----------------------------------------------------------------------------------

@pytest.mark.parametrize("writer", [xlsx, xls], ids=["xlsx-openpyxl", "xls-xlwt"])
def test_good_profile_creates_a_pending_primary_act_with_exact_values(app, site, writer):
    response = upload(signed_in(app), site, writer(grid()), "профиль.xls" if writer is xls else "профиль.xlsx")
    assert response.status_code == 200, text(response)
    assert "Почасовой профиль сохранён" in text(response)
    with app.app_context():
        act = db.session.scalars(select(IntervalProfile)).one()
        assert (act.meter_id, act.month, act.act_status) == (site.interval, APRIL, "pending")
        assert act.total == Decimal("30") * (Decimal("0.25") + 23 * Decimal("1.5"))   # 1042.5
        assert sorted(act.hourly_values) == [f"2026-04-{day:02d}" for day in range(1, 31)]
        assert act.hourly_values["2026-04-30"] == ["0.25"] + ["1.5"] * 23
        assert act.act_number.startswith("ПА-2604-")
    assert "1 042,5000" in text(response)


def test_second_upload_of_the_month_makes_another_act_and_the_latest_is_compared(app, site):
    client = signed_in(app)
    assert upload(client, site, xlsx(grid())).status_code == 200
    response = upload(client, site, xlsx(grid(value=lambda day, hour: Decimal("1"))))
    assert response.status_code == 200
    with app.app_context():
        numbers = db.session.scalars(select(IntervalProfile.act_number).order_by(IntervalProfile.id)).all()
    assert len(set(numbers)) == 2 and numbers[1] == numbers[0] + "/2"
    page = text(client.get(f"/portal/contracts/{site.contract}/meters/{site.interval}/profile"))
    # April: integral 1000,5 − interval 720 (30 × 24 × 1) = 280,5
    assert "Апрель 2026 1 000,5000 720,0000 280,5000" in page


# --- refusals: the specific message, nothing written ------------------------------------------------

def _refused(app, site, content, name="profile.xlsx", month="2026-04"):
    before = act_count(app)
    response = upload(signed_in(app), site, content, name, month)
    assert response.status_code == 400, text(response)
    assert act_count(app) == before == 0
    return response


def test_a_31st_day_in_a_30_day_month_is_refused_by_name(app, site):
    rows = grid()
    rows[0].append("31.04.2026")
    for row in rows[1:]:
        row.append(Decimal(1))
    assert problems(_refused(app, site, xlsx(rows))) == [
        "Ячейка AF1: даты «31.04.2026» не существует — в месяце «Апрель 2026» 30 дней."]


def test_a_day_of_another_month_is_refused(app, site):
    assert problems(_refused(app, site, xlsx(grid(days=31, month=5)))) == [
        f"Ячейка {col}1: {day:02d}.05.2026 — не день месяца Апрель 2026." for day, col in
        zip(range(1, 32), ["B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O", "P", "Q", "R", "S",
                           "T", "U", "V", "W", "X", "Y", "Z", "AA", "AB", "AC", "AD", "AE", "AF"], strict=True)
    ][:30] + ["… и ещё ошибок: 1."]


def test_a_missing_day_is_refused(app, site):
    assert problems(_refused(app, site, xlsx(grid(days=29)))) == [
        "В первой строке должны быть все дни месяца Апрель 2026 по порядку (30 дней); не хватает: 30.04.2026."]


def test_an_hour_label_out_of_range_is_refused(app, site):
    rows = grid()
    rows[24][0] = "24-25"
    assert problems(_refused(app, site, xlsx(rows))) == [
        "Ячейка A25: интервал «24-25» вне диапазона: в сутках интервалы от «00-01» до «23-24»."]


def test_a_missing_hour_row_is_refused(app, site):
    rows = grid()
    del rows[5]
    assert problems(_refused(app, site, xlsx(rows)))[:2] == [
        "В профиле должно быть ровно 24 строки часовых интервалов (от «00-01» до «23-24»); в файле их 23.",
        "Ячейка A6: интервал «05-06» стоит не на своём месте: здесь должен быть интервал «04-05».",
    ]


def test_a_negative_value_is_refused(app, site):
    rows = grid()
    rows[2][2] = Decimal("-1")
    assert problems(_refused(app, site, xlsx(rows))) == ["Ячейка C3: расход не может быть отрицательным (-1)."]


def test_a_blank_cell_and_text_are_refused_together(app, site):
    rows = grid()
    rows[3][4] = None
    rows[7][10] = "много"
    assert problems(_refused(app, site, xlsx(rows))) == [
        "Ячейка E4 не заполнена: укажите расход за этот час (0, если расхода не было).",
        "Ячейка K8: «много» — не число.",
    ]


def test_a_text_file_renamed_xlsx_is_refused(app, site):
    assert problems(_refused(app, site, "Время;01.04.2026\n00-01;1\n".encode(), "profile.xlsx")) == [
        "Файл недопустимого типа (допустимы: .xlsx, .xls): выберите файл заново."]


def test_a_zip_bomb_is_refused_before_it_is_unpacked(app, site):
    buffer = io.BytesIO(xlsx(grid()))
    with zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("xl/media/padding.bin", "w", force_zip64=True) as member:
            chunk = b"\0" * (1024 * 1024)
            for _ in range(201):
                member.write(chunk)
    assert problems(_refused(app, site, buffer.getvalue())) == [
        "Книга при распаковке занимает больше 200 МБ: файл отклонён как небезопасный."]


def test_a_missing_file_or_month_is_refused(app, site):
    client = signed_in(app)
    response = client.post(f"/portal/contracts/{site.contract}/meters/{site.interval}/profile", data={"month": "x"})
    assert response.status_code == 400
    assert problems(response) == ["Выберите месяц профиля (год и месяц).",
                                  "Выберите файл почасового профиля (.xlsx или .xls) для загрузки."]
    assert act_count(app) == 0


# --- which meters -------------------------------------------------------------------------------------

def test_a_meter_without_interval_metering_answers_404_with_a_clear_message(app, site):
    client = signed_in(app)
    response = client.get(f"/portal/contracts/{site.contract}/meters/{site.plain}/profile")
    assert response.status_code == 404
    assert "Прибор учёта «P0000002» не ведёт почасовой (интервальный) учёт" in text(response)
    assert upload(client, site, xlsx(grid()), meter=site.plain).status_code == 404
    assert act_count(app) == 0


def test_a_meter_outside_the_scope_or_of_another_contract_answers_404(app, site):
    scoped = signed_in(app, "scoped@test.example")
    for meter in (site.other_object, site.stranger):
        assert scoped.get(f"/portal/contracts/{site.contract}/meters/{meter}/profile").status_code == 404
        assert scoped.get(f"/portal/contracts/{site.contract}/meters/{meter}/profile-template.xlsx").status_code == 404
        assert upload(scoped, site, xlsx(grid()), meter=meter).status_code == 404
    assert scoped.get(f"/portal/contracts/{site.contract}/meters/{site.interval}/profile").status_code == 200
    assert act_count(app) == 0


# --- template, act download, comparison on the readings page -----------------------------------------

def test_template_has_the_seed_layout_and_round_trips(app, site):
    client = signed_in(app)
    response = client.get(f"/portal/contracts/{site.contract}/meters/{site.interval}/profile-template.xlsx"
                          "?month=2026-02")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    sheet = book.worksheets[0]
    header = [cell.value for cell in sheet[1]]
    assert header[0] == "Время"
    assert [value.date() for value in header[1:]] == [date(2026, 2, day) for day in range(1, 29)]
    assert [sheet.cell(row, 1).value for row in range(2, 26)] == HOURS
    for row in range(2, 26):
        for column in range(2, 30):
            sheet.cell(row, column).value = 2 if row % 2 else 0.5
    buffer = io.BytesIO()
    book.save(buffer)
    assert upload(client, site, buffer.getvalue(), month="2026-02").status_code == 200
    with app.app_context():
        act = db.session.scalars(select(IntervalProfile)).one()
        assert act.month == date(2026, 2, 1) and act.total == Decimal(28 * (12 * 2 + 12 * Decimal("0.5")))


def test_template_with_a_bad_month_answers_400(app, site):
    response = signed_in(app).get(f"/portal/contracts/{site.contract}/meters/{site.interval}/profile-template.xlsx"
                                  "?month=2026-13")
    assert response.status_code == 400
    assert "Выберите месяц профиля (год и месяц)." in text(response)


def test_primary_act_downloads_as_xlsx_with_its_values_and_not_for_another_scope(app, site):
    client = signed_in(app)
    assert upload(client, site, xlsx(grid())).status_code == 200
    with app.app_context():
        act = db.session.scalars(select(IntervalProfile)).one()
        act_id, number = act.id, act.act_number
    response = client.get(f"/portal/contracts/{site.contract}/acts/{act_id}.xlsx")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    grid_sheet, about = book.worksheets
    assert grid_sheet.cell(2, 2).value == 0.25 and grid_sheet.cell(25, 31).value == 1.5
    assert [cell.value for cell in about["A"]][:2] == ["Первичный акт", "Статус"]
    assert about["B1"].value == number and about["B2"].value == "В ожидании"
    assert signed_in(app, "scoped@test.example").get(
        f"/portal/contracts/{site.contract}/acts/{act_id}.xlsx").status_code == 200
    with data(app):
        db.session.get(IntervalProfile, act_id).meter_id = site.other_object
    assert signed_in(app, "scoped@test.example").get(
        f"/portal/contracts/{site.contract}/acts/{act_id}.xlsx").status_code == 404


def test_readings_entry_page_shows_interval_and_integral_consumption_and_delta(app, site):
    client = signed_in(app)
    assert upload(client, site, xlsx(grid(value=lambda day, hour: Decimal("1.25")))).status_code == 200
    response = client.get(f"/portal/contracts/{site.contract}/readings/submit")
    assert response.status_code == 200
    page = text(response)
    assert "Интервальные показания за Апрель 2026" in page
    # integral 1000,5 − interval 900 (30 × 24 × 1,25) = 100,5; the meter without an act shows dashes
    assert "I0000001 Апрель 2026 1 000,5000 900,0000 100,5000" in page
    assert "I0000003 Апрель 2026 — — —" in page
    assert "P0000002 Апрель" not in page
    assert 'accept=".xlsx,.xls"' in response.get_data(as_text=True)


def test_profile_page_and_messages_speak_english_when_the_user_switches_language(app, site):
    client = signed_in(app)
    assert client.get("/portal/lang/en").status_code == 302
    page = text(client.get(f"/portal/contracts/{site.contract}/meters/{site.interval}/profile"))
    assert "Hourly profile of meter № I0000001" in page and "No primary acts yet" in page
    rows = grid()
    rows[0].append("31.04.2026")
    for row in rows[1:]:
        row.append(Decimal(1))
    response = upload(client, site, xlsx(rows))
    assert response.status_code == 400
    assert problems(response) == ["Cell AF1: the date “31.04.2026” does not exist: April 2026 has 30 days."]
    assert act_count(app) == 0
