"""The curator's review of submitted readings and primary acts (SPEC B3; issue 4 item 7).

Queue filters and grouping, a constant number of statements, accept/reject one or many meter groups
in one transaction with the reviewer, time and audit rows, the reason required to reject, the customer
seeing the status and the reason on the readings history page, primary acts, staff roles.
"""
from __future__ import annotations

import itertools
import re
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from crm import clock
from crm.extensions import db
from crm.models import AuditLog, Contract, IntervalProfile, Reading
from crm.services import readings_review as review
from tests import factories as f

TODAY = datetime(2024, 2, 10, 9, 0, tzinfo=UTC)
JAN, DEC = date(2024, 1, 1), date(2023, 12, 1)
_seq = itertools.count(1)


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


def reading(register, period, value, *, previous=None, consumption=None, status="submitted", source="portal"):
    row = Reading(register_id=register.id, period=period, value=Decimal(value),
                  previous_value=None if previous is None else Decimal(previous),
                  consumption=None if consumption is None else Decimal(consumption), source=source, status=status)
    db.session.add(row)
    db.session.flush()
    return row


@pytest.fixture()
def site(app):
    """Two branches; a two-zone meter and a one-zone meter on contract A (branch N), one meter on
    contract B (branch S); January readings submitted, one December reading already accepted."""
    with data(app):
        north, south = f.branch(code="N1", name="Северный"), f.branch(code="S1", name="Южный")
        cp_a = f.counterparty(short_name="ООО «Альфа»")
        contract_a = f.contract(cp_a, north, number="77000000000101")
        contract_b = f.contract(f.counterparty(short_name="ООО «Бета»"), south, number="77000000000202")
        obj_a, obj_b = f.energy_object(contract_a), f.energy_object(contract_b)
        two_zone = f.meter(obj_a, zones=("day", "night"), serial="TZ-100")
        single = f.meter(obj_a, serial="SZ-200")
        other = f.meter(obj_b, serial="OB-300")
        day, night = two_zone.registers
        r_day = reading(day, JAN, "1520", previous="1500", consumption="20")
        r_night = reading(night, JAN, "810.5", previous="800", consumption="10.5")
        r_single = reading(single.registers[0], JAN, "300")
        r_other = reading(other.registers[0], JAN, "42")
        r_old = reading(single.registers[0], DEC, "250", status="accepted")
        manager = f.user("manager@review.example")
        f.grant(manager, contract_a, "manager")
        ids = SimpleNamespace(north=north.id, south=south.id, contract_a=contract_a.id, contract_b=contract_b.id,
                              cp_a=cp_a.id, r_day=r_day.id, r_night=r_night.id, r_single=r_single.id,
                              r_other=r_other.id, r_old=r_old.id, two_zone=two_zone.id, other=other.id)
    return ids


def _staff(app, role: str):
    client = app.test_client()
    username = f"{role.lower().replace(' ', '_')}{next(_seq)}"
    with data(app):
        staff = f.user(f"{username}@energo.example", username=username, roles=(role,))
        staff_id = staff.id
    assert f.staff_login(client, username).status_code == 302
    client.staff_id = staff_id
    return client


def _statuses(app, *ids):
    with app.app_context():
        return [db.session.get(Reading, pk).status for pk in ids]


def _audit_rows(app, action):
    with app.app_context():
        return db.session.query(AuditLog).filter_by(action=action).order_by(AuditLog.id).all()


# --- the queue ------------------------------------------------------------------------------------

def test_queue_groups_a_two_zone_meter_as_one_item_when_both_registers_are_submitted(app, site):
    with app.app_context():
        queue = review.review_queue(review.QueueFilter())
        serials = [item.meter.serial for item in queue.items]
        assert serials == ["SZ-200", "TZ-100", "OB-300"]     # contract, then meter serial
        two_zone = queue.items[1]
        assert [reading.id for _register, reading in two_zone.readings] == [site.r_day, site.r_night]
        assert [reading.value for _register, reading in two_zone.readings] == [Decimal("1520"), Decimal("810.5")]
        assert two_zone.reading_id == site.r_day and two_zone.period == JAN


