"""Readings exchanged with billing as files in the back office (SPEC B9; issue 4 item 7).

The export of submitted readings (xlsx and CSV) is opened back with python-calamine / csv and compared
value by value; the import of accepted readings is idempotent by external id (the same file twice gives
the same rows) and all-or-nothing (every bad row listed with its number, nothing written).
"""
from __future__ import annotations

import csv
import io
import itertools
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

import openpyxl
import pytest
from python_calamine import load_workbook

from crm import clock
from crm.extensions import db
from crm.models import Reading
from crm.services import readings_billing as rb
from tests import factories as f

TODAY = datetime(2024, 2, 10, 9, 0, tzinfo=UTC)
SUBMITTED_AT = datetime(2024, 2, 3, 8, 30, tzinfo=UTC)
JAN, DEC = date(2024, 1, 1), date(2023, 12, 1)
_seq = itertools.count(1)
HEADER = ["external_id", "meter_serial", "zone", "direction", "period", "value"]


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
    row = Reading(register_id=register.id, period=period, value=Decimal(value), submitted_at=SUBMITTED_AT,
                  previous_value=None if previous is None else Decimal(previous),
                  consumption=None if consumption is None else Decimal(consumption), source=source, status=status)
    db.session.add(row)
    db.session.flush()
    return row


@pytest.fixture()
def site(app):
    with data(app):
        north, south = f.branch(code="N1"), f.branch(code="S1")
        contract_a = f.contract(branch_=north, number="77000000000101", account_number="4100000101")
        contract_b = f.contract(branch_=south, number="77000000000202")
        obj_a, obj_b = f.energy_object(contract_a, code="EO-A"), f.energy_object(contract_b, code="EO-B")
        two_zone = f.meter(obj_a, zones=("day", "night"), serial="TZ-100", digits_integer=5)
        single = f.meter(obj_b, serial="SZ-200")
        day, night = two_zone.registers
        reading(day, DEC, "1500", status="accepted")
        reading(night, DEC, "800", status="accepted")
        r_day = reading(day, JAN, "1520.25", previous="1500", consumption="20.25")
        r_night = reading(night, JAN, "810.5", previous="800", consumption="10.5", source="file")
        r_single = reading(single.registers[0], JAN, "42")
        reading(single.registers[0], date(2024, 2, 1), "50")                  # another period: not exported
        ids = SimpleNamespace(r_day=r_day.id, r_night=r_night.id, r_single=r_single.id, day=day.id, night=night.id,
                              single=single.registers[0].id)
    return ids


def _staff(app, role="Curator"):
    client = app.test_client()
    username = f"{role.lower().replace(' ', '_')}x{next(_seq)}"
    with data(app):
        f.user(f"{username}@energo.example", username=username, roles=(role,))
    assert f.staff_login(client, username).status_code == 302
    return client


def _snapshot(app):
    with app.app_context():
        return [(r.id, r.register_id, r.period, r.value, r.previous_value, r.consumption, r.status, r.source,
                 r.external_id, r.reviewed_at) for r in db.session.query(Reading).order_by(Reading.id)]


# --- export ---------------------------------------------------------------------------------------

EXPECTED = [
    ["77000000000101", "4100000101", "EO-A", "TZ-100", "day", "A+", "2024-01", "1520.25", "1500", "20.25",
     "2024-02-03T08:30:00+00:00", "portal"],
    ["77000000000101", "4100000101", "EO-A", "TZ-100", "night", "A+", "2024-01", "810.5", "800", "10.5",
     "2024-02-03T08:30:00+00:00", "file"],
    ["77000000000202", "", "EO-B", "SZ-200", "all_day", "A+", "2024-01", "42", "", "",
     "2024-02-03T08:30:00+00:00", "portal"],
]


