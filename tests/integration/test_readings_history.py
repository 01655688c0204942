"""Readings history (SPEC C8 history, C12 meter chart): filters, object scope, exact values, statements.

Test data is built inside `data(app)` and committed before any request; requests run in their own app
context (see tests/integration/test_portal.py for why).
"""
from __future__ import annotations

import html as html_lib
import io
import json
import re
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from crm import clock
from crm.extensions import db
from crm.models import Reading
from tests import factories as f

TODAY = datetime(2024, 6, 15, 9, 0, tzinfo=UTC)


@contextmanager
def data(app):
    """Build test data in a short-lived app context and commit it."""
    with app.app_context():
        yield
        db.session.commit()


@pytest.fixture(autouse=True)
def _frozen_clock():
    clock.set_now(TODAY)
    yield
    clock.set_now(None)


def reading(register, period: date, value, consumption=None, *, status="accepted", source="billing",
            reason=None) -> Reading:
    row = Reading(register_id=register.id, period=period, value=Decimal(str(value)),
                  consumption=None if consumption is None else Decimal(str(consumption)),
                  source=source, status=status, reject_reason=reason)
    db.session.add(row)
    return row


def _signed_in(app, login: str):
    client = app.test_client()
    response = f.login(client, login)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def _main(response) -> str:
    match = re.search(r"<main\b.*?</main>", response.get_data(as_text=True), re.S)
    assert match, "page has no <main>"
    return match.group(0).replace("\xa0", " ")


def _periods(html: str) -> list[str]:
    """The period column of every readings table, in page order."""
    return re.findall(r'<th scope="row" class="fw-normal period-cell"><span class="text-nowrap">([^<]+)</span>', html)


def _problems(html: str) -> str:
    match = re.search(r'id="readings-filter-problems".*?</ul>', html, re.S)
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", match.group(0)))) if match else ""


def _url(contract_id: int, query: str = "") -> str:
    return f"/portal/contracts/{contract_id}/readings{query}"


@pytest.fixture()
def site(app):
    """A contract with two objects (a one-zone meter at A, a day/night meter at B) and one user per role."""
    with data(app):
        contract = f.contract()
        obj_a = f.energy_object(contract, code="EO-A", name="Котельная")
        obj_b = f.energy_object(contract, code="EO-B", name="Склад")
        meter_a = f.meter(obj_a, serial="A0000001")
        meter_b = f.meter(obj_b, zones=("day", "night"), serial="B0000002")
        (reg_a,) = meter_a.registers
        day, night = meter_b.registers
        # Default range at 15.06.2024: July 2023 … June 2024.
        reading(reg_a, date(2023, 6, 1), 100, 10)                  # 13 months ago: outside
        reading(reg_a, date(2023, 7, 1), 110, 10)
        reading(reg_a, date(2024, 5, 1), 1200.5, "12345.6789")
        reading(reg_a, date(2024, 6, 1), 1300.5, 100, status="submitted", source="portal")
        reading(day, date(2024, 4, 1), 500, "0.1")
        reading(night, date(2024, 4, 1), 300, "0.2")
        reading(day, date(2024, 5, 1), 520, 20, status="rejected", source="portal",
                reason="Показание меньше предыдущего")
        reading(night, date(2024, 5, 1), 310, 10, status="rejected", source="portal",
                reason="Показание меньше предыдущего")
        people = {}
        for role in ("administrator", "manager", "power_engineer", "accountant"):
            people[role] = f.user(f"{role}@test.example")
            f.grant(people[role], contract, role)
        f.grant(f.user("scoped@test.example"), contract, "power_engineer", objects=[obj_a])
        other_contract = f.contract()
        f.grant(f.user("stranger@test.example"), other_contract, "manager")
        ids = SimpleNamespace(contract=contract.id, a=obj_a.id, b=obj_b.id, other=other_contract.id)
    return ids


