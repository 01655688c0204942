"""Readings entry by form (SPEC C8, issue 4 items 2–3, acceptance 3): windows, every submission rule with
row counts after refusals, confirmations, resubmission, the role matrix, the object scope, statements.

Test data is built inside `data(app)` and committed before any request; requests run in their own app
context (see tests/integration/test_portal.py for why).
"""
from __future__ import annotations

import html as html_lib
import re
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from crm import clock
from crm.extensions import db
from crm.models import AuditLog, Contract, CrmUser, Meter, MeteringPoint, Reading, ReadingsWindow
from crm.services.readings import add_months
from tests import factories as f

TODAY = datetime(2024, 6, 15, 9, 0, tzinfo=UTC)
JUNE, MAY = date(2024, 6, 1), date(2024, 5, 1)


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


def reading(register_id: int, period: date, value, consumption=None, *, status="accepted", source="billing",
            reason=None) -> Reading:
    row = Reading(register_id=register_id, period=period, value=Decimal(str(value)),
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
    return html_lib.unescape(match.group(0)).replace("\xa0", " ").replace("\u202f", " ")


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _url(contract_id: int, query: str = "") -> str:
    return f"/portal/contracts/{contract_id}/readings/submit{query}"


def _count(app, model=Reading) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def _readings(app, register_id: int) -> list[Reading]:
    with app.app_context():
        rows = db.session.scalars(select(Reading).where(Reading.register_id == register_id, Reading.period == JUNE)
                                  .order_by(Reading.id)).all()
        db.session.expunge_all()
        return list(rows)


def _field(register_id: int) -> str:
    return f"reading-{register_id}"


@pytest.fixture()
def site(app):
    """A contract (June 2024 window open 1–25 June) with:
    - object A «Котельная»: meter A (1 zone, 6+2 digits, six months of 100 kWh, May 1000,00),
      meter R (5 digits, ratio 2, losses 5 %, May 99 990), meter N (status "not required");
    - object B «Склад»: meter B day/night (May 500 / 300);
    - object C «Гараж», status "readings received", one meter;
    and one user per role, an engineer limited to object A, a stranger."""
    with data(app):
        contract = f.contract()
        db.session.add(ReadingsWindow(period=JUNE, opens_on=date(2024, 6, 1), closes_on=date(2024, 6, 25)))
        obj_a = f.energy_object(contract, code="EO-A", name="Котельная")
        obj_b = f.energy_object(contract, code="EO-B", name="Склад")
        obj_c = f.energy_object(contract, code="EO-C", name="Гараж", status="received")
        meter_a = f.meter(obj_a, serial="A0000001")
        meter_r = f.meter(obj_a, serial="R0000002", digits_integer=5, digits_fraction=0)
        meter_r.metering_point.transformation_ratio = Decimal("2")
        meter_r.metering_point.losses_percent = Decimal("5")
        meter_n = f.meter(obj_a, serial="N0000003", status="not_required")
        meter_b = f.meter(obj_b, zones=("day", "night"), serial="B0000004")
        meter_c = f.meter(obj_c, serial="C0000005")
        db.session.flush()
        (reg_a,), (reg_r,), (reg_n,), (reg_c,) = (meter_a.registers, meter_r.registers, meter_n.registers,
                                                  meter_c.registers)
        day, night = meter_b.registers
        for months_back, value in enumerate(("1000", "900", "800", "700", "600", "500")):
            period = add_months(MAY, -months_back)
            reading(reg_a.id, period, value, "100")
        reading(reg_r.id, MAY, "99990", "20")
        reading(day.id, MAY, "500", "20")
        reading(night.id, MAY, "300", "10")
        reading(night.id, date(2024, 4, 1), "250", "5", status="rejected")
        people = {}
        for role in ("administrator", "manager", "power_engineer", "accountant"):
            people[role] = f.user(f"{role}@test.example")
            f.grant(people[role], contract, role)
        f.grant(f.user("scoped@test.example"), contract, "power_engineer", objects=[obj_a])
        f.grant(f.user("stranger@test.example"), f.contract(), "manager")
        ids = SimpleNamespace(contract=contract.id, branch=contract.branch_id, a=obj_a.id, b=obj_b.id, c=obj_c.id,
                              reg_a=reg_a.id, reg_r=reg_r.id, reg_n=reg_n.id, reg_c=reg_c.id, day=day.id,
                              night=night.id, meter_a=meter_a.id)
    return ids


def _post(client, contract_id: int, values: dict[int, str], **extra):
    form = {_field(register_id): value for register_id, value in values.items()}
    form.update(extra)
    return client.post(_url(contract_id), data=form)


# --- the page ---------------------------------------------------------------------------------------------

def test_entry_page_shows_window_sentence_previous_values_and_labelled_inputs_when_window_open(app, site):
    response = _signed_in(app, "manager@test.example").get(_url(site.contract))
    assert response.status_code == 200
    html = _main(response)
    assert "Показания за июнь 2024 принимаются с 1 июня по 25 июня" in html
    assert "Передать показания" in html
    label = re.search(rf'<label class="visually-hidden" for="{_field(site.reg_a)}">([^<]+)</label>', html)
    assert label and label.group(1) == "Текущее показание, шкала A+ · Круглосуточно, прибор учёта № A0000001"
    field = re.search(rf'<input [^>]*id="{_field(site.reg_a)}"[^>]*>', html).group(0)
    assert 'inputmode="decimal"' in field and "readonly" not in field
    assert "1 000,00" in _text(html) and "за май 2024" in _text(html)           # previous value and its period
    night_row = html[html.index(f'id="{_field(site.night)}"') - 1500:html.index(f'id="{_field(site.night)}"')]
    assert "300,00" in night_row                               # the rejected April value is not the previous one
    for register_id in (site.reg_n, site.reg_c):               # not "Waiting": read-only
        assert "readonly" in re.search(rf'<input [^>]*id="{_field(register_id)}"[^>]*>', html).group(0)
    assert "Прибор учёта не принимает показания сейчас (статус «Показания не требуются»)." in html
    assert "кВт·ч" in html
    page = response.get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "inline script"


@pytest.mark.parametrize(("now", "message"), [
    (datetime(2024, 5, 28, 9, tzinfo=UTC),
     "Показания за июнь 2024 ещё не принимаются: приём откроется 1 июня 2024."),
    (datetime(2024, 6, 26, 9, tzinfo=UTC),
     "Показания за июнь 2024 больше не принимаются: приём закрылся 25 июня 2024."),
])
def test_inputs_are_read_only_and_post_saves_nothing_when_the_window_is_not_open(app, site, now, message):
    clock.set_now(now)
    client = _signed_in(app, "manager@test.example")
    html = _main(client.get(_url(site.contract)))
    assert "Показания за июнь 2024 принимаются с 1 июня по 25 июня" in html
    assert message in html
    field = re.search(rf'<input [^>]*id="{_field(site.reg_a)}"[^>]*>', html).group(0)
    assert "readonly" in field
    assert 'id="readings-entry-submit"' not in html
    before = _count(app)
    response = _post(client, site.contract, {site.reg_a: "1100"}, period="2024-06")
    assert response.status_code == 400
    assert message in _main(response)
    assert _count(app) == before


def test_page_says_not_set_and_post_saves_nothing_when_no_window_is_defined(app, site):
    with app.app_context():
        db.session.execute(ReadingsWindow.__table__.delete())
        db.session.commit()
    client = _signed_in(app, "manager@test.example")
    html = _main(client.get(_url(site.contract)))
    assert "Сроки приёма показаний за июнь 2024 ещё не заданы." in html
    assert "Показания сейчас не принимаются: сроки приёма за июнь 2024 ещё не заданы." in html
    before = _count(app)
    assert _post(client, site.contract, {site.reg_a: "1100"}).status_code == 400
    assert _count(app) == before


def test_branch_window_overrides_the_general_one_when_the_contract_belongs_to_that_branch(app, site):
    from crm.services.readings_windows import entry_window, window_for

    with app.app_context():
        db.session.add(ReadingsWindow(period=JUNE, branch_id=site.branch, opens_on=date(2024, 6, 20),
                                      closes_on=date(2024, 7, 5)))
        db.session.commit()
        contract = db.session.get(Contract, site.contract)
        assert window_for(contract, JUNE).opens_on == date(2024, 6, 20)
        state = entry_window(contract, date(2024, 6, 15))
        assert (state.state, state.period) == ("not_open", JUNE)
        other = f.contract()
        assert window_for(other, JUNE).opens_on == date(2024, 6, 1)
        assert entry_window(other, date(2024, 6, 15)).is_open
        db.session.rollback()
    html = _main(_signed_in(app, "manager@test.example").get(_url(site.contract)))
    assert "Показания за июнь 2024 принимаются с 20 июня по 5 июля" in html


def test_entry_period_is_the_oldest_open_window_then_the_next_to_open(app, site):
    from crm.services.readings_windows import entry_window

    with app.app_context():
        db.session.add(ReadingsWindow(period=MAY, opens_on=date(2024, 5, 1), closes_on=date(2024, 6, 21)))
        db.session.add(ReadingsWindow(period=date(2024, 7, 1), opens_on=date(2024, 7, 1), closes_on=date(2024, 7, 25)))
        db.session.commit()
        contract = db.session.get(Contract, site.contract)
        assert entry_window(contract, date(2024, 6, 15)).period == MAY          # May still open, closes first
        assert entry_window(contract, date(2024, 6, 22)).period == JUNE
        state = entry_window(contract, date(2024, 6, 28))
        assert (state.period, state.state) == (date(2024, 7, 1), "not_open")
        db.session.rollback()


def test_window_sentence_uses_nominative_month_and_genitive_days_in_english_too(app, site):
    client = _signed_in(app, "manager@test.example")
    assert client.get("/portal/lang/en").status_code == 302
    html = _main(client.get(_url(site.contract)))
    assert "Readings for June 2024 are accepted from 1 June to 25 June" in html
    response = _post(client, site.contract, {site.reg_a: "1100.5"})
    assert response.status_code == 302
    page = _main(client.get(response.headers["Location"]))
    assert "Readings saved" in page


# --- a successful submission -----------------------------------------------------------------------------

def test_readings_are_saved_with_comma_decimals_and_the_consumption_is_shown_in_russian(app, site):
    client = _signed_in(app, "power_engineer@test.example")
    before, audits = _count(app), _count(app, AuditLog)
    response = _post(client, site.contract, {site.reg_a: "1 100,5", site.day: "520", site.night: "310,25",
                                             site.reg_n: ""}, period="2024-06")
    assert response.status_code == 302, _main(response)
    assert _count(app) == before + 3
    (saved_a,) = _readings(app, site.reg_a)
    assert (saved_a.value, saved_a.previous_value, saved_a.consumption) == (Decimal("1100.5"), Decimal("1000"),
                                                                            Decimal("100.5"))
    assert (saved_a.status, saved_a.source, saved_a.rollover) == ("submitted", "portal", False)
    (saved_night,) = _readings(app, site.night)
    assert saved_night.consumption == Decimal("10.25")
    with app.app_context():
        audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "readings.submitted")).one()
        assert audit.subject_id == site.contract and audit.detail["period"] == "2024-06-01"
        assert {item["register_id"] for item in audit.detail["readings"]} == {site.reg_a, site.day, site.night}
    assert _count(app, AuditLog) >= audits + 1
    page = client.get(response.headers["Location"])
    html = _main(page)
    assert "Показания сохранены" in html
    saved = re.search(r'id="readings-saved".*?</section>', html, re.S).group(0)
    assert [c.strip() for c in re.findall(r'class="text-end num saved-consumption">([^<]+)<', saved)] == [
        "100,5 кВт·ч", "20 кВт·ч", "10,25 кВт·ч"]
    assert "Показания переданы" in html                       # the check mark of object B (both registers)