@pytest.mark.parametrize(("args", "serials"), [
    ({"branch": "north"}, ["SZ-200", "TZ-100"]),
    ({"branch": "south"}, ["OB-300"]),
    ({"period": "2023-12"}, []),
    ({"period": "2023-12", "status": "accepted"}, ["SZ-200"]),
    ({"period": "2023-12", "status": "all"}, ["SZ-200"]),
    ({"status": "all"}, ["SZ-200", "SZ-200", "TZ-100", "OB-300"]),
    ({"q": "0202"}, ["OB-300"]),
    ({"q": "Альфа"}, ["SZ-200", "TZ-100"]),
    ({"q": "tz-1"}, ["TZ-100"]),
])
def test_queue_shows_only_matching_meters_when_filtered(app, site, args, serials):
    args = dict(args)
    if args.get("branch") in ("north", "south"):
        args["branch"] = str(getattr(site, args["branch"]))
    with app.app_context():
        queue = review.review_queue(review.parse_filter(args))
        assert [item.meter.serial for item in queue.items] == serials


def test_filter_lists_every_problem_when_the_input_is_wrong(app):
    with app.app_context(), pytest.raises(review.ReviewError) as error:
        review.parse_filter({"branch": "x", "period": "2024-13", "status": "lost"})
    assert len(error.value.messages) == 3


def test_queue_page_shows_filters_and_items_to_a_curator(app, site):
    client = _staff(app, "Curator")
    html = client.get(f"/admin/readings/review/?branch={site.north}").get_data(as_text=True)
    assert 'for="filter-branch"' in html and 'for="filter-period"' in html and 'for="filter-q"' in html
    assert "TZ-100" in html and "SZ-200" in html and "OB-300" not in html
    assert f'name="item" value="{site.r_day}"' in html and f'name="item" value="{site.r_night}"' not in html
    assert 'value="reject"' in html


def test_queue_page_issues_the_same_number_of_statements_when_there_are_more_meters(app, site, query_counter):
    client = _staff(app, "Curator")
    client.get("/admin/readings/review/")        # warm up permissions and templates

    def count():
        with query_counter() as counter:
            assert client.get("/admin/readings/review/?status=all").status_code == 200
        return counter.count

    small = count()
    with data(app):
        contract = db.session.get(Contract, site.contract_a)
        obj = f.energy_object(contract)
        for number in range(15):
            meter = f.meter(obj, zones=("day", "night"), serial=f"MANY-{number:03d}")
            for register in meter.registers:
                reading(register, JAN, str(100 + number))
    assert count() == small


def test_empty_queue_says_so(app):
    client = _staff(app, "Curator")
    html = client.get("/admin/readings/review/").get_data(as_text=True)
    assert "Нет показаний, отвечающих условиям отбора." in html


def test_bad_filter_shows_messages_and_the_default_queue(app, site):
    client = _staff(app, "Curator")
    response = client.get("/admin/readings/review/?period=abc")
    assert response.status_code == 200
    assert "Период «abc» не распознан" in response.get_data(as_text=True)


# --- decisions ------------------------------------------------------------------------------------

def test_accepting_one_checkbox_accepts_every_register_of_the_meter_when_curator_posts(app, site):
    client = _staff(app, "Curator")
    response = client.post("/admin/readings/review/review", data={"item": [str(site.r_day)], "decision": "accept",
                                                                  "branch": str(site.north)})
    assert response.status_code == 302 and f"branch={site.north}" in response.headers["Location"]
    assert _statuses(app, site.r_day, site.r_night, site.r_single, site.r_other) == [
        "accepted", "accepted", "submitted", "submitted"]
    with app.app_context():
        for pk in (site.r_day, site.r_night):
            row = db.session.get(Reading, pk)
            assert row.reviewed_by_id == client.staff_id and row.reviewed_at == TODAY and row.reject_reason is None
    rows = _audit_rows(app, "readings.accept")
    assert len(rows) == 1
    assert rows[0].actor_id == client.staff_id and rows[0].counterparty_id == site.cp_a
    assert rows[0].detail["reading_ids"] == [site.r_day, site.r_night] and rows[0].detail["period"] == "2024-01-01"