# --- default view -----------------------------------------------------------------------------------

def test_history_shows_the_last_12_months_by_default_grouped_by_object_and_meter(app, site):
    response = _signed_in(app, "manager@test.example").get(_url(site.contract))
    assert response.status_code == 200
    html = _main(response)
    assert "История показаний" in html
    assert 'name="from" value="2023-07"' in html and 'name="to" value="2024-06"' in html
    assert _periods(html) == ["Июнь 2024", "Май 2024", "Июль 2023", "Май 2024", "Апрель 2024"]
    body = html[html.index('class="readings-objects"'):]
    assert body.index("EO-A") < body.index("A0000001") < body.index("EO-B") < body.index("B0000002")
    assert "Меркурий 230" in html
    for text in ("A+ · Круглосуточно", "A+ · День", "A+ · Ночь", "Показание", "Расход, кВт·ч",
                 "Передано через личный кабинет", "Из биллинговой системы", "Передано", "Принято", "Отклонено",
                 "Показание меньше предыдущего"):
        assert text in html, text
    assert "<caption" in html and "Показания прибора учёта № A0000001" in html


def test_history_lists_only_readings_inside_a_chosen_period(app, site):
    html = _main(_signed_in(app, "manager@test.example").get(_url(site.contract, "?from=2023-06&to=2023-07")))
    assert _periods(html) == ["Июль 2023", "Июнь 2023"]
    assert "По этому прибору учёта нет показаний за выбранный период." in html


def test_history_shows_an_empty_state_when_nothing_was_read_in_the_period(app, site):
    response = _signed_in(app, "manager@test.example").get(_url(site.contract, "?from=2020-01&to=2020-12"))
    assert response.status_code == 200
    html = _main(response)
    assert "Нет показаний за выбранный период" in html
    assert "<table" not in html and "data-readings-chart" not in html


# --- exact values ----------------------------------------------------------------------------------

def test_values_and_consumption_are_shown_exactly_with_exact_totals(app, site):
    html = _main(_signed_in(app, "manager@test.example").get(_url(site.contract)))
    assert "12 345,6789" in html          # consumption with every stored decimal
    assert "1 200,50" in html              # the value with the meter's two fraction digits
    totals = re.findall(r'<td class="text-end num fw-semibold">([^<]+)</td>', html)
    # A: 10 + 12345.6789 + 100; B day: 0.1 + 20; B night: 0.2 + 10 — Decimal sums, no float noise
    assert totals == ["12 455,6789", "20,1", "10,2"]


def test_service_returns_decimals_and_exact_totals(app, site):
    from crm.access import grant_for
    from crm.services.readings import readings_history

    with app.app_context():
        user = f.user("svc@test.example")
        from crm.models import Contract
        f.grant(user, db.session.get(Contract, site.contract), "manager")
        db.session.flush()
        history = readings_history(grant_for(user, site.contract), date(2024, 4, 1), date(2024, 4, 1))
        (obj_b,) = [obj for obj in history.objects if obj.meters and obj.meters[0].rows]
        (meter,) = obj_b.meters
        assert meter.totals() == [Decimal("0.1"), Decimal("0.2")]
        assert all(isinstance(total, Decimal) for total in meter.totals())
        assert sum(meter.totals()) == Decimal("0.3")
        db.session.rollback()


def test_chart_data_sits_in_a_data_attribute_with_exact_strings_and_no_inline_script(app, site):
    response = _signed_in(app, "manager@test.example").get(_url(site.contract, f"?object={site.a}"))
    page = response.get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "inline script"
    assert " style=" not in page
    assert '/portal/static/vendor/chartjs/chart.umd.min.js' in page and '/portal/static/readings.js' in page
    raw = re.search(r'data-readings-chart="([^"]+)"', page).group(1)
    chart = json.loads(html_lib.unescape(raw))
    assert chart["labels"] == ["Июль 2023", "Май 2024", "Июнь 2024"]
    (dataset,) = chart["datasets"]
    assert [Decimal(value) for value in dataset["data"]] == [Decimal("10"), Decimal("12345.6789"), Decimal("100")]
    assert chart["axis"] == "Расход, кВт·ч"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert _signed_in(app, "manager@test.example").get("/portal/static/readings.js").status_code == 200


