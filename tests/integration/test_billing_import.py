"""Billing import from files (SPEC B9, issue 5 acceptance 4): the same file twice gives the same rows; a file
with bad rows imports nothing and lists every bad row; the back-office page for billing operators only."""
from __future__ import annotations

import io
import itertools
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from python_calamine import load_workbook
from sqlalchemy import func, select

from crm.models import (
    AuditLog,
    BillingDocument,
    Contract,
    Counterparty,
    EnergyObject,
    Meter,
    MeteringPoint,
    Payment,
    Register,
    Tariff,
)
from crm.services import billing_import as bi
from tests import factories as f

_seq = itertools.count(1)


# --- file builders ------------------------------------------------------------------------------

def xlsx(header: list[str], rows: list[list]) -> bytes:
    """A real workbook written by openpyxl (numbers as numbers, dates as dates)."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_cp1251(header: list[str], rows: list[list]) -> bytes:
    """A CSV as Excel saves it in Russia: Windows-1251, semicolons, decimal commas."""
    lines = [";".join(header)] + [";".join("" if value is None else str(value) for value in row) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode("cp1251")


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


CONTRACT_HEADER = ["external_id", "number", "account_number", "counterparty_external_id", "counterparty_name",
                   "counterparty_short_name", "inn", "kpp", "branch_code", "kind", "signed_on", "starts_on",
                   "opening_balance", "tariff_external_id"]
CONTRACT_ROWS = [
    ["C-1", "77010000000001", "1000001", "CP-1", "Общество с ограниченной ответственностью «Ромашка»", "ООО «Ромашка»",
     "7707083893", "773601001", "01", "electricity", date(2025, 12, 20), date(2026, 1, 1), 608822.79, "T-1"],
    ["C-2", "77010000000002", None, "CP-1", "Общество с ограниченной ответственностью «Ромашка»", "ООО «Ромашка»",
     "7707083893", "773601001", "01", "heat", date(2025, 12, 21), date(2026, 1, 1), -1500.5, None],
]


@pytest.fixture()
def base(db):
    """A branch "01" and the tariff T-1 that contracts refer to."""
    f.branch(code="01", name="Центральный филиал")
    db.session.add(Tariff(external_id="T-1", group_code="G1", name="Одноставочный", zone="all_day",
                          rate=Decimal("5.47"), valid_from=date(2026, 1, 1)))
    db.session.commit()


def contracts_imported(db) -> None:
    bi.import_file("contracts", xlsx(CONTRACT_HEADER, CONTRACT_ROWS), "contracts.xlsx")


# --- the same file twice ------------------------------------------------------------------------

def test_same_contracts_file_twice_gives_the_same_rows_when_imported_from_xlsx(db, base):
    data = xlsx(CONTRACT_HEADER, CONTRACT_ROWS)

    first = bi.import_file("contracts", data, "contracts.xlsx")
    second = bi.import_file("contracts", data, "contracts.xlsx")

    assert first == {"counterparties": {"created": 1, "updated": 0, "unchanged": 0},
                     "contracts": {"created": 2, "updated": 0, "unchanged": 0}}
    assert second == {"counterparties": {"created": 0, "updated": 0, "unchanged": 1},
                      "contracts": {"created": 0, "updated": 0, "unchanged": 2}}
    assert count(db, Contract) == 2 and count(db, Counterparty) == 1
    db.session.expire_all()
    one = db.session.scalar(select(Contract).where(Contract.external_id == "C-1"))
    two = db.session.scalar(select(Contract).where(Contract.external_id == "C-2"))
    assert (one.number, one.account_number, one.kind, one.signed_on) == ("77010000000001", "1000001", "electricity",
                                                                         date(2025, 12, 20))
    assert one.opening_balance == Decimal("608822.79") and two.opening_balance == Decimal("-1500.50")
    assert one.tariff.external_id == "T-1" and two.tariff is None
    assert one.branch.code == "01" and one.counterparty is two.counterparty
    assert one.counterparty.short_name == "ООО «Ромашка»" and one.counterparty.kpp == "773601001"


def test_changed_row_is_updated_and_the_others_stay_unchanged_when_a_file_is_imported_again(db, base):
    contracts_imported(db)
    rows = [list(row) for row in CONTRACT_ROWS]
    rows[1][12] = 0

    counts = bi.import_file("contracts", xlsx(CONTRACT_HEADER, rows), "contracts.xlsx")

    assert counts["contracts"] == {"created": 0, "updated": 1, "unchanged": 1}
    db.session.expire_all()
    assert db.session.scalar(select(Contract.opening_balance).where(Contract.external_id == "C-2")) == Decimal("0")


def test_contract_entered_by_hand_is_adopted_by_its_number_when_it_has_no_external_id(db, base):
    hand = f.contract(number="77010000000001")
    db.session.commit()

    counts = bi.import_file("contracts", xlsx(CONTRACT_HEADER, CONTRACT_ROWS[:1]), "contracts.xlsx")

    assert counts["contracts"] == {"created": 0, "updated": 1, "unchanged": 0}
    db.session.expire_all()
    assert db.session.get(Contract, hand.id).external_id == "C-1"
    assert count(db, Contract) == 1


OBJECT_HEADER = ["external_id", "contract_external_id", "code", "name", "address"]
OBJECT_ROWS = [["O-1", "C-1", "EO-0001", "Цех № 1", "г. Москва, ул. Заводская, д. 1"],
               ["O-2", "C-1", "EO-0002", "Склад", None]]


def test_same_objects_csv_in_cp1251_twice_gives_the_same_rows(db, base):
    contracts_imported(db)
    data = csv_cp1251(OBJECT_HEADER, OBJECT_ROWS)

    first = bi.import_file("objects", data, "objects.csv")
    second = bi.import_file("objects", data, "objects.csv")

    assert first == {"objects": {"created": 2, "updated": 0, "unchanged": 0}}
    assert second == {"objects": {"created": 0, "updated": 0, "unchanged": 2}}
    rows = db.session.scalars(select(EnergyObject).order_by(EnergyObject.code)).all()
    assert [(o.external_id, o.code, o.name, o.address, o.contract.external_id) for o in rows] == [
        ("O-1", "EO-0001", "Цех № 1", "г. Москва, ул. Заводская, д. 1", "C-1"),
        ("O-2", "EO-0002", "Склад", None, "C-1")]


METER_HEADER = ["external_id", "object_external_id", "point_external_id", "point_name", "transformation_ratio",
                "losses_percent", "serial", "model", "digits_integer", "digits_fraction", "registers"]
METER_ROWS = [["M-1", "O-1", "P-1", "ТУ-1 ввод 0,4 кВ", 40, 1.5, 1234567, "Меркурий 230", 6, 2, "A+:day, A+:night"],
              ["M-2", "O-1", "P-1", "ТУ-1 ввод 0,4 кВ", 40, 1.5, "00012", "СЕ 301", 5, 1, None]]


def test_same_meters_file_twice_gives_the_same_meters_points_and_registers(db, base):
    contracts_imported(db)
    bi.import_file("objects", csv_cp1251(OBJECT_HEADER, OBJECT_ROWS), "objects.csv")
    data = xlsx(METER_HEADER, METER_ROWS)

    first = bi.import_file("meters", data, "meters.xlsx")
    second = bi.import_file("meters", data, "meters.xlsx")

    assert first == {"metering_points": {"created": 1, "updated": 0, "unchanged": 0},
                     "meters": {"created": 2, "updated": 0, "unchanged": 0}}
    assert second == {"metering_points": {"created": 0, "updated": 0, "unchanged": 1},
                      "meters": {"created": 0, "updated": 0, "unchanged": 2}}
    assert count(db, MeteringPoint) == 1 and count(db, Meter) == 2 and count(db, Register) == 3
    db.session.expire_all()
    meter = db.session.scalar(select(Meter).where(Meter.external_id == "M-1"))
    assert meter.serial == "1234567" and (meter.digits_integer, meter.digits_fraction) == (6, 2)
    assert [(r.direction, r.zone, r.position) for r in meter.registers] == [("A+", "day", 0), ("A+", "night", 1)]
    assert meter.metering_point.transformation_ratio == Decimal("40")
    assert meter.metering_point.losses_percent == Decimal("1.5")
    other = db.session.scalar(select(Meter).where(Meter.external_id == "M-2"))
    assert other.serial == "00012" and [(r.direction, r.zone) for r in other.registers] == [("A+", "all_day")]


def test_new_register_is_added_and_the_meter_counted_as_updated_when_the_file_lists_it(db, base):
    contracts_imported(db)
    bi.import_file("objects", csv_cp1251(OBJECT_HEADER, OBJECT_ROWS), "objects.csv")
    bi.import_file("meters", xlsx(METER_HEADER, METER_ROWS[:1]), "meters.xlsx")
    rows = [list(METER_ROWS[0])]
    rows[0][10] = "A+:day, A+:night, A-:day"

    counts = bi.import_file("meters", xlsx(METER_HEADER, rows), "meters.xlsx")

    assert counts["meters"] == {"created": 0, "updated": 1, "unchanged": 0}
    assert count(db, Register) == 3


DOCUMENT_HEADER = ["external_id", "contract_external_id", "doc_type", "number", "doc_date", "period", "sale_kind",
                   "amount", "amount_due", "due_date"]
DOCUMENT_ROWS = [["D-1", "C-1", "invoice", "СФ-000123", "31.05.2016", "05.2016", "main", "198 685,01", "0,00",
                  "18.06.2016"],
                 ["D-2", "C-1", "bill", "СЧ-17", "2016-06-01", "2016-06", "advance", "482844,86", "482844,86", None]]


def test_same_documents_csv_twice_gives_the_same_documents_with_exact_amounts(db, base):
    contracts_imported(db)
    data = csv_cp1251(DOCUMENT_HEADER, DOCUMENT_ROWS)

    first = bi.import_file("documents", data, "documents.csv")
    second = bi.import_file("documents", data, "documents.csv")

    assert first == {"documents": {"created": 2, "updated": 0, "unchanged": 0}}
    assert second == {"documents": {"created": 0, "updated": 0, "unchanged": 2}}
    docs = db.session.scalars(select(BillingDocument).order_by(BillingDocument.external_id)).all()
    assert [(d.doc_type, d.number, d.doc_date, d.period, d.sale_kind, d.amount, d.amount_due, d.due_date)
            for d in docs] == [
        ("invoice", "СФ-000123", date(2016, 5, 31), date(2016, 5, 1), "main", Decimal("198685.01"), Decimal("0"),
         date(2016, 6, 18)),
        ("bill", "СЧ-17", date(2016, 6, 1), date(2016, 6, 1), "advance", Decimal("482844.86"), Decimal("482844.86"),
         None)]


PAYMENT_HEADER = ["external_id", "contract_external_id", "document_external_id", "number", "paid_on", "amount",
                  "bank"]
PAYMENT_ROWS = [["P-1", "C-1", "D-1", "457", date(2016, 6, 10), 979990.44, "ПАО Сбербанк"],
                ["P-2", "C-1", None, "458", date(2016, 7, 5), 424999.21, None]]


def test_same_payments_file_twice_gives_the_same_payments(db, base):
    contracts_imported(db)
    bi.import_file("documents", csv_cp1251(DOCUMENT_HEADER, DOCUMENT_ROWS), "documents.csv")
    data = xlsx(PAYMENT_HEADER, PAYMENT_ROWS)

    first = bi.import_file("payments", data, "payments.xlsx")
    second = bi.import_file("payments", data, "payments.xlsx")

    assert first == {"payments": {"created": 2, "updated": 0, "unchanged": 0}}
    assert second == {"payments": {"created": 0, "updated": 0, "unchanged": 2}}
    payments = db.session.scalars(select(Payment).order_by(Payment.external_id)).all()
    assert [(p.amount, p.paid_on, p.status, p.channel, p.document.external_id if p.document else None)
            for p in payments] == [(Decimal("979990.44"), date(2016, 6, 10), "paid", "bank", "D-1"),
                                   (Decimal("424999.21"), date(2016, 7, 5), "paid", "bank", None)]


def test_same_tariffs_csv_twice_gives_the_same_tariffs(db, base):
    header = ["external_id", "group_code", "name", "zone", "rate", "valid_from", "valid_to"]
    rows = [["T-2", "G2", "Двухзонный", "day", "6,12345", "01.01.2026", "31.12.2026"],
            ["T-3", "G2", "Двухзонный", "night", "2,5", "01.01.2026", None]]
    data = csv_cp1251(header, rows)

    first = bi.import_file("tariffs", data, "tariffs.csv")
    second = bi.import_file("tariffs", data, "tariffs.csv")

    assert first == {"tariffs": {"created": 2, "updated": 0, "unchanged": 0}}
    assert second == {"tariffs": {"created": 0, "updated": 0, "unchanged": 2}}
    rates = db.session.execute(select(Tariff.external_id, Tariff.zone, Tariff.rate, Tariff.valid_to)
                               .where(Tariff.group_code == "G2").order_by(Tariff.external_id)).all()
    assert [tuple(r) for r in rates] == [("T-2", "day", Decimal("6.12345"), date(2026, 12, 31)),
                                         ("T-3", "night", Decimal("2.5"), None)]


# --- bad files: nothing imported, every bad row listed ------------------------------------------

def test_file_with_bad_rows_imports_nothing_and_lists_every_bad_row_when_payments_are_imported(db, base):
    contracts_imported(db)
    rows = [
        ["P-1", "C-1", None, "1", date(2016, 6, 10), 100.5, None],                 # row 2: good
        ["P-2", "C-404", None, "2", date(2016, 6, 10), 100, None],                 # row 3: unknown contract
        ["P-3", "C-1", None, "3", date(2016, 6, 10), "сто рублей", None],          # row 4: text in an amount
        ["P-1", "C-1", None, "4", date(2016, 6, 11), 10, None],                    # row 5: repeated external id
        ["P-5", "C-1", None, "5", "31.02.2016", 10, None],                         # row 6: bad date
        ["P-6", "C-2", "D-404", "6", "2016-06-12", "1,005", None],                 # row 7: unknown doc, 3 places
    ]

    with pytest.raises(bi.BillingImportError) as caught:
        bi.import_file("payments", xlsx(PAYMENT_HEADER, rows), "payments.xlsx")

    problems = [(p.number, p.field, p.message) for p in caught.value.problems]
    assert problems == [
        (3, "contract_external_id", "Не найден договор с внешним идентификатором C-404."),
        (4, "amount", "Не число."),
        (5, "external_id", "Внешний идентификатор P-1 повторяется: уже есть в строке 2."),
        (6, "paid_on", "Не дата (ожидается ДД.ММ.ГГГГ или ГГГГ-ММ-ДД)."),
        (7, "amount", "Не более 2 знаков после запятой."),
        (7, "document_external_id", "Не найден расчётный документ с внешним идентификатором D-404."),
    ]
    assert caught.value.message == "Ничего не загружено: найдено 6 ошибок."
    assert count(db, Payment) == 0


def test_file_missing_a_required_column_imports_nothing_and_names_the_column(db, base):
    header = [column for column in OBJECT_HEADER if column != "code"] + ["colour"]
    rows = [[value for index, value in enumerate(row) if index != 2] + ["red"] for row in OBJECT_ROWS]

    with pytest.raises(bi.BillingImportError) as caught:
        bi.import_file("objects", csv_cp1251(header, rows), "objects.csv")

    assert [(p.number, p.field, p.message) for p in caught.value.problems] == [
        (1, "colour", "Неизвестная колонка."), (1, "code", "Нет обязательной колонки.")]
    assert count(db, EnergyObject) == 0


def test_contract_file_with_conflicts_imports_nothing_and_lists_each_conflict(db, base):
    other = f.contract(number="77010000000009", external_id="C-OTHER")
    db.session.commit()
    rows = [list(CONTRACT_ROWS[0]), list(CONTRACT_ROWS[1])]
    rows[0][1] = other.number                          # row 2: the number of another contract
    rows[1][4] = "ООО «Другое название»"                # row 3: counterparty details differ from row 2
    rows[1][6] = "7707083890"                          # row 3: INN check digits
    rows[1][8] = "99"                                  # row 3: unknown branch

    with pytest.raises(bi.BillingImportError) as caught:
        bi.import_file("contracts", xlsx(CONTRACT_HEADER, rows), "contracts.xlsx")

    assert [(p.number, p.field) for p in caught.value.problems] == [
        (2, "number"), (3, "inn"), (3, "branch_code"), (3, "counterparty_name"), (3, "inn")]
    assert count(db, Contract) == 1 and count(db, Counterparty) == 1


def test_text_file_renamed_to_xlsx_is_refused_as_a_file_error(db):
    with pytest.raises(bi.ServiceError) as caught:
        bi.import_file("tariffs", b"external_id;name\r\n", "tariffs.xlsx")
    assert not isinstance(caught.value, bi.BillingImportError)
    assert count(db, Tariff) == 0


# --- lookups and audit -------------------------------------------------------------------------

def _meter_rows(n: int) -> list[list]:
    return [[f"M-{i}", "O-1", f"P-{i}", None, 1, 0, f"SN{i:05d}", None, 6, 2, "A+:day, A+:night"]
            for i in range(n)]


def test_lookups_issue_the_same_number_of_selects_when_the_file_is_ten_times_larger(db, base, query_counter):
    contracts_imported(db)
    bi.import_file("objects", csv_cp1251(OBJECT_HEADER, OBJECT_ROWS), "objects.csv")
    small, large = xlsx(METER_HEADER, _meter_rows(3)), xlsx(METER_HEADER, _meter_rows(30))
    bi.import_file("meters", small, "m.xlsx")
    bi.import_file("meters", large, "m.xlsx")
    db.session.remove()

    def selects(data) -> int:
        with query_counter() as counter:
            bi.import_file("meters", data, "m.xlsx")
        db.session.remove()
        return sum(1 for s in counter.statements if s.lstrip().upper().startswith("SELECT"))

    assert selects(small) == selects(large)


def test_one_audit_row_records_the_batch_with_its_counts(db, base):
    contracts_imported(db)
    rows = db.session.scalars(select(AuditLog).where(AuditLog.action == "billing_import")).all()
    assert len(rows) == 1
    assert rows[0].detail == {"source": "file", "file": "contracts.xlsx", "counts": {
        "counterparties": {"created": 1, "updated": 0, "unchanged": 0},
        "contracts": {"created": 2, "updated": 0, "unchanged": 0}}}


# --- template -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["tariffs", "contracts", "objects", "meters", "documents", "payments"])
def test_template_has_the_importer_columns_and_an_example_row(app_ctx, kind):
    data = bi.template_workbook(kind)
    rows = load_workbook(io.BytesIO(data)).get_sheet_by_index(0).to_python()
    expected = [spec.name for spec in bi.kind_of(kind).fields if spec.in_files]
    assert rows[0] == expected
    assert len(rows) == 2 and rows[1][0] == "000123"


def test_template_example_is_readable_by_the_importer_when_filled_in(db, base):
    """The tariffs template's example row imports as is: the template and the importer agree."""
    counts = bi.import_file("tariffs", bi.template_workbook("tariffs"), "template.xlsx")
    assert counts == {"tariffs": {"created": 1, "updated": 0, "unchanged": 0}}
    tariff = db.session.scalar(select(Tariff).where(Tariff.external_id == "000123"))
    assert (tariff.zone, tariff.rate, tariff.valid_from) == ("day", Decimal("5.47"), date(2026, 1, 1))