def test_bulk_reject_rejects_every_chosen_meter_with_the_reason_in_one_go(app, site):
    client = _staff(app, "Curator")
    client.post("/admin/readings/review/review", data={
        "item": [str(site.r_night), str(site.r_single), str(site.r_other)], "decision": "reject",
        "reason": "  Показания меньше предыдущих, проверьте счётчик  "})
    assert _statuses(app, site.r_day, site.r_night, site.r_single, site.r_other) == ["rejected"] * 4
    with app.app_context():
        reasons = {db.session.get(Reading, pk).reject_reason for pk in (site.r_day, site.r_single, site.r_other)}
    assert reasons == {"Показания меньше предыдущих, проверьте счётчик"}
    assert len(_audit_rows(app, "readings.reject")) == 3


@pytest.mark.parametrize("reason", [None, "", "   ", "x" * 501])
def test_reject_changes_nothing_when_the_reason_is_missing_or_too_long(app, site, reason):
    with app.app_context():
        with pytest.raises(review.ReviewError) as error:
            review.review_readings([site.r_day, site.r_single], "reject", None, reason)
        assert error.value.field == "reason"
    assert _statuses(app, site.r_day, site.r_night, site.r_single) == ["submitted"] * 3
    assert _audit_rows(app, "readings.reject") == []


def test_reject_is_refused_with_a_message_on_the_page_when_no_reason_is_given(app, site):
    client = _staff(app, "Curator")
    response = client.post("/admin/readings/review/review", data={"item": [str(site.r_day)], "decision": "reject"},
                           follow_redirects=True)
    assert "Укажите причину отклонения: её увидит клиент." in response.get_data(as_text=True)
    assert _statuses(app, site.r_day) == ["submitted"]


def test_a_batch_with_an_already_reviewed_reading_changes_nothing(app, site):
    with app.app_context():
        with pytest.raises(review.ReviewError) as error:
            review.review_readings([site.r_day, site.r_old, 999999], "accept", None)
        assert len(error.value.messages) == 2
    assert _statuses(app, site.r_day, site.r_night, site.r_old) == ["submitted", "submitted", "accepted"]


def test_customer_sees_the_rejection_reason_and_then_the_accepted_status_on_the_history_page(app, site):
    with app.app_context():
        review.review_readings([site.r_single], "reject", None, "Не совпадает серийный номер")
        review.review_readings([site.r_day], "accept", None)
    customer = app.test_client()
    assert f.login(customer, "manager@review.example").status_code == 302
    html = customer.get(f"/portal/contracts/{site.contract_a}/readings?from=2023-12&to=2024-01").get_data(
        as_text=True)
    main = re.search(r"<main\b.*?</main>", html, re.S).group(0)
    assert "Не совпадает серийный номер" in main
    assert "Отклонено" in main and "Принято" in main


def test_auditor_sees_the_queue_but_cannot_decide(app, site):
    client = _staff(app, "Auditor")
    html = client.get("/admin/readings/review/").get_data(as_text=True)
    assert "TZ-100" in html and 'name="item"' not in html and 'value="reject"' not in html
    response = client.post("/admin/readings/review/review", data={"item": [str(site.r_day)], "decision": "accept"})
    assert response.status_code == 403
    assert _statuses(app, site.r_day) == ["submitted"]


@pytest.mark.parametrize("role", ["Billing operator"])
def test_other_staff_and_customers_are_refused_the_queue(app, site, role):
    client = _staff(app, role)
    assert client.get("/admin/readings/review/").status_code == 403
    customer = app.test_client()
    f.login(customer, "manager@review.example")
    assert customer.get("/admin/readings/review/").status_code in (302, 403)


# --- primary acts ---------------------------------------------------------------------------------