def test_csv_export_holds_every_submitted_reading_of_the_period_exactly(app, site):
    client = _staff(app)
    response = client.get("/admin/readings/billing/?period=2024-01&format=csv")
    assert response.status_code == 200
    assert 'filename="readings-2024-01.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == list(rb.EXPORT_COLUMNS)
    assert [row[:-1] for row in rows[1:]] == EXPECTED
    assert [int(row[-1]) for row in rows[1:]] == [site.r_day, site.r_night, site.r_single]


def test_xlsx_export_opens_with_another_reader_and_matches(app, site):
    client = _staff(app)
    response = client.get("/admin/readings/billing/?period=2024-01&branch=N1&format=xlsx")
    assert response.status_code == 200
    assert 'filename="readings-2024-01-N1.xlsx"' in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.data)).get_sheet_by_index(0).to_python()
    assert list(sheet[0]) == list(rb.EXPORT_COLUMNS)
    assert len(sheet) == 3                                             # header + the two registers of N1
    for row, expected, reading_id in zip(sheet[1:], EXPECTED[:2], [site.r_day, site.r_night], strict=True):
        assert list(row[:7]) == expected[:7]
        assert [Decimal(repr(value)) for value in row[7:10]] == [Decimal(v) for v in expected[7:10]]
        assert list(row[10:12]) == expected[10:12]
        assert int(row[12]) == reading_id


def test_export_refuses_a_bad_period_with_a_message_next_to_the_field(app, site):
    client = _staff(app)
    response = client.get("/admin/readings/billing/?period=январь&format=csv")
    assert response.status_code == 400
    assert "Укажите период как месяц в формате ГГГГ-ММ." in response.get_data(as_text=True)


def test_export_page_offers_period_branch_and_both_formats(app, site):
    html = _staff(app, "Auditor").get("/admin/readings/billing/").get_data(as_text=True)
    assert 'for="export-period"' in html and 'value="2024-01"' in html      # the previous month by default
    assert 'value="xlsx"' in html and 'value="csv"' in html
    assert 'for="import-file"' not in html                                    # the auditor only reads


# --- import ---------------------------------------------------------------------------------------

