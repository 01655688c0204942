"""The integral readings file (issue 4 item 4, acceptance 2): template download and upload.

Files are written by openpyxl and xlwt (not by xlsxwriter, which writes our template), so the upload is
tested against what other programs produce. Every refusal asserts its exact message and that no
reading was written.
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
from crm.models import Reading, ReadingsWindow
from tests import factories as f

TODAY = datetime(2026, 4, 10, 9, 0, tzinfo=UTC)
PERIOD, PREVIOUS = date(2026, 4, 1), date(2026, 3, 1)
HEADER = ["Object code", "Object name", "Status", "Meter", "Metering point", "A+/A−", "Register",
          "Previous readings", "Current readings", "Register id"]
HEADER_RU = ["Код объекта", "Наименование объекта", "Статус", "Прибор учёта", "Точка учёта", "A+/A−", "Шкала",
             "Предыдущие показания", "Текущие показания", "ID шкалы"]


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


def previous(register, value, period=PREVIOUS, consumption="100"):
    db.session.add(Reading(register_id=register.id, period=period, value=Decimal(value),
                           consumption=Decimal(consumption), source="billing", status="accepted"))


@pytest.fixture()
def site(app):
    """Two objects: A with a one-zone meter (6+2 digits) and a day/night meter, B with a one-zone meter;
    previous readings in March 2026; April's window open; an engineer limited to object A."""
    with data(app):
        contract = f.contract()
        obj_a = f.energy_object(contract, code="EO-A", name="Котельная")
        obj_b = f.energy_object(contract, code="EO-B", name="Склад")
        one = f.meter(obj_a, serial="A0000001", digits_integer=6, digits_fraction=2)
        two = f.meter(obj_a, zones=("day", "night"), serial="A0000002", digits_integer=5, digits_fraction=0)
        far = f.meter(obj_b, serial="B0000003", digits_integer=6, digits_fraction=1)
        previous(one.registers[0], "1000.50")
        previous(two.registers[0], "500")
        previous(two.registers[1], "300")
        previous(far.registers[0], "70.5")
        db.session.add(ReadingsWindow(period=PERIOD, opens_on=date(2026, 4, 1), closes_on=date(2026, 4, 25)))
        f.grant(f.user("engineer@test.example"), contract, "power_engineer")
        f.grant(f.user("scoped@test.example"), contract, "power_engineer", objects=[obj_a])
        other = f.contract()
        stranger = f.meter(f.energy_object(other), serial="Z0000009")
        ids = SimpleNamespace(contract=contract.id, one=one.registers[0].id, day=two.registers[0].id,
                              night=two.registers[1].id, far=far.registers[0].id,
                              stranger=stranger.registers[0].id, two_meter=two.id)
    return ids


def signed_in(app, login="engineer@test.example"):
    client = app.test_client()
    assert f.login(client, login).status_code == 302
    return client


def row(register_id, serial, value, zone="Круглосуточно", direction="A+"):
    return ["EO", "Объект", "", serial, "ТУ", direction, zone, None, value, register_id]


def xlsx(rows, header=HEADER) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header)
    for values in rows:
        sheet.append(values)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def xls(rows, header=HEADER) -> bytes:
    book = xlwt.Workbook()
    sheet = book.add_sheet("Показания")
    for r, values in enumerate([header, *rows]):
        for c, value in enumerate(values):
            if value is not None:
                sheet.write(r, c, value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload(client, site, content: bytes, name="readings.xlsx", **extra):
    return client.post(f"/portal/contracts/{site.contract}/readings/upload",
                       data={"file": (io.BytesIO(content), name), **extra}, content_type="multipart/form-data")


def text(response) -> str:
    page = response.get_data(as_text=True)
    main = re.search(r"<main\b.*?</main>", page, re.S).group(0)
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", main))).replace("\xa0", " ")


def problems(response) -> list[tuple[str, str]]:
    """(row, message) of every line of the problems table."""
    page = html_lib.unescape(response.get_data(as_text=True))
    table = re.search(r'class="table table-sm mb-0 files-table upload-problems-table">.*?</table>', page, re.S)
    assert table, "no problems table"
    cells = re.findall(r'<tr><td class="files-row-number">(.*?)</td><td>(.*?)</td></tr>', table.group(0), re.S)
    return [(r.strip(), m.strip()) for r, m in cells]


def reading_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Reading))


def saved(app) -> dict[int, tuple[Decimal, Decimal | None, str]]:
    with app.app_context():
        return {r.register_id: (r.value, r.consumption, r.source)
                for r in db.session.scalars(select(Reading).where(Reading.period == PERIOD))}