def test_history_is_translated_to_english(app, site):
    client = _signed_in(app, "manager@test.example")
    assert client.get("/portal/lang/en").status_code == 302
    html = _main(client.get(_url(site.contract)))
    for text in ("Readings history", "A+ · All day", "A+ · Day", "Consumption, kWh", "From the billing system",
                 "Submitted via the customer portal", "Rejected", "July 2023"):
        assert text in html, text


# --- filters ---------------------------------------------------------------------------------------

def test_object_filter_shows_only_that_objects_meters(app, site):
    html = _main(_signed_in(app, "manager@test.example").get(_url(site.contract, f"?object={site.b}")))
    assert "B0000002" in html and "A0000001" not in html
    assert f'<option value="{site.b}" selected>' in html
    assert f'<option value="{site.a}">' in html     # the other object can still be chosen


@pytest.mark.parametrize(("status", "periods", "absent"), [
    ("rejected", ["Май 2024"], "Из биллинговой системы"),
    ("submitted", ["Июнь 2024"], "Показание меньше предыдущего"),
    ("accepted", ["Май 2024", "Июль 2023", "Апрель 2024"], "Передано через личный кабинет"),
])
def test_status_filter_shows_only_readings_in_that_status(app, site, status, periods, absent):
    response = _signed_in(app, "manager@test.example").get(_url(site.contract, f"?status={status}"))
    assert response.status_code == 200
    html = _main(response)
    assert _periods(html) == periods
    assert absent not in html
    assert f'<option value="{status}" selected>' in html


def test_rejected_readings_show_the_badge_and_the_reason(app, site):
    html = _main(_signed_in(app, "manager@test.example").get(_url(site.contract, "?status=rejected")))
    assert 'status-danger">Отклонено</span>' in html
    # The same reason for both zones, once per layout: the status column, and the line under the period
    # that replaces it on phones (each hidden at the other's widths).
    assert html.count("Показание меньше предыдущего") == 2
    assert "A0000001" not in html                               # no rejected readings there


@pytest.mark.parametrize(("query", "message"), [
    ("?from=2024-13&to=2024-06", "Месяц «2024-13» в поле «С» не распознан"),
    ("?from=2024-01&to=июнь", "Месяц «июнь» в поле «По» не распознан"),
    ("?from=2024-06&to=2023-01", "Начало периода позже его конца"),
    ("?status=lost", "Неизвестный статус показаний «lost»"),
    ("?object=abc", "Этот энергообъект не относится к доступным вам объектам договора"),
    ("?object=999999", "Этот энергообъект не относится к доступным вам объектам договора"),
    ("?from=1990-01&to=2024-06", "Выберите период не длиннее 10 лет"),
])
def test_bad_filter_gets_a_specific_russian_message_and_the_default_view(app, site, query, message):
    response = _signed_in(app, "manager@test.example").get(_url(site.contract, query))
    assert response.status_code == 400
    html = _main(response)
    assert message in _problems(html)
    assert 'name="from" value="2023-07"' in html and 'name="to" value="2024-06"' in html
    assert _periods(html) == ["Июнь 2024", "Май 2024", "Июль 2023", "Май 2024", "Апрель 2024"]


def test_bad_filter_reports_every_problem_at_once(app, site):
    response = _signed_in(app, "manager@test.example").get(_url(site.contract, "?from=x&to=y&status=z"))
    problems = _problems(_main(response))
    assert "«x»" in problems and "«y»" in problems and "«z»" in problems


