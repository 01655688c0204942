"""Objects and meters (SPEC C7) and the readings history export: scope, search, the meter card's details,
404 outside the scope, statements, and the xlsx read back with openpyxl."""
from __future__ import annotations

import html as html_lib
import io
import re
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

import openpyxl
import pytest

from crm import clock
from crm.extensions import db
from crm.models import Reading
from tests import factories as f

TODAY = datetime(2024, 6, 15, 9, 0, tzinfo=UTC)


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


def _signed_in(app, login: str):
    client = app.test_client()
    assert f.login(client, login).status_code == 302
    return client


def _main(response) -> str:
    match = re.search(r"<main\b.*?</main>", response.get_data(as_text=True), re.S)
    assert match, "page has no <main>"
    return html_lib.unescape(match.group(0)).replace("\xa0", " ").replace("\u202f", " ")


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def reading(register_id, period, value, consumption=None, status="accepted", source="billing", reason=None):
    db.session.add(Reading(register_id=register_id, period=period, value=Decimal(str(value)),
                           consumption=None if consumption is None else Decimal(str(consumption)),
                           status=status, source=source, reject_reason=reason))


@pytest.fixture()
def site(app):
    """Objects «Котельная» (meter Меркурий 230 № A0000001, and a day/night СЭТ-4ТМ № B0000002 with A− and
    R+ registers, ratio 40, losses 2,5 %) and «Склад» (meter № C0000003); users per role, a scoped engineer."""
    with data(app):
        contract = f.contract()
        obj_a = f.energy_object(contract, code="EO-A", name="Котельная", address="г. Москва, ул. Лесная, д. 1")
        obj_b = f.energy_object(contract, code="EO-B", name="Склад", address="г. Москва, ул. Полевая, д. 2")
        meter_a = f.meter(obj_a, serial="A0000001")
        meter_b = f.meter(obj_a, zones=("day", "night"), serial="B0000002", model="СЭТ-4ТМ.03М",
                          digits_integer=8, digits_fraction=3, verification_date=date(2020, 3, 10),
                          next_verification_date=date(2032, 3, 10), interval_metering=True)
        from crm.models import Register

        meter_b.registers.append(Register(zone="all_day", direction="A-", position=2))
        meter_b.registers.append(Register(zone="all_day", direction="R+", position=3))
        meter_b.metering_point.transformation_ratio = Decimal("40")
        meter_b.metering_point.losses_percent = Decimal("2.5")
        meter_c = f.meter(obj_b, serial="C0000003", next_verification_date=date(2024, 1, 1))
        db.session.flush()
        day, night, export, reactive = meter_b.registers
        reading(day.id, date(2024, 4, 1), "1234.5", "10")
        reading(day.id, date(2024, 5, 1), "1300.125", "20")
        reading(day.id, date(2024, 6, 1), "1400", "30", status="submitted", source="portal")
        reading(night.id, date(2024, 5, 1), "700", "5", status="rejected", source="portal", reason="Неверно")
        reading(night.id, date(2024, 4, 1), "650", "5")
        for role in ("administrator", "manager", "power_engineer", "accountant"):
            f.grant(f.user(f"{role}@test.example"), contract, role)
        f.grant(f.user("scoped@test.example"), contract, "power_engineer", objects=[obj_a])
        other = f.contract()
        other_meter = f.meter(f.energy_object(other), serial="Z0000009")
        f.grant(f.user("stranger@test.example"), other, "manager")
        ids = SimpleNamespace(contract=contract.id, a=obj_a.id, b=obj_b.id, meter_a=meter_a.id, meter_b=meter_b.id,
                              meter_c=meter_c.id, other_meter=other_meter.id, other=other.id)
    return ids


def _objects(contract_id: int, query: str = "") -> str:
    return f"/portal/contracts/{contract_id}/objects{query}"


def _card(contract_id: int, meter_id: int) -> str:
    return f"/portal/contracts/{contract_id}/meters/{meter_id}"


# --- objects ------------------------------------------------------------------------------------------------