GOOD = [("one", "A0000001", "1010,75", "Круглосуточно"), ("day", "A0000002", 520, "День"),
        ("night", "A0000002", 310, "Ночь")]


def good_rows(site, with_ids=True):
    return [row(getattr(site, key) if with_ids else None, serial, value, zone) for key, serial, value, zone in GOOD]


# --- a good file --------------------------------------------------------------------------------------

@pytest.mark.parametrize("writer", [xlsx, xls], ids=["xlsx-openpyxl", "xls-xlwt"])
def test_good_file_saves_every_filled_row_when_written_by_another_program(app, site, writer):
    client = signed_in(app)
    name = "показания.xlsx" if writer is xlsx else "показания.xls"
    response = upload(client, site, writer(good_rows(site)), name)
    assert response.status_code == 200, text(response)
    assert "Показания сохранены" in text(response)
    assert "Сохранено строк: 3" in text(response)
    assert saved(app) == {site.one: (Decimal("1010.75"), Decimal("10.2500"), "file"),
                          site.day: (Decimal("520"), Decimal("20.0000"), "file"),
                          site.night: (Decimal("310"), Decimal("10.0000"), "file")}


def test_rows_are_matched_by_meter_direction_and_zone_when_the_id_column_is_removed(app, site):
    client = signed_in(app)
    rows = [values[:-1] for values in good_rows(site, with_ids=False)]
    response = upload(client, site, xlsx(rows, header=HEADER_RU[:-1]))
    assert response.status_code == 200, text(response)
    assert set(saved(app)) == {site.one, site.day, site.night}


def test_only_rows_with_a_new_value_are_submitted_when_some_are_unchanged(app, site):
    client = signed_in(app)
    assert upload(client, site, xlsx(good_rows(site))).status_code == 200
    rows = good_rows(site)
    rows[0][8] = "1011"            # changed; the day/night meter keeps its values
    response = upload(client, site, xlsx(rows))
    assert response.status_code == 200, text(response)
    assert "Сохранено строк: 1" in text(response)
    assert saved(app)[site.one][0] == Decimal("1011")
    assert reading_count(app) == 4 + 3


# --- every bad row is reported, nothing is written ----------------------------------------------------

def _refused(app, site, content, name="readings.xlsx"):
    before = reading_count(app)
    response = upload(signed_in(app), site, content, name)
    assert response.status_code == 400, text(response)
    assert reading_count(app) == before
    return response


def test_text_in_a_number_is_refused_with_its_row_and_nothing_is_saved(app, site):
    rows = good_rows(site)
    rows[1][8] = "пятьсот"
    response = _refused(app, site, xlsx(rows))
    assert problems(response) == [("3", "Прибор учёта «A0000002», A+ День: «пятьсот» — не число: используйте "
                                         "цифры и запятую или точку.")]
    assert "Ошибки в файле в 1 строке: ничего не сохранено." in text(response)


def test_a_meter_not_on_this_contract_is_refused(app, site):
    rows = good_rows(site) + [row(None, "X9999999", 5)]
    response = _refused(app, site, xlsx(rows))
    assert problems(response) == [("5", "Прибора учёта «X9999999» нет среди доступных вам приборов учёта этого "
                                         "договора.")]


def test_another_contracts_register_id_is_refused_as_not_on_this_contract(app, site):
    rows = good_rows(site) + [row(site.stranger, "Z0000009", 5)]
    response = _refused(app, site, xlsx(rows))
    assert problems(response) == [("5", "Прибора учёта «Z0000009» нет среди доступных вам приборов учёта этого "
                                         "договора.")]


def test_a_duplicate_row_for_the_same_register_is_refused(app, site):
    rows = good_rows(site) + [row(site.one, "A0000001", "1012")]
    response = _refused(app, site, xlsx(rows))
    assert problems(response) == [("5", "Повторная строка: прибор учёта «A0000001», шкала A+ Круглосуточно уже "
                                         "есть в строке 2.")]


def test_a_missing_register_of_a_multi_register_meter_is_refused(app, site):
    rows = good_rows(site)
    rows[2][8] = None                # night left empty
    response = _refused(app, site, xlsx(rows))
    assert problems(response) == [("4", "Прибор учёта «A0000002», A+ Ночь: Введите и это показание: все "
                                         "шкалы прибора учёта № A0000002 передаются вместе, иначе ничего не "
                                         "сохраняется.")]


def test_a_register_row_removed_from_the_file_is_reported_at_its_meters_row(app, site):
    rows = good_rows(site)[:2]        # the night row is deleted
    response = _refused(app, site, xlsx(rows))
    assert [r for r, _m in problems(response)] == ["3"]
    assert "A+ Ночь" in problems(response)[0][1]