# --- back-office page ----------------------------------------------------------------------------

def _staff(client, role: str) -> None:
    from crm.extensions import db

    username = f"import_{role.lower().replace(' ', '_')}{next(_seq)}"
    f.user(f"{username}@energo.example", username=username, roles=(role,))
    db.session.commit()
    assert f.staff_login(client, username).status_code == 302


def _refused(response) -> bool:
    return response.status_code == 403 or (
        response.status_code == 302 and "/login" in response.headers.get("Location", ""))


def test_billing_operator_imports_a_file_and_sees_the_counts_on_the_page(app, db, client, base):
    _staff(client, "Billing operator")
    page = client.get("/admin/billing-import/?kind=objects")
    assert page.status_code == 200 and "contract_external_id" in page.text
    contracts_imported(db)

    response = client.post("/admin/billing-import/", data={
        "kind": "objects", "file": (io.BytesIO(csv_cp1251(OBJECT_HEADER, OBJECT_ROWS)), "objects.csv")},
        content_type="multipart/form-data")

    assert response.status_code == 200
    assert "import-result" in response.text and "objects.csv" in response.text
    assert count(db, EnergyObject) == 2


def test_billing_operator_sees_every_bad_row_with_its_number_and_column_when_the_file_is_bad(app, db, client, base):
    _staff(client, "Billing operator")
    rows = [["O-1", "C-404", "EO-1", "Цех", None], ["O-2", "C-1", None, "Склад", None]]
    contracts_imported(db)

    response = client.post("/admin/billing-import/", data={
        "kind": "objects", "file": (io.BytesIO(xlsx(OBJECT_HEADER, rows)), "objects.xlsx")},
        content_type="multipart/form-data")

    assert response.status_code == 422
    text = response.text
    assert "<td>2</td><td><code>contract_external_id</code></td>" in text
    assert "<td>3</td><td><code>code</code></td>" in text
    assert count(db, EnergyObject) == 0


