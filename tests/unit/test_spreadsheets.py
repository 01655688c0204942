"""Safe reading of uploaded tables: type by content, zip bombs refused unpacked, exact decimals."""
from __future__ import annotations

import io
import zipfile
from decimal import Decimal

import openpyxl
import pytest
import xlwt

from crm.services.spreadsheets import SpreadsheetError, cell_decimal, cell_text, read_table


def _xlsx(rows) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _xls(rows) -> bytes:
    book = xlwt.Workbook()
    sheet = book.add_sheet("Показания")
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_rows_come_back_numbered_as_in_excel_when_reading_xlsx(app_ctx):
    rows = read_table(_xlsx([["Счётчик", "Показание"], ["12345", 99990.5], ["A-7", "15,25"]]), "f.xlsx")
    assert [row.number for row in rows] == [1, 2, 3]
    assert rows[1].cell(0) == "12345" and cell_decimal(rows[1].cell(1)) == Decimal("99990.5")
    assert cell_decimal(rows[2].cell(1)) == Decimal("15.25")


def test_legacy_xls_is_read_like_xlsx(app_ctx):
    rows = read_table(_xls([["Счётчик", "Показание"], [12345, 0.1]]), "old.xls")
    assert cell_text(rows[1].cell(0)) == "12345"
    assert cell_decimal(rows[1].cell(1)) == Decimal("0.1")


def test_text_file_renamed_xlsx_is_refused_when_uploaded(app_ctx):
    with pytest.raises(SpreadsheetError, match="недопустимого типа"):
        read_table(b"meter;value\n1;2\n", "readings.xlsx")


def test_zip_that_is_not_a_workbook_is_refused(app_ctx):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(SpreadsheetError, match="zip-архив"):
        read_table(buffer.getvalue(), "r.xlsx")


def test_zip_bomb_is_refused_before_it_is_unpacked(app_ctx):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (210 * 1024 * 1024))
    data = buffer.getvalue()
    assert len(data) < 1024 * 1024          # small on the wire
    with pytest.raises(SpreadsheetError, match="при распаковке занимает больше"):
        read_table(data, "bomb.xlsx")


def test_csv_in_windows_1251_with_semicolons_is_read_when_csv_is_allowed(app_ctx):
    rows = read_table("Счётчик;Показание\n123;45,6\n".encode("cp1251"), "r.csv", allowed=("xlsx", "csv"))
    assert rows[1].values == ("123", "45,6")
    assert cell_decimal(rows[1].cell(1)) == Decimal("45.6")


def test_cell_decimal_refuses_text_that_is_not_a_number():
    with pytest.raises(ValueError):
        cell_decimal("двенадцать")
    assert cell_decimal("  ") is None
    assert cell_decimal("1 234,5") == Decimal("1234.5")