def test_capacity_overflow_below_previous_and_closed_register_are_each_reported_at_once(app, site):
    with app.app_context():
        from crm.models import Meter
        db.session.get(Meter, site.two_meter).status = "received"
        db.session.commit()
    rows = [row(site.one, "A0000001", "1234567"), row(site.day, "A0000002", 520, "День"),
            row(site.night, "A0000002", 310, "Ночь"), row(site.far, "B0000003", "20")]
    response = _refused(app, site, xlsx(rows))
    assert problems(response) == [
        ("2", "Прибор учёта «A0000001», A+ Круглосуточно: Разрядность счётчика — не более 6 знаков до "
              "запятой."),
        ("3", "Прибор учёта «A0000002», A+ День: Прибор учёта не принимает показания сейчас (статус «Показания "
              "получены»)."),
        ("4", "Прибор учёта «A0000002», A+ Ночь: Прибор учёта не принимает показания сейчас (статус «Показания "
              "получены»)."),
        ("5", "Прибор учёта «B0000003», A+ Круглосуточно: Показание меньше предыдущего (70,5): проверьте "
              "значение."),
    ]


def test_a_text_file_renamed_xlsx_is_refused(app, site):
    response = _refused(app, site, "Прибор;Показание\nA0000001;1010\n".encode(), "readings.xlsx")
    assert "Файл недопустимого типа (допустимы: .xlsx, .xls): выберите файл заново." in text(response)


def test_a_zip_bomb_is_refused_before_it_is_unpacked(app, site):
    buffer = io.BytesIO(xlsx(good_rows(site)))
    with zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("xl/media/padding.bin", "w", force_zip64=True) as member:
            chunk = b"\0" * (1024 * 1024)
            for _ in range(201):
                member.write(chunk)
    response = _refused(app, site, buffer.getvalue())
    assert "Книга при распаковке занимает больше 200 МБ: файл отклонён как небезопасный." in text(response)


def test_a_file_that_is_not_the_template_is_refused(app, site):
    response = _refused(app, site, xlsx([["a", "b"]], header=["Что-то", "Другое"]))
    assert "Файл не является шаблоном показаний" in text(response)


def test_a_bare_post_answers_400_with_a_message_next_to_the_file_field(app, site):
    response = signed_in(app).post(f"/portal/contracts/{site.contract}/readings/upload")
    assert response.status_code == 400
    assert "Выберите файл показаний (.xlsx или .xls) для загрузки." in text(response)
    assert 'aria-invalid="true"' in response.get_data(as_text=True)


# --- confirmations -----------------------------------------------------------------------------------

def test_a_rollover_is_saved_after_confirm_and_save_resubmits_the_kept_file(app, site):
    with app.app_context():
        db.session.execute(Reading.__table__.update().where(Reading.register_id == site.day)
                           .values(value=Decimal("99990")))
        db.session.commit()
    rows = [row(site.one, "A0000001", "1010"), row(site.day, "A0000002", 15, "День"),
            row(site.night, "A0000002", 310, "Ночь")]
    client = signed_in(app)
    first = upload(client, site, xlsx(rows))
    assert first.status_code == 200
    assert "Проверьте эти показания и подтвердите их: пока ничего не сохранено." in text(first)
    assert "Строка 3:" in text(first)
    assert reading_count(app) == 4
    token = re.search(r'name="token" value="([^"]+)"', first.get_data(as_text=True)).group(1)
    confirmed = client.post(f"/portal/contracts/{site.contract}/readings/upload",
                            data={"confirm": "1", "token": token})
    assert confirmed.status_code == 200, text(confirmed)
    assert "Показания сохранены" in text(confirmed)
    values = saved(app)
    assert values[site.day][:2] == (Decimal("15"), Decimal("25.0000"))     # 99 990 → 00 015 on 5 digits
    assert reading_count(app) == 7


def test_confirm_without_a_kept_upload_is_refused(app, site):
    response = signed_in(app).post(f"/portal/contracts/{site.contract}/readings/upload",
                                   data={"confirm": "1", "token": "forged"})
    assert response.status_code == 400
    assert "Загрузка для подтверждения больше недоступна" in text(response)


# --- the template ------------------------------------------------------------------------------------

def _template(client, site):
    response = client.get(f"/portal/contracts/{site.contract}/readings/template.xlsx")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return openpyxl.load_workbook(io.BytesIO(response.data))