def test_rollover_asks_for_confirmation_then_saves_ratio_and_losses_exactly(app, site):
    client = _signed_in(app, "manager@test.example")
    before = _count(app)
    response = _post(client, site.contract, {site.reg_r: "15", site.reg_a: "1050"})
    assert response.status_code == 400
    html = _main(response)
    assert ("Показание меньше предыдущего (99990): подтвердите, что счётчик прошёл максимальное значение и начал "
            "счёт с нуля.") in html
    assert f'name="confirm_rollover" value="{site.reg_r}"' in html
    assert "Подтверждаю, что счётчик прошёл максимальное значение и начал счёт с нуля" in html
    assert 'value="15"' in html and 'value="1050"' in html             # typed values are kept
    assert _count(app) == before                                        # nothing saved, not even the good one
    response = _post(client, site.contract, {site.reg_r: "15", site.reg_a: "1050"}, confirm_rollover=str(site.reg_r))
    assert response.status_code == 302
    (saved,) = _readings(app, site.reg_r)
    assert (saved.consumption, saved.rollover, saved.previous_value) == (Decimal("52.5"), True, Decimal("99990"))


def test_a_drop_that_is_no_rollover_is_refused_even_when_confirmed(app, site):
    client = _signed_in(app, "manager@test.example")
    before = _count(app)
    response = _post(client, site.contract, {site.reg_r: "50000"}, confirm_rollover=str(site.reg_r))
    assert response.status_code == 400
    assert "Показание меньше предыдущего (99990): проверьте значение." in _main(response)
    assert _count(app) == before


