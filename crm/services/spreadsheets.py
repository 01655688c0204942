"""Reading uploaded tables safely: `.xlsx`, legacy `.xls` and `.csv` → rows of plain values.

Every upload in the product (integral readings, interval profiles, billing imports) comes through
`read_table`, so the same defences hold everywhere:

- the type is decided by the content, not the name (a text file renamed `.xlsx` is refused);
- an `.xlsx` is a zip: its members' declared uncompressed sizes are summed *before* anything is
  unpacked, so a zip bomb is refused without being inflated;
- size and row limits, and one localised `SpreadsheetError` per refusal.

Workbooks are read with python-calamine (a Rust reader, fast and with no formula evaluation); numbers
come back as Python floats, which `cell_decimal` turns into exact Decimals by their shortest repr.
"""
from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _
from python_calamine import CalamineError, load_workbook

from crm.services import ServiceError

#: the largest upload accepted (bytes as sent)
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
#: the largest total an .xlsx may unpack to (its members' declared sizes); real workbooks of 10 000
#: meters unpack to a few MB
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
#: rows beyond this are refused rather than read
MAX_ROWS = 500_000

XLSX, XLS, CSV = "xlsx", "xls", "csv"
_OLE_MAGIC = bytes.fromhex("D0CF11E0A1B11AE1")
_ZIP_MAGIC = b"PK\x03\x04"


class SpreadsheetError(ServiceError):
    """The upload cannot be read as a table (type, size, damage); `message` is localised."""

    def __init__(self, message: str):
        super().__init__(message, field="file")


@dataclass(frozen=True)
class Row:
    """One row of the table: its number as the person sees it in Excel (1-based) and its cells."""

    number: int
    values: tuple[Any, ...]

    def cell(self, index: int) -> Any:
        """The cell's value, or None beyond the row's end; blank strings become None."""
        if index >= len(self.values):
            return None
        value = self.values[index]
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    @property
    def is_blank(self) -> bool:
        return all(self.cell(index) is None for index in range(len(self.values)))


def sniff_kind(data: bytes) -> str | None:
    """`xlsx`, `xls` or None (not a workbook), from the first bytes."""
    if data.startswith(_ZIP_MAGIC):
        return XLSX
    if data.startswith(_OLE_MAGIC):
        return XLS
    return None


def read_table(data: bytes, filename: str = "", allowed: tuple[str, ...] = (XLSX, XLS), sheet: int = 0) -> list[Row]:
    """The rows of the first (or `sheet`-th) worksheet, or of a CSV when `csv` is allowed and the file is
    named `.csv`. Raises `SpreadsheetError` for an empty, oversized, mistyped or damaged file."""
    if not data:
        raise SpreadsheetError(_("The file is empty."))
    if len(data) > MAX_UPLOAD_BYTES:
        raise SpreadsheetError(_("The file is larger than %(size)s MB.", size=MAX_UPLOAD_BYTES // (1024 * 1024)))
    kind = sniff_kind(data)
    if kind is None and CSV in allowed and filename.lower().endswith(".csv"):
        return _read_csv(data)
    if kind is None or kind not in allowed:
        raise SpreadsheetError(_allowed_message(allowed))
    if kind == XLSX:
        _check_zip(data)
    try:
        workbook = load_workbook(io.BytesIO(data))
        names = workbook.sheet_names
        if sheet >= len(names):
            raise SpreadsheetError(_("The workbook has no worksheet to read."))
        values = workbook.get_sheet_by_index(sheet).to_python(skip_empty_area=False)
    except (CalamineError, ValueError, OSError) as exc:
        raise SpreadsheetError(_("The file is damaged or is not an Excel workbook: %(type)s.",
                                 type=_allowed_names(allowed))) from exc
    if len(values) > MAX_ROWS:
        raise SpreadsheetError(_("The file has more than %(rows)s rows.", rows=MAX_ROWS))
    return [Row(index + 1, tuple(row)) for index, row in enumerate(values)]


def _check_zip(data: bytes) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise SpreadsheetError(_("The file is damaged or is not an Excel workbook: %(type)s.",
                                 type=_allowed_names((XLSX,)))) from exc
    if not any(member.filename == "xl/workbook.xml" for member in members):
        raise SpreadsheetError(_("The file is a zip archive, not an Excel workbook (.xlsx)."))
    if sum(member.file_size for member in members) > MAX_UNPACKED_BYTES:
        raise SpreadsheetError(_("The workbook unpacks to more than %(size)s MB: it is refused as unsafe.",
                                 size=MAX_UNPACKED_BYTES // (1024 * 1024)))


def _read_csv(data: bytes) -> list[Row]:
    for encoding in ("utf-8-sig", "cp1251"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1251 decodes every byte but a few; kept for clarity
        raise SpreadsheetError(_("The CSV file is not in UTF-8 or Windows-1251."))
    if "\x00" in text:
        raise SpreadsheetError(_("The file is not a text CSV file."))
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=";,\t")
    except csv.Error:
        dialect = csv.excel
        dialect.delimiter = ";" if sample.count(";") > sample.count(",") else ","
    rows = []
    for index, values in enumerate(csv.reader(io.StringIO(text), dialect)):
        if index >= MAX_ROWS:
            raise SpreadsheetError(_("The file has more than %(rows)s rows.", rows=MAX_ROWS))
        rows.append(Row(index + 1, tuple(values)))
    return rows


def _allowed_names(allowed: tuple[str, ...]) -> str:
    return ", ".join(f".{kind}" for kind in allowed)


def _allowed_message(allowed: tuple[str, ...]) -> str:
    return _("The file is not of an accepted type (%(types)s): choose the file again.", types=_allowed_names(allowed))


# --- cell values ------------------------------------------------------------------------------

def cell_text(value: Any) -> str | None:
    """A cell as text: numbers without a spurious `.0` (a serial typed as 12345 reads "12345")."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def cell_decimal(value: Any) -> Decimal | None:
    """A numeric cell as an exact Decimal (None when blank); text with a comma or spaces is accepted.
    Raises `ValueError` when the cell holds something that is not a number."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or isinstance(value, (date, datetime)):
        raise ValueError("not a number")
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, int):
        return Decimal(value)
    text = str(value).strip().replace("\u00a0", "").replace("\u202f", "").replace(" ", "").replace(",", ".")
    try:
        number = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError("not a number") from exc
    if not number.is_finite():
        raise ValueError("not a number")
    return number