def test_billing_operator_downloads_the_template(app, db, client):
    _staff(client, "Billing operator")
    response = client.get("/admin/billing-import/template/payments")
    assert response.status_code == 200
    rows = load_workbook(io.BytesIO(response.data)).get_sheet_by_index(0).to_python()
    assert rows[0][:3] == ["external_id", "contract_external_id", "document_external_id"]


def test_curator_is_refused_the_import_page_and_the_upload(app, db, client, base):
    _staff(client, "Curator")
    assert _refused(client.get("/admin/billing-import/"))
    response = client.post("/admin/billing-import/", data={
        "kind": "tariffs", "file": (io.BytesIO(b"x"), "t.csv")}, content_type="multipart/form-data")
    assert _refused(response)
    assert _refused(client.get("/admin/billing-import/template/tariffs"))


def test_customer_is_refused_the_import_page(app, db, client):
    f.user("customer-import@zavod.example")
    db.session.commit()
    f.login(client, "customer-import@zavod.example")
    assert _refused(client.get("/admin/billing-import/"))


def test_import_page_speaks_russian_by_default_and_english_when_chosen(app, db, client):
    _staff(client, "Billing operator")
    russian = client.get("/admin/billing-import/?kind=payments")
    client.get("/lang/en")
    english = client.get("/admin/billing-import/?kind=payments")

    assert "Загрузка из биллинга: Платежи" in russian.text and "Скачать шаблон: Платежи" in russian.text
    assert "Import from billing: Payments" in english.text and "Download the template: Payments" in english.text