def test_template_round_trip_saves_exactly_the_filled_rows(app, site):
    client = signed_in(app)
    book = _template(client, site)
    sheet = book.worksheets[0]
    assert [cell.value for cell in sheet[1]] == HEADER_RU
    assert book.sheetnames == ["Показания", "Инструкция"]
    assert sheet.freeze_panes == "A2"
    body = [[cell.value for cell in line] for line in sheet.iter_rows(min_row=2)]
    assert [(r[0], r[3], r[5], r[6], r[7], r[9]) for r in body] == [
        ("EO-A", "A0000001", "A+", "Круглосуточно", 1000.5, site.one),
        ("EO-A", "A0000002", "A+", "День", 500, site.day),
        ("EO-A", "A0000002", "A+", "Ночь", 300, site.night),
        ("EO-B", "B0000003", "A+", "Круглосуточно", 70.5, site.far),
    ]
    assert sheet.cell(2, 9).number_format == "0.00"
    assert sheet.cell(3, 9).number_format == "0"
    sheet.cell(2, 9).value = 1001.25          # fill one-zone A and the far meter, leave day/night empty
    sheet.cell(5, 9).value = "80,5"
    buffer = io.BytesIO()
    book.save(buffer)
    response = upload(client, site, buffer.getvalue())
    assert response.status_code == 200, text(response)
    assert saved(app) == {site.one: (Decimal("1001.25"), Decimal("0.7500"), "file"),
                          site.far: (Decimal("80.5"), Decimal("10.0000"), "file")}


def test_scoped_engineers_template_has_only_his_objects_and_his_upload_of_another_object_is_refused(app, site):
    client = signed_in(app, "scoped@test.example")
    sheet = _template(client, site).worksheets[0]
    assert [line[3].value for line in sheet.iter_rows(min_row=2)] == ["A0000001", "A0000002", "A0000002"]
    response = upload(client, site, xlsx([row(site.one, "A0000001", "1010"), row(site.far, "B0000003", "80")]))
    assert response.status_code == 400
    assert problems(response) == [("3", "Прибора учёта «B0000003» нет среди доступных вам приборов учёта этого "
                                         "договора.")]
    assert reading_count(app) == 4


def test_template_and_upload_are_refused_to_an_accountant(app, site):
    with data(app):
        from crm.models import Contract
        f.grant(f.user("accountant@test.example"), db.session.get(Contract, site.contract), "accountant")
    client = signed_in(app, "accountant@test.example")
    assert client.get(f"/portal/contracts/{site.contract}/readings/template.xlsx").status_code == 403
    assert upload(client, site, xlsx(good_rows(site))).status_code == 403
    assert reading_count(app) == 4


def test_upload_reads_with_a_constant_number_of_statements_whatever_the_number_of_meters(app, site, query_counter):
    client = signed_in(app)
    with query_counter() as small:
        assert upload(client, site, xlsx([row(site.one, "A0000001", "1010")])).status_code == 200
    with data(app):
        from crm.models import EnergyObject
        obj = db.session.scalars(select(EnergyObject).where(EnergyObject.code == "EO-B")).one()
        ids = []
        for n in range(20):
            meter = f.meter(obj, serial=f"M{n:07d}")
            previous(meter.registers[0], "10")
            ids.append((meter.registers[0].id, meter.serial))
    with query_counter() as large:
        assert upload(client, site, xlsx([row(rid, serial, "20") for rid, serial in ids])).status_code == 200

    def reads(box):
        return [s for s in box.statements if not s.lstrip().upper().startswith("INSERT INTO READING")]

    # Reads and updates do not grow with the file; the new rows themselves are inserted by the ORM's
    # unit of work (one multi-row INSERT per batch on PostgreSQL; SQLite gets a statement per row).
    assert len(reads(large)) == len(reads(small)), "\n".join(reads(large))
    assert saved(app)[ids[-1][0]] == (Decimal("20"), Decimal("10.0000"), "file")


def test_upload_and_template_speak_english_when_the_user_switches_language(app, site):
    client = signed_in(app)
    assert client.get("/portal/lang/en").status_code == 302
    sheet = _template(client, site).worksheets[0]
    assert [cell.value for cell in sheet[1]] == HEADER
    rows = good_rows(site) + [row(None, "X9999999", 5, zone="All day")]
    response = upload(client, site, xlsx(rows))
    assert response.status_code == 400
    assert problems(response) == [("5", "Meter “X9999999” is not among this contract's meters available to you.")]
    assert "The file has mistakes in 1 row: nothing is saved." in text(response)
    response = upload(client, site, xlsx(good_rows(site)))       # Russian zone labels are read as well
    assert response.status_code == 200 and "Readings saved" in text(response)