@pytest.fixture()
def acts(app, site):
    with data(app):
        first = IntervalProfile(meter_id=site.two_zone, month=JAN, hourly_values={"2024-01-01": ["1"] * 24},
                                total=Decimal("24"), act_number="ПА-0001")
        second = IntervalProfile(meter_id=site.other, month=JAN, hourly_values={"2024-01-01": ["0.5"] * 24},
                                 total=Decimal("12"), act_number="ПА-0002")
        db.session.add_all([first, second])
        db.session.flush()
        ids = (first.id, second.id)
    return ids


def test_acts_tab_lists_pending_acts_by_branch(app, site, acts):
    client = _staff(app, "Curator")
    html = client.get(f"/admin/readings/review/acts?branch={site.north}").get_data(as_text=True)
    assert "ПА-0001" in html and "ПА-0002" not in html
    assert f'name="item" value="{acts[0]}"' in html


def test_curator_accepts_and_rejects_primary_acts_with_audit_rows(app, site, acts):
    client = _staff(app, "Curator")
    client.post("/admin/readings/review/acts/review", data={"item": [str(acts[0])], "decision": "accept"})
    client.post("/admin/readings/review/acts/review", data={"item": [str(acts[1])], "decision": "reject",
                                                            "reason": "Не хватает суток"})
    with app.app_context():
        first, second = (db.session.get(IntervalProfile, pk) for pk in acts)
        assert (first.act_status, first.reject_reason, first.reviewed_at, first.reviewed_by_id) == (
            "accepted", None, TODAY, client.staff_id)
        assert (second.act_status, second.reject_reason) == ("rejected", "Не хватает суток")
    assert [row.subject_id for row in _audit_rows(app, "interval_act.accept")] == [acts[0]]
    assert [row.detail["reason"] for row in _audit_rows(app, "interval_act.reject")] == ["Не хватает суток"]


def test_an_act_already_decided_cannot_be_decided_again(app, site, acts):
    with app.app_context():
        review.review_acts([acts[0]], "accept", None)
        with pytest.raises(review.ReviewError):
            review.review_acts([acts[0], acts[1]], "reject", None, "Повтор")
        assert db.session.get(IntervalProfile, acts[1]).act_status == "pending"


def test_a_primary_act_downloads_as_xlsx_and_an_unknown_one_is_404(app, site, acts):
    import io

    from python_calamine import load_workbook

    client = _staff(app, "Auditor")
    response = client.get(f"/admin/readings/review/acts/{acts[0]}/xlsx")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(response.data))
    assert workbook.sheet_names
    assert client.get("/admin/readings/review/acts/999999/xlsx").status_code == 404


def test_the_queue_speaks_english_when_the_staff_member_switches_language(app):
    client = _staff(app, "Curator")
    client.get("/lang/en")
    html = client.get("/admin/readings/review/").get_data(as_text=True)
    assert "Readings review" in html and "No readings match the filter." in html


def test_queue_limit_takes_periods_oldest_first_then_contracts_meters_registers(app, site):
    """The LIMIT of the queue cuts the same ordered list whatever the form of the query (on PostgreSQL
    the queue walks period by period and contract by contract): oldest period first, then contract
    number, meter serial, register."""
    with data(app):
        late = db.session.get(Reading, site.r_other)
        late.period = date(2024, 2, 1)                  # contract B's reading moves to February
        db.session.flush()
        expected = [site.r_single, site.r_day, site.r_night, site.r_other]      # SZ-200 before TZ-100
        for limit in range(1, 5):
            queue = review.review_queue(review.QueueFilter(), limit=limit)
            shown = [reading.id for item in queue.items for _register, reading in item.readings]
            assert shown == expected[:limit]
            assert queue.truncated is (limit < len(expected))
        february = review.review_queue(review.QueueFilter(period=date(2024, 2, 1)))
        assert [reading.id for item in february.items for _register, reading in item.readings] == [site.r_other]
        accepted = review.review_queue(review.QueueFilter(status="accepted"))
        assert [reading.id for item in accepted.items for _register, reading in item.readings] == [site.r_old]