def test_another_contracts_object_is_refused_and_never_shown(app, site):
    with data(app):
        from crm.models import Contract
        foreign = f.energy_object(db.session.get(Contract, site.other), code="EO-X")
        reading(f.meter(foreign, serial="X0000009").registers[0], date(2024, 5, 1), 1, 1)
        foreign_id = foreign.id
    response = _signed_in(app, "manager@test.example").get(_url(site.contract, f"?object={foreign_id}"))
    assert response.status_code == 400
    html = _main(response)
    assert "X0000009" not in html and "EO-X" not in html
    assert "Этот энергообъект не относится" in _problems(html)


# --- object scope and roles ------------------------------------------------------------------------

def test_power_engineer_limited_to_one_object_sees_only_its_meters(app, site):
    html = _main(_signed_in(app, "scoped@test.example").get(_url(site.contract)))
    assert "A0000001" in html and "EO-A" in html
    assert "B0000002" not in html and "EO-B" not in html and "Склад" not in html
    assert f'<option value="{site.b}"' not in html
    assert "Показаны только объекты договора, доступные вам" in html


def test_power_engineer_forging_an_object_outside_the_scope_gets_a_message_and_none_of_its_data(app, site):
    response = _signed_in(app, "scoped@test.example").get(_url(site.contract, f"?object={site.b}"))
    assert response.status_code == 400
    html = _main(response)
    assert "Этот энергообъект не относится к доступным вам объектам договора" in _problems(html)
    assert "B0000002" not in html and "Склад" not in html and "Показание меньше предыдущего" not in html
    assert "A0000001" in html       # the default view of what the engineer may see


def test_service_refuses_an_object_outside_the_scope_before_reading_anything(app, site, query_counter):
    from crm.access import grant_for
    from crm.models import CrmUser
    from crm.services.readings import ReadingsFilterError, readings_history

    with app.app_context():
        user = db.session.scalars(db.select(CrmUser).where(CrmUser.email == "scoped@test.example")).one()
        grant = grant_for(user, site.contract)
        with query_counter() as counter, pytest.raises(ReadingsFilterError):
            readings_history(grant, date(2023, 7, 1), date(2024, 6, 1), site.b)
        assert counter.count == 0


@pytest.mark.parametrize(("login", "status"), [
    ("administrator@test.example", 200), ("manager@test.example", 200), ("power_engineer@test.example", 200),
    ("accountant@test.example", 403), ("stranger@test.example", 404),
])
def test_history_follows_the_role_matrix(app, site, login, status):
    response = _signed_in(app, login).get(_url(site.contract))
    assert response.status_code == status
    if status != 200:
        assert "A0000001" not in response.get_data(as_text=True)


def test_menu_offers_readings_to_engineers_and_not_to_accountants(app, site):
    engineer = _signed_in(app, "power_engineer@test.example").get(f"/portal/contracts/{site.contract}/")
    nav = re.search(r'<ul class="nav flex-column side-nav">.*?</ul>', engineer.get_data(as_text=True), re.S).group(0)
    assert f'href="/portal/contracts/{site.contract}/readings"' in nav and "Показания" in nav
    accountant = _signed_in(app, "accountant@test.example").get(f"/portal/contracts/{site.contract}/")
    nav = re.search(r'<ul class="nav flex-column side-nav">.*?</ul>', accountant.get_data(as_text=True), re.S).group(0)
    assert "/readings" not in nav
    page = _signed_in(app, "power_engineer@test.example").get(_url(site.contract)).get_data(as_text=True)
    nav = re.search(r'<ul class="nav flex-column side-nav">.*?</ul>', page, re.S).group(0)
    assert re.search(r'class="nav-link active" href="[^"]+/readings"\s+aria-current="page"', nav)


# --- statements --------------------------------------------------------------------------------------

def _count_statements(query_counter, client, path: str) -> int:
    client.get(path)  # warm up (first request of a client, statement caches)
    with query_counter() as counter:
        response = client.get(path)
    assert response.status_code == 200, path
    return counter.count