def test_objects_page_lists_objects_with_their_meters_in_collapsible_blocks(app, site):
    response = _signed_in(app, "manager@test.example").get(_objects(site.contract))
    assert response.status_code == 200
    html = _main(response)
    assert "Объекты и приборы учёта" in html
    assert html.index("EO-A") < html.index("A0000001") < html.index("B0000002") < html.index("EO-B") \
        < html.index("C0000003")
    assert f'data-bs-toggle="collapse" data-bs-target="#obj-{site.a}-meters"' in html
    assert f'aria-controls="obj-{site.a}-meters"' in html
    assert f'href="/portal/contracts/{site.contract}/meters/{site.meter_b}"' in html
    assert "A+ · День" in html and "A− · Круглосуточно" in html and "R+ · Круглосуточно" in html
    page = response.get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "inline script"


def test_objects_are_searched_by_name_and_meters_by_serial_or_model(app, site):
    client = _signed_in(app, "manager@test.example")
    html = _main(client.get(_objects(site.contract, "?q=склад")))
    assert "C0000003" in html and "A0000001" not in html and "Котельная" not in html
    html = _main(client.get(_objects(site.contract, "?meter=сэт-4")))
    assert "B0000002" in html and "A0000001" not in html and "Склад" not in html
    assert f'class="collapse show" id="obj-{site.a}-meters"' in html      # found meters are shown expanded
    html = _main(client.get(_objects(site.contract, "?q=нет+такого")))
    assert "Ничего не найдено" in html


def test_scoped_engineer_sees_only_their_objects(app, site):
    html = _main(_signed_in(app, "scoped@test.example").get(_objects(site.contract)))
    assert "Котельная" in html and "Склад" not in html and "C0000003" not in html
    assert "Показаны только объекты договора, доступные вам." in html


# --- the meter card ----------------------------------------------------------------------------------------

def test_meter_card_shows_details_registers_and_the_last_accepted_reading_per_register(app, site):
    response = _signed_in(app, "power_engineer@test.example").get(_card(site.contract, site.meter_b))
    assert response.status_code == 200
    text = _text(_main(response))
    for expected in ("СЭТ-4ТМ.03М № B0000002", "Заводской номер B0000002", "Разрядность 8 знаков, из них 3 после "
                     "запятой", "Расчётный коэффициент 40", "Потери 2,5 %", "Дата поверки 10.03.2020",
                     "Следующая поверка 10.03.2032", "Почасовой (интервальный) учёт да", "Ожидает показаний"):
        assert expected in text, expected
    rows = re.findall(r"<tr>\s*<td>([^<]+)</td>\s*<td>([^<]+)</td>\s*<td class=\"text-end num text-nowrap\">(.*?)</td>",
                      _main(response), re.S)
    cells = [(zone, direction, _text(value).strip()) for zone, direction, value in rows]
    assert cells == [
        ("День", "A+ (приём)", "1 300,125 кВт·ч за май 2024"),     # June is only submitted
        ("Ночь", "A+ (приём)", "650,000 кВт·ч за апрель 2024"),    # May was rejected
        ("Круглосуточно", "A− (отдача)", "пока нет"),
        ("Круглосуточно", "R+ (реактивная, приём)", "пока нет"),
    ], cells


def test_meter_card_marks_an_overdue_verification(app, site):
    text = _text(_main(_signed_in(app, "manager@test.example").get(_card(site.contract, site.meter_c))))
    assert "Следующая поверка 01.01.2024 просрочена" in text


@pytest.mark.parametrize(("login", "meter", "status"), [
    ("scoped@test.example", "meter_c", 404),            # outside the engineer's objects
    ("manager@test.example", "other_meter", 404),       # another contract's meter through this contract
    ("manager@test.example", "missing", 404),
    ("accountant@test.example", "meter_a", 403),
    ("stranger@test.example", "meter_a", 404),
    ("scoped@test.example", "meter_a", 200),
])
def test_meter_card_answers_404_outside_the_scope_and_follows_the_role_matrix(app, site, login, meter, status):
    meter_id = 999999 if meter == "missing" else getattr(site, meter)
    response = _signed_in(app, login).get(_card(site.contract, meter_id))
    assert response.status_code == status
    if status != 200:
        assert "Z0000009" not in response.get_data(as_text=True)
        assert "C0000003" not in response.get_data(as_text=True)