def test_a_jump_asks_for_confirmation_then_saves(app, site):
    client = _signed_in(app, "manager@test.example")
    before = _count(app)
    response = _post(client, site.contract, {site.reg_a: "1300,01"})      # 300.01 > 3 × 100
    assert response.status_code == 400
    html = _main(response)
    assert ("Расход 300,01 более чем втрое превышает средний за последние периоды: проверьте показание и "
            "подтвердите его.") in html
    assert f'name="confirm_jump" value="{site.reg_a}"' in html
    assert _count(app) == before
    assert _post(client, site.contract, {site.reg_a: "1300"}).status_code == 302     # exactly 3 × 100 is no jump
    assert _post(client, site.contract, {site.reg_a: "1300,01"}, confirm_jump=str(site.reg_a)).status_code == 302
    (saved,) = _readings(app, site.reg_a)
    assert saved.consumption == Decimal("300.01")


def test_nothing_is_saved_when_a_multi_zone_meter_is_given_in_part(app, site):
    client = _signed_in(app, "manager@test.example")
    before = _count(app)
    response = _post(client, site.contract, {site.day: "520", site.reg_a: "1050"})
    assert response.status_code == 400
    html = _main(response)
    night_error = re.search(rf'id="{_field(site.night)}-error"[^>]*>(.*?)</div>\s*</div>', html, re.S).group(1)
    assert ("Введите и это показание: все шкалы прибора учёта № B0000004 передаются вместе, иначе ничего не "
            "сохраняется.") in _text(night_error)
    assert _count(app) == before