def _months(count: int, last: date = date(2024, 6, 1)) -> list[date]:
    index = last.year * 12 + last.month - 1
    return [date((index - k) // 12, (index - k) % 12 + 1, 1) for k in range(count)][::-1]


def test_history_issues_the_same_number_of_statements_for_1_meter_3_months_or_10_meters_24_months(
        app, query_counter):
    with data(app):
        person = f.user("big@test.example")
        small, big = f.contract(), f.contract()
        (register,) = f.meter(f.energy_object(small)).registers
        for number, period in enumerate(_months(3)):
            reading(register, period, 100 + number, 1)
        objects = [f.energy_object(big) for _ in range(3)]
        for index in range(10):
            meter = f.meter(objects[index % 3], zones=("peak", "semi_peak", "night") if index % 2 else ("all_day",))
            for number, period in enumerate(_months(24)):
                for register in meter.registers:
                    reading(register, period, 1000 + number, "1.5", status="rejected" if number == 3 else "accepted",
                            source="portal" if number % 2 else "billing", reason="Неверно" if number == 3 else None)
        for contract in (small, big):
            f.grant(person, contract, "manager")
        small_id, big_id = small.id, big.id
    client = _signed_in(app, "big@test.example")
    query = "?from=2022-07&to=2024-06"
    small_count = _count_statements(query_counter, client, _url(small_id, query))
    big_count = _count_statements(query_counter, client, _url(big_id, query))
    assert big_count == small_count
    assert small_count <= 15, small_count
    # one object chosen, or a status: still the same statements
    assert _count_statements(query_counter, client, _url(big_id, query + "&status=rejected")) == small_count


# --- the demo ---------------------------------------------------------------------------------------

def test_demo_readings_page_renders_for_the_power_engineer(app):
    from crm.models import ContractAccess, CrmUser, EnergyObject
    from crm.services.demo import seed_demo
    from crm.services.demo_data import CUSTOMER_PASSWORD

    clock.set_now(None)
    with data(app):
        assert seed_demo() is True
        engineer = db.session.scalars(db.select(CrmUser).where(CrmUser.username == "engineer@demo.example")).one()
        access = db.session.scalars(db.select(ContractAccess).where(ContractAccess.user_id == engineer.id)).one()
        contract_id = access.contract_id
        in_scope = {obj.code for obj in access.energy_objects}
        outside = {obj.code for obj in db.session.scalars(
            db.select(EnergyObject).where(EnergyObject.contract_id == contract_id))} - in_scope
    client = app.test_client()
    assert f.login(client, "engineer@demo.example", CUSTOMER_PASSWORD).status_code == 302
    response = client.get(_url(contract_id))
    assert response.status_code == 200
    html = _main(response)
    assert in_scope and outside
    assert all(code in html for code in in_scope)
    assert not any(code in html for code in outside)
    assert len(_periods(html)) >= 12
    assert "Передано через личный кабинет" in html and "data-readings-chart" in html


# --- pages of meters ---------------------------------------------------------------------------------

def _meter_serials(html: str) -> list[str]:
    """The serials of the meters shown, in page order."""
    return re.findall(r'<span class="font-monospace">№ ([^<]+)</span>', html)


def _contract_with_meters(app, count: int, login: str) -> int:
    """A contract with `count` one-register meters on 3 objects, each with 3 months of readings."""
    with data(app):
        contract = f.contract()
        objects = [f.energy_object(contract, code=f"EO-{n}") for n in range(3)]
        for index in range(count):
            (register,) = f.meter(objects[index % 3], serial=f"P{index:07d}").registers
            for number, period in enumerate(_months(3)):
                reading(register, period, 100 + number, 1)
        f.grant(f.user(login), contract, "manager")
        return contract.id


def test_history_pages_whole_meters_and_states_the_totals_of_the_whole_filter(app):
    from crm.services.readings import METERS_PER_PAGE

    count = METERS_PER_PAGE + 5
    contract_id = _contract_with_meters(app, count, "pages@test.example")
    client = _signed_in(app, "pages@test.example")
    first = _main(client.get(_url(contract_id)))
    second = _main(client.get(_url(contract_id, "?page=2")))
    shown_first, shown_second = _meter_serials(first), _meter_serials(second)
    assert len(shown_first) == METERS_PER_PAGE and len(shown_second) == 5
    assert sorted(shown_first + shown_second) == [f"P{index:07d}" for index in range(count)]
    for html in (first, second):
        # the header counts the whole filter, not the page
        assert f"Приборов учёта: {count}" in html
        assert f"Показаний: {count * 3}" in html
        assert "Страницы приборов учёта" in html
        assert 'data-readings-chart' in html
    assert f"Приборы учёта 1–{METERS_PER_PAGE} из {count}." in first
    assert f"Приборы учёта {METERS_PER_PAGE + 1}–{count} из {count}." in second
    # a meter's periods stay together: 3 rows per meter shown
    assert len(_periods(first)) == METERS_PER_PAGE * 3 and len(_periods(second)) == 5 * 3
    # page links keep the filter; the quick periods keep the page; the export link exports the whole filter
    filtered = _main(client.get(_url(contract_id, "?from=2024-04&to=2024-06&page=2")))
    assert f'href="/portal/contracts/{contract_id}/readings?page=1&amp;from=2024-04&amp;to=2024-06"' in filtered
    quick = re.findall(r'class="btn btn-sm btn-outline-secondary" href="([^"]+)"', filtered)
    assert quick and all("page=2" in link for link in quick)
    export = re.search(r'id="readings-export"\s+href="([^"]+)"', filtered).group(1)
    assert "page" not in export


@pytest.mark.parametrize("query", ["?page=99", "?page=0", "?page=abc", "?page=-1", "?page=9999999999", "?page="])
def test_out_of_range_or_malformed_page_falls_back_to_a_valid_page(app, query):
    from crm.services.readings import METERS_PER_PAGE

    count = METERS_PER_PAGE + 5
    contract_id = _contract_with_meters(app, count, "badpage@test.example")
    response = _signed_in(app, "badpage@test.example").get(_url(contract_id, query))
    assert response.status_code == 200
    html = _main(response)
    assert "readings-filter-problems" not in html
    expected = 5 if query == "?page=99" else METERS_PER_PAGE     # past the end: the last page
    assert len(_meter_serials(html)) == expected


def test_export_holds_every_meter_of_the_filter_not_one_page(app):
    from python_calamine import CalamineWorkbook

    from crm.services.readings import METERS_PER_PAGE

    count = METERS_PER_PAGE + 5
    contract_id = _contract_with_meters(app, count, "export@test.example")
    response = _signed_in(app, "export@test.example").get(
        f"/portal/contracts/{contract_id}/readings/export.xlsx?page=1")
    assert response.status_code == 200
    rows = CalamineWorkbook.from_filelike(io.BytesIO(response.data)).get_sheet_by_index(0).to_python()
    assert len(rows) - 1 == count * 3
    assert {row[2] for row in rows[1:]} == {f"P{index:07d}" for index in range(count)}


def test_history_page_1_issues_the_same_statements_with_10_or_60_meters(app, query_counter):
    small_id = _contract_with_meters(app, 10, "ten@test.example")
    big_id = _contract_with_meters(app, 60, "sixty@test.example")
    small_count = _count_statements(query_counter, _signed_in(app, "ten@test.example"), _url(small_id))
    big_client = _signed_in(app, "sixty@test.example")
    big_count = _count_statements(query_counter, big_client, _url(big_id))
    assert big_count == small_count
    assert _count_statements(query_counter, big_client, _url(big_id, "?page=3")) == small_count