def _xlsx(rows) -> bytes:
    """Written with openpyxl: a different library than our own export (xlsxwriter)."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _csv(rows) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";").writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _upload(client, content: bytes, name: str):
    return client.post("/admin/readings/billing/import", data={"file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


GOOD = [HEADER,
        ["B-1", "TZ-100", "day", "A+", "2024-01", 1520.25],          # the submitted one, same value → accepted
        ["B-2", "TZ-100", "night", "A+", "2024-01", "811,5"],        # corrected by billing
        ["B-3", "SZ-200", "all_day", "A+", "2023-12", 30]]           # no reading there → created from billing


def test_xlsx_import_accepts_updates_and_creates_then_a_second_import_changes_nothing(app, site):
    client = _staff(app)
    response = _upload(client, _xlsx(GOOD), "accepted.xlsx")
    assert response.status_code == 200
    assert "новых — 1, обновлено — 2, без изменений — 0" in response.get_data(as_text=True)
    first = _snapshot(app)
    with app.app_context():
        day, night = db.session.get(Reading, site.r_day), db.session.get(Reading, site.r_night)
        assert (day.status, day.external_id, day.value, day.reviewed_at) == ("accepted", "B-1", Decimal("1520.25"),
                                                                             TODAY)
        assert (night.status, night.value, night.previous_value, night.consumption) == (
            "accepted", Decimal("811.5"), Decimal("800"), Decimal("11.5"))
        created = db.session.query(Reading).filter_by(external_id="B-3").one()
        assert (created.register_id, created.period, created.value, created.source, created.status) == (
            site.single, DEC, Decimal("30"), "billing", "accepted")
    response = _upload(client, _xlsx(GOOD), "accepted.xlsx")
    assert "новых — 0, обновлено — 0, без изменений — 3" in response.get_data(as_text=True)
    assert _snapshot(app) == first


def test_csv_import_gives_the_same_rows_as_the_xlsx_one(app, site):
    client = _staff(app)
    assert _upload(client, _csv(GOOD), "accepted.csv").status_code == 200
    via_csv = _snapshot(app)
    assert _upload(client, _xlsx(GOOD), "accepted.xlsx").status_code == 200
    assert _snapshot(app) == via_csv


def test_a_file_with_bad_rows_writes_nothing_and_lists_every_bad_row_with_its_number(app, site):
    client = _staff(app)
    before = _snapshot(app)
    rows = [HEADER,
            ["B-1", "TZ-100", "day", "A+", "2024-01", 1520.25],       # good
            ["B-2", "NOPE-1", "day", "A+", "2024-01", 10],             # row 3: unknown meter
            ["B-3", "TZ-100", "peak", "A+", "2024-01", 10],            # row 4: no such register
            ["B-1", "SZ-200", "all_day", "A+", "2024-01", 10],         # row 5: repeated external id
            ["B-5", "TZ-100", "day", "A+", "2024-01", 11],             # row 6: same register and period as row 2
            ["B-6", "SZ-200", "all_day", "A+", "2024-13", "abc"],      # row 7: bad month and value
            ["", "SZ-200", "all_day", "B+", "2024-01", -1]]            # row 8: no id, bad direction, negative
    response = _upload(client, _xlsx(rows), "bad.xlsx")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Ничего не загружено: строк с ошибками — 9." in html
    for number in (3, 4, 5, 6, 7, 8):
        assert f"<tr><td>{number}</td>" in html
    assert "нет счётчика с заводским номером NOPE-1" in html
    assert "у счётчика TZ-100 нет шкалы A+ peak" in html
    assert "внешний идентификатор B-1 повторяет строку 2" in html
    assert "та же шкала и тот же период, что в строке 2" in html
    assert "показание «abc» не является числом" in html
    assert _snapshot(app) == before


def test_import_refuses_a_file_without_the_required_columns(app, site):
    response = _upload(_staff(app), _csv([["external_id", "value"], ["B-1", "1"]]), "short.csv")
    assert response.status_code == 422
    assert "meter_serial, zone, direction, period" in response.get_data(as_text=True)


def test_import_refuses_a_text_file_renamed_xlsx(app, site):
    before = _snapshot(app)
    response = _upload(_staff(app), b"external_id;value\nB-1;1\n", "fake.xlsx")
    assert response.status_code == 400
    assert 'id="import-file-error"' in response.get_data(as_text=True)
    assert _snapshot(app) == before


def test_auditor_cannot_import(app, site):
    response = _upload(_staff(app, "Auditor"), _xlsx(GOOD), "accepted.xlsx")
    assert response.status_code == 403
    with app.app_context():
        assert db.session.query(Reading).filter(Reading.external_id.is_not(None)).count() == 0


def test_external_id_of_another_register_is_refused(app, site):
    with app.app_context():
        rb.import_accepted(*rb.items_from_json([{"external_id": "X-1", "meter_serial": "SZ-200", "zone": "all_day",
                                                 "direction": "A+", "period": "2024-01", "value": "42"}]))
        with pytest.raises(rb.AcceptedReadingsError) as error:
            rb.import_accepted(*rb.items_from_json([{"external_id": "X-1", "meter_serial": "TZ-100", "zone": "day",
                                                     "direction": "A+", "period": "2024-01", "value": "1"}]))
        assert error.value.problems == [(1, "внешний идентификатор X-1 уже принадлежит показанию другой шкалы или "
                                            "другого периода")]


def test_billing_operator_exports_and_imports_but_does_not_review(app, site):
    client = _staff(app, "Billing operator")
    assert client.get("/admin/readings/billing/?period=2024-01&format=csv").status_code == 200
    assert _upload(client, _xlsx(GOOD), "accepted.xlsx").status_code == 200
    assert client.get("/admin/readings/review/").status_code == 403