@pytest.mark.parametrize(("typed", "message"), [
    ("1234567", "Разрядность счётчика — не более 6 знаков до запятой."),
    ("1050,123", "Счётчик показывает не более 2 знаков после запятой."),
    ("abc", "«abc» — не число: используйте цифры и запятую или точку."),
    ("-5", "Показание не может быть отрицательным."),
])
def test_a_bad_value_is_refused_next_to_its_input_and_nothing_is_saved(app, site, typed, message):
    client = _signed_in(app, "manager@test.example")
    before = _count(app)
    response = _post(client, site.contract, {site.reg_a: typed, site.day: "520", site.night: "310"})
    assert response.status_code == 400
    html = _main(response)
    error = re.search(rf'id="{_field(site.reg_a)}-error"[^>]*>(.*?)</div>\s*</div>', html, re.S)
    assert error and message in _text(error.group(1)), _text(html)[:3000]
    assert re.search(rf'<input [^>]*id="{_field(site.reg_a)}"[^>]*aria-invalid="true"', html)
    assert _count(app) == before


def test_meters_and_objects_not_waiting_refuse_input_and_nothing_is_saved(app, site):
    client = _signed_in(app, "manager@test.example")
    before = _count(app)
    response = _post(client, site.contract, {site.reg_n: "10", site.reg_c: "10", site.reg_a: "1050"})
    assert response.status_code == 400
    html = _main(response)
    assert "Прибор учёта не принимает показания сейчас (статус «Показания не требуются»)." in html
    assert "Энергообъект не принимает показания сейчас (статус «Показания получены»)." in html
    assert _count(app) == before


def test_an_empty_submission_asks_for_a_reading(app, site):
    response = _signed_in(app, "manager@test.example").post(_url(site.contract), data={})
    assert response.status_code == 400
    assert "Введите хотя бы одно показание." in _main(response)


# --- resubmission and locking --------------------------------------------------------------------------------