def test_file_without_an_optional_column_keeps_the_stored_values_and_an_empty_cell_clears_them(db, base):
    contracts_imported(db)
    bi.import_file("objects", csv_cp1251(OBJECT_HEADER, OBJECT_ROWS), "objects.csv")
    without_address = [row[:4] for row in OBJECT_ROWS]
    emptied = [[*row[:4], None] for row in OBJECT_ROWS]

    kept = bi.import_file("objects", csv_cp1251(OBJECT_HEADER[:4], without_address), "objects.csv")
    address = db.session.scalar(select(EnergyObject.address).where(EnergyObject.external_id == "O-1"))
    cleared = bi.import_file("objects", csv_cp1251(OBJECT_HEADER, emptied), "objects.csv")

    assert kept == {"objects": {"created": 0, "updated": 0, "unchanged": 2}}
    assert address == "г. Москва, ул. Заводская, д. 1"
    assert cleared == {"objects": {"created": 0, "updated": 1, "unchanged": 1}}
    db.session.expire_all()
    assert db.session.scalar(select(EnergyObject.address).where(EnergyObject.external_id == "O-1")) is None


def test_meter_moves_to_a_metering_point_created_in_the_same_file(db, base):
    contracts_imported(db)
    bi.import_file("objects", csv_cp1251(OBJECT_HEADER, OBJECT_ROWS), "objects.csv")
    bi.import_file("meters", xlsx(METER_HEADER, METER_ROWS[:1]), "meters.xlsx")
    moved = [list(METER_ROWS[0])]
    moved[0][1], moved[0][2], moved[0][3] = "O-2", "P-NEW", "ТУ склада"

    counts = bi.import_file("meters", xlsx(METER_HEADER, moved), "meters.xlsx")

    assert counts == {"metering_points": {"created": 1, "updated": 0, "unchanged": 0},
                      "meters": {"created": 0, "updated": 1, "unchanged": 0}}
    db.session.expire_all()
    meter = db.session.scalar(select(Meter).where(Meter.external_id == "M-1"))
    assert meter.metering_point.external_id == "P-NEW" and meter.metering_point.energy_object.external_id == "O-2"