def test_objects_page_is_forbidden_to_accountants(app, site):
    assert _signed_in(app, "accountant@test.example").get(_objects(site.contract)).status_code == 403


# --- statements --------------------------------------------------------------------------------------------

def _count_statements(query_counter, client, path: str) -> int:
    client.get(path)
    with query_counter() as counter:
        response = client.get(path)
    assert response.status_code == 200, path
    return counter.count


def test_objects_page_and_meter_card_issue_a_constant_number_of_statements(app, query_counter):
    with data(app):
        person = f.user("big@test.example")
        small, big = f.contract(), f.contract()
        small_meter = f.meter(f.energy_object(small))
        objects = [f.energy_object(big) for _ in range(6)]
        meters = [f.meter(objects[i % 6], zones=("peak", "semi_peak", "night") if i % 2 else ("all_day",))
                  for i in range(30)]
        for register in meters[1].registers:
            for month in range(1, 6):
                reading(register.id, date(2024, month, 1), 100 + month, 1)
        for contract in (small, big):
            f.grant(person, contract, "manager")
        ids = (small.id, big.id, small_meter.id, meters[1].id)
    client = _signed_in(app, "big@test.example")
    small_count = _count_statements(query_counter, client, _objects(ids[0]))
    assert _count_statements(query_counter, client, _objects(ids[1])) == small_count
    assert small_count <= 12, small_count
    small_card = _count_statements(query_counter, client, _card(ids[0], ids[2]))
    assert _count_statements(query_counter, client, _card(ids[1], ids[3])) == small_card
    assert small_card <= 12, small_card


# --- the history export ------------------------------------------------------------------------------------

def test_history_export_is_the_pages_filter_as_xlsx_with_exact_values(app, site):
    client = _signed_in(app, "manager@test.example")
    page = _main(client.get(f"/portal/contracts/{site.contract}/readings?from=2024-04&to=2024-06&object={site.a}"))
    link = re.search(r'id="readings-export"\s+href="([^"]+)"', page)
    assert link, "no export button"
    response = client.get(link.group(1))
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "private, no-store"
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:6] == ("Код объекта", "Объект", "Номер прибора учёта", "Модель", "Шкала", "Период")
    body = [(r[2], r[4], r[5].date(), Decimal(str(r[6])), r[7] and Decimal(str(r[7])), r[8], r[9], r[10])
            for r in rows[1:]]
    assert body == [
        ("B0000002", "A+ · День", date(2024, 6, 1), Decimal("1400"), Decimal("30"),
         "Передано через личный кабинет", "Передано", None),
        ("B0000002", "A+ · День", date(2024, 5, 1), Decimal("1300.125"), Decimal("20"),
         "Из биллинговой системы", "Принято", None),
        ("B0000002", "A+ · Ночь", date(2024, 5, 1), Decimal("700"), Decimal("5"),
         "Передано через личный кабинет", "Отклонено", "Неверно"),
        ("B0000002", "A+ · День", date(2024, 4, 1), Decimal("1234.5"), Decimal("10"),
         "Из биллинговой системы", "Принято", None),
        ("B0000002", "A+ · Ночь", date(2024, 4, 1), Decimal("650"), Decimal("5"),
         "Из биллинговой системы", "Принято", None),
    ], body
    assert sheet.cell(row=3, column=7).number_format == "0.000"     # the meter's three fraction digits


def test_history_export_follows_the_status_filter_scope_and_roles(app, site):
    client = _signed_in(app, "manager@test.example")
    response = client.get(f"/portal/contracts/{site.contract}/readings/export.xlsx?from=2024-04&to=2024-06"
                          "&status=rejected")
    rows = list(openpyxl.load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    assert [(r[2], r[9]) for r in rows[1:]] == [("B0000002", "Отклонено")]
    scoped = _signed_in(app, "scoped@test.example")
    response = scoped.get(f"/portal/contracts/{site.contract}/readings/export.xlsx?object={site.b}")
    rows = list(openpyxl.load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    assert all(r[0] != "EO-B" for r in rows[1:])
    assert _signed_in(app, "accountant@test.example").get(
        f"/portal/contracts/{site.contract}/readings/export.xlsx").status_code == 403