def test_resubmission_replaces_the_same_row_and_a_rejected_one_returns_to_submitted(app, site):
    client = _signed_in(app, "manager@test.example")
    assert _post(client, site.contract, {site.reg_a: "1050"}).status_code == 302
    (first,) = _readings(app, site.reg_a)
    with app.app_context():
        row = db.session.get(Reading, first.id)
        row.status, row.reject_reason = "rejected", "Неверное показание"
        db.session.commit()
    assert _post(client, site.contract, {site.reg_a: "1060,5"}).status_code == 302
    (second,) = _readings(app, site.reg_a)
    assert second.id == first.id
    assert (second.value, second.consumption, second.status, second.reject_reason) == (
        Decimal("1060.5"), Decimal("60.5"), "submitted", None)
    with app.app_context():
        audits = db.session.scalars(select(AuditLog).where(AuditLog.action == "readings.submitted")
                                    .order_by(AuditLog.id)).all()
        assert [a.detail["readings"][0]["replaced"] for a in audits] == [False, True]


def test_an_accepted_reading_cannot_be_changed(app, site):
    with data(app):
        reading(site.reg_a, JUNE, "1040", "40", status="accepted")
    client = _signed_in(app, "manager@test.example")
    html = _main(client.get(_url(site.contract)))
    assert "readonly" in re.search(rf'<input [^>]*id="{_field(site.reg_a)}"[^>]*>', html).group(0)
    response = _post(client, site.contract, {site.reg_a: "1050"})
    assert response.status_code == 400
    assert "Показание за этот период принято и не может быть изменено." in _main(response)
    (kept,) = _readings(app, site.reg_a)
    assert (kept.value, kept.status) == (Decimal("1040"), "accepted")


# --- roles and scope ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("login", "status"), [
    ("administrator@test.example", 200), ("manager@test.example", 200), ("power_engineer@test.example", 200),
    ("accountant@test.example", 403), ("stranger@test.example", 404),
])
def test_entry_page_and_post_follow_the_role_matrix(app, site, login, status):
    client = _signed_in(app, login)
    response = client.get(_url(site.contract))
    assert response.status_code == status
    before = _count(app)
    response = _post(client, site.contract, {site.reg_a: "1050"})
    assert response.status_code == (302 if status == 200 else status)
    assert _count(app) == before + (1 if status == 200 else 0)


def test_scoped_engineer_sees_only_their_objects_and_cannot_submit_for_another(app, site):
    client = _signed_in(app, "scoped@test.example")
    html = _main(client.get(_url(site.contract)))
    assert "A0000001" in html and "B0000004" not in html and "Склад" not in html
    before = _count(app)
    response = _post(client, site.contract, {site.reg_a: "1050", site.day: "520", site.night: "310"})
    assert response.status_code == 400
    text = _text(_main(response))
    assert f"Шкала {site.day} не относится к доступным вам шкалам этого договора." in text
    assert "B0000004" not in text
    assert _count(app) == before
    assert client.get(_url(site.contract, f"?object={site.b}")).status_code == 400


def test_menu_and_tabs_link_entry_history_and_objects_both_ways(app, site):
    client = _signed_in(app, "power_engineer@test.example")
    page = client.get(_url(site.contract)).get_data(as_text=True)
    nav = re.search(r'<ul class="nav flex-column side-nav">.*?</ul>', page, re.S).group(0)
    assert re.search(rf'class="nav-link active" href="/portal/contracts/{site.contract}/readings/submit"', nav)
    tabs = re.search(r'<ul class="nav nav-tabs readings-tabs.*?</ul>', page, re.S).group(0)
    assert f"/portal/contracts/{site.contract}/readings\"" in tabs
    history = client.get(f"/portal/contracts/{site.contract}/readings").get_data(as_text=True)
    tabs = re.search(r'<ul class="nav nav-tabs readings-tabs.*?</ul>', history, re.S).group(0)
    assert f"/portal/contracts/{site.contract}/readings/submit\"" in tabs
    accountant = _signed_in(app, "accountant@test.example").get(f"/portal/contracts/{site.contract}/")
    nav = re.search(r'<ul class="nav flex-column side-nav">.*?</ul>', accountant.get_data(as_text=True), re.S).group(0)
    assert "/readings" not in nav and "/objects" not in nav


# --- filters ---------------------------------------------------------------------------------------------

def test_filters_by_object_status_and_search(app, site):
    with data(app):
        reading(site.reg_a, JUNE, "1050", "50", status="submitted", source="portal")
    client = _signed_in(app, "manager@test.example")
    html = _main(client.get(_url(site.contract, f"?object={site.b}")))
    assert "B0000004" in html and "A0000001" not in html
    html = _main(client.get(_url(site.contract, "?status=submitted")))
    assert "A0000001" in html and "B0000004" not in html and "R0000002" not in html
    html = _main(client.get(_url(site.contract, "?q=r00000")))
    assert "R0000002" in html and "A0000001" not in html
    html = _main(client.get(_url(site.contract, "?q=склад")))
    assert "B0000004" in html and "A0000001" not in html
    response = client.get(_url(site.contract, "?status=nonsense"))
    assert response.status_code == 400
    assert "Неизвестный статус показаний «nonsense»" in _main(response)


# --- the service directly ------------------------------------------------------------------------------------

def test_service_reports_every_problem_at_once_with_kinds(app, site):
    from crm.access import grant_for
    from crm.services.readings_entry import ReadingsEntryError, submit_readings

    with app.app_context():
        user = db.session.scalars(select(CrmUser).where(CrmUser.email == "manager@test.example")).one()
        grant = grant_for(user, site.contract)
        with pytest.raises(ReadingsEntryError) as exc:
            submit_readings(grant, user, {site.reg_a: "5000", site.reg_r: "10", site.day: "1", 999999: "1"})
        kinds = {(problem.register_id, problem.kind) for problem in exc.value.problems}
        assert kinds == {(site.reg_a, "jump"), (site.reg_r, "rollover"), (site.night, "error"),
                         (site.day, "error"), (999999, "error")}
        assert not exc.value.needs_confirmation_only
        assert db.session.scalar(select(func.count()).select_from(Reading).where(Reading.period == JUNE)) == 0


def test_service_saves_with_the_given_source_and_reports_consumption(app, site):
    from crm.access import grant_for
    from crm.services.readings_entry import submit_readings

    with app.app_context():
        user = db.session.scalars(select(CrmUser).where(CrmUser.email == "manager@test.example")).one()
        result = submit_readings(grant_for(user, site.contract), user, {site.reg_a: Decimal("1001.25"),
                                                                        str(site.reg_r): "99995"}, source="file")
        assert result.period == JUNE
        assert {(item.register.id, item.consumption, item.reading.source) for item in result.saved} == {
            (site.reg_a, Decimal("1.25"), "file"), (site.reg_r, Decimal("10.5"), "file")}
        meter = db.session.get(Meter, site.meter_a)
        assert meter.status == "waiting"              # submitting does not change the meter's status


def test_entry_sheet_marks_lines_and_issues_five_statements(app, site, query_counter):
    from crm.access import grant_for
    from crm.services.readings_entry import entry_sheet

    with app.app_context():
        user = db.session.scalars(select(CrmUser).where(CrmUser.email == "manager@test.example")).one()
        grant = grant_for(user, site.contract)
        with query_counter() as counter:
            sheet = entry_sheet(grant)
            lines = {line.register.id: line for line in sheet.lines}
        # window, objects with their meters, registers with current readings, the page's meters with
        # points and registers, previous readings
        assert counter.count == 5, counter.statements
        assert sheet.window.is_open and sheet.period == JUNE
        assert lines[site.reg_a].accepts_input and lines[site.reg_a].previous_value == Decimal("1000")
        assert not lines[site.reg_n].accepts_input and not lines[site.reg_c].accepts_input
        assert lines[site.night].previous_value == Decimal("300")
        assert lines[site.reg_a].status == "to_submit" and lines[site.reg_n].status == "closed"


# --- statements ----------------------------------------------------------------------------------------------

def _count_statements(query_counter, client, path: str) -> int:
    client.get(path)
    with query_counter() as counter:
        response = client.get(path)
    assert response.status_code == 200, path
    return counter.count


def test_entry_page_issues_the_same_number_of_statements_for_1_or_40_meters(app, query_counter):
    with data(app):
        person = f.user("big@test.example")
        small, big = f.contract(), f.contract()
        db.session.add(ReadingsWindow(period=JUNE, opens_on=date(2024, 6, 1), closes_on=date(2024, 6, 25)))
        (register,) = f.meter(f.energy_object(small)).registers
        reading(register.id, MAY, "10", "1")
        objects = [f.energy_object(big) for _ in range(5)]
        for index in range(40):
            meter = f.meter(objects[index % 5], zones=("day", "night") if index % 2 else ("all_day",))
            for register in meter.registers:
                reading(register.id, MAY, "100", "1")
                if index % 3 == 0:
                    reading(register.id, JUNE, "101", "1", status="submitted", source="portal")
        for contract in (small, big):
            f.grant(person, contract, "manager")
        small_id, big_id = small.id, big.id
    client = _signed_in(app, "big@test.example")
    small_count = _count_statements(query_counter, client, _url(small_id))
    big_count = _count_statements(query_counter, client, _url(big_id))
    assert big_count == small_count
    assert small_count <= 10, small_count            # the portal's budget (issue 8)


def test_points_and_meters_are_not_loaded_per_meter_when_posting(app, site, query_counter):
    client = _signed_in(app, "manager@test.example")
    client.get(_url(site.contract))
    with query_counter() as counter:
        response = _post(client, site.contract, {site.reg_a: "1050", site.day: "520", site.night: "310"})
    assert response.status_code == 302
    assert counter.count <= 20, counter.statements
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(MeteringPoint)) == 5


# --- the back office: readings windows -------------------------------------------------------------------------

def _curator_client(app):
    with data(app):
        f.user("windows@energo.example", username="windows-curator", roles=("Curator",))
    client = app.test_client()
    assert f.staff_login(client, "windows-curator").status_code == 302
    return client


def _window_count(app) -> int:
    return _count(app, ReadingsWindow)


def test_back_office_refuses_a_window_that_closes_before_it_opens_or_repeats_a_period(app, site):
    client = _curator_client(app)
    before = _window_count(app)
    form = {"period": "2024-07-01", "opens_on": "2024-07-10", "closes_on": "2024-07-05", "note": ""}
    response = client.post("/admin/readings-windows/add", data=form)
    assert response.status_code == 200 and _window_count(app) == before
    form["closes_on"] = "2024-07-25"
    response = client.post("/admin/readings-windows/add", data={**form, "period": "2024-06-01"},
                           follow_redirects=True)
    assert "Сроки приёма показаний за этот период и филиал уже заданы: измените существующие." in \
        html_lib.unescape(response.get_data(as_text=True))
    assert _window_count(app) == before                       # a second general window for June
    assert client.post("/admin/readings-windows/add", data={**form, "branch": str(site.branch),
                                                            "period": "2024-06-01"}).status_code == 302
    assert _window_count(app) == before + 1                   # the branch's own June window is fine
    listing = html_lib.unescape(client.get("/admin/readings-windows/list/").get_data(as_text=True))
    assert "Филиал (пусто — все филиалы)" in listing                # the general window shows no branch


def test_meters_are_paged_fifty_a_page_with_whole_meters_and_a_post_returns_to_its_page(app):
    with data(app):
        person = f.user("pages@test.example")
        contract = f.contract()
        db.session.add(ReadingsWindow(period=JUNE, opens_on=date(2024, 6, 1), closes_on=date(2024, 6, 25)))
        obj = f.energy_object(contract, code="EO-P")
        meters = [f.meter(obj, zones=("day", "night"), serial=f"P{n:07d}") for n in range(55)]
        f.grant(person, contract, "manager")
        contract_id, last = contract.id, meters[-1]
        last_ids = [register.id for register in last.registers]
    client = _signed_in(app, "pages@test.example")
    first = _main(client.get(_url(contract_id)))
    assert first.count('class="meter-history meter-entry"') == 50
    assert "Приборы учёта 1–50 из 55." in _text(first)
    second = _main(client.get(_url(contract_id, "?page=2")))
    assert second.count('class="meter-history meter-entry"') == 5 and "P0000054" in second
    assert "Приборы учёта 51–55 из 55." in _text(second)
    assert f'action="/portal/contracts/{contract_id}/readings/submit?page=2"' in second
    response = client.post(f"{_url(contract_id)}?page=2", data={_field(last_ids[0]): "10", _field(last_ids[1]): "5"})
    assert response.status_code == 302 and "page=2" in response.headers["Location"]
    assert _count(app) == 2
    assert client.get(_url(contract_id, "?page=99")).status_code == 200      # past the end: the last page
