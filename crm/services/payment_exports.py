"""The payment history as a file (SPEC C11 "export to xlsx/csv/pdf", seed 002; W3 for large ones).

The rows are what the history page shows for the same filter (contract, period, status), newest
first, with their exact total. They are read in keyset batches of plain tuples (no ORM objects, no
open cursor between batches), so memory stays flat however many payments there are and progress
can be written between batches. xlsx goes through xlsxwriter in `constant_memory` mode, csv is
UTF-8 with a BOM and `;` with decimal commas (what Russian Excel opens as columns), pdf is a print
template rendered by WeasyPrint (refused above `PDF_MAX_ROWS`: nobody prints that many pages).

`export_payments` is called inline by the page for small exports; above EXPORT_INLINE_MAX_ROWS the
page creates a background task whose runner is `run_export_task` (crm/services/tasks.py).
"""
from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import and_, func, or_, select

from crm.extensions import db
from crm.formatting import format_money
from crm.models.billing import Payment
from crm.models.contract import Contract
from crm.services import ServiceError
from crm.services.payments import status_label
from crm.services.tasks import Progress, TaskError, TaskResult

FORMATS = ("xlsx", "csv", "pdf")
BATCH = 5000
PDF_MAX_ROWS = 5000
_SUFFIX = {"xlsx": ".xlsx", "csv": ".csv", "pdf": ".pdf"}
MIMETYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}

Row = tuple[int, date, str | None, str | None, Decimal, str, str | None]


class ExportError(ServiceError):
    """The export cannot be made as asked (unknown format, too many rows for a PDF)."""


@dataclass(frozen=True)
class ExportRequest:
    contract_id: int
    date_from: date
    date_to: date
    status: str | None
    fmt: str

    def params(self) -> dict:
        return {"contract_id": self.contract_id, "date_from": self.date_from.isoformat(),
                "date_to": self.date_to.isoformat(), "status": self.status, "format": self.fmt}

    @classmethod
    def from_params(cls, params: dict) -> ExportRequest:
        return cls(int(params["contract_id"]), date.fromisoformat(params["date_from"]),
                   date.fromisoformat(params["date_to"]), params.get("status"), params["format"])


def _conditions(request: ExportRequest) -> list:
    conditions = [Payment.contract_id == request.contract_id, Payment.paid_on >= request.date_from,
                  Payment.paid_on <= request.date_to]
    if request.status is not None:
        conditions.append(Payment.status == request.status)
    return conditions


def count_rows(request: ExportRequest) -> int:
    """How many payments the export holds (one statement)."""
    return db.session.scalar(select(func.count(Payment.id)).where(*_conditions(request))) or 0


def iter_rows(request: ExportRequest, batch: int | None = None) -> Iterator[list[Row]]:
    """The payments, newest first, in batches of plain tuples (keyset pagination on date and id)."""
    batch = batch or BATCH
    columns = (Payment.id, Payment.paid_on, Payment.bank, Payment.number, Payment.amount, Payment.status,
               Payment.purpose)
    base = select(*columns).where(*_conditions(request)).order_by(Payment.paid_on.desc(), Payment.id.desc())
    last: tuple[date, int] | None = None
    while True:
        query = base
        if last is not None:
            query = query.where(or_(Payment.paid_on < last[0], and_(Payment.paid_on == last[0], Payment.id < last[1])))
        rows = db.session.execute(query.limit(batch)).all()
        if not rows:
            return
        yield [tuple(row) for row in rows]
        if len(rows) < batch:
            return
        last = (rows[-1][1], rows[-1][0])


def file_name(contract_number: str, request: ExportRequest) -> str:
    return f"payments_{contract_number}_{request.date_from:%Y%m%d}-{request.date_to:%Y%m%d}.{request.fmt}"


def _headers() -> list[str]:
    return [_("Date"), _("Payment order No."), _("Bank"), _("Purpose of payment"), _("Amount, ₽"), _("Status")]


def _title(contract: Contract, request: ExportRequest) -> str:
    return _("Payments by contract No. %(number)s from %(start)s to %(end)s", number=contract.number,
             start=request.date_from.strftime("%d.%m.%Y"), end=request.date_to.strftime("%d.%m.%Y"))


def _labels() -> dict[str, str]:
    from crm.services.payments import STATUSES

    return {status: status_label(status) for status in STATUSES}


def write_xlsx(path: str, contract: Contract, request: ExportRequest, progress: Progress | None) -> int:
    """The workbook: a title, the header, one row per payment, the total (constant memory)."""
    import xlsxwriter

    labels = _labels()
    workbook = xlsxwriter.Workbook(path, {"constant_memory": True, "tmpdir": tempfile.gettempdir()})
    try:
        sheet = workbook.add_worksheet(_("Payments")[:31])
        bold = workbook.add_format({"bold": True})
        day = workbook.add_format({"num_format": "dd.mm.yyyy"})
        money = workbook.add_format({"num_format": "#,##0.00"})
        total_format = workbook.add_format({"num_format": "#,##0.00", "bold": True})
        sheet.set_column(0, 0, 12)
        sheet.set_column(1, 2, 22)
        sheet.set_column(3, 3, 60)
        sheet.set_column(4, 4, 16)
        sheet.set_column(5, 5, 14)
        sheet.write_string(0, 0, _title(contract, request), bold)
        sheet.write_row(1, 0, _headers(), bold)
        index, total, rows = 2, Decimal("0.00"), 0
        for batch in iter_rows(request):
            for _id, paid_on, bank, number, amount, status, purpose in batch:
                sheet.write_datetime(index, 0, paid_on, day)
                sheet.write_string(index, 1, number or "")
                sheet.write_string(index, 2, bank or "")
                sheet.write_string(index, 3, purpose or "")
                sheet.write_number(index, 4, float(amount), money)
                sheet.write_string(index, 5, labels.get(status, status))
                index += 1
                total += amount
            rows += len(batch)
            if progress is not None:
                progress.advance(len(batch))
        sheet.write_string(index, 3, _("Total"), bold)
        sheet.write_number(index, 4, float(total), total_format)
    finally:
        workbook.close()
    return rows


def _russian_decimal(value: Decimal) -> str:
    return f"{value:.2f}".replace(".", ",")


def write_csv(path: str, contract: Contract, request: ExportRequest, progress: Progress | None) -> int:
    """UTF-8 with a BOM, `;` between fields, dates dd.mm.yyyy, decimal commas; header first."""
    labels = _labels()
    rows = 0
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        writer.writerow(_headers())
        for batch in iter_rows(request):
            writer.writerows((paid_on.strftime("%d.%m.%Y"), number or "", bank or "", purpose or "",
                              _russian_decimal(amount), labels.get(status, status))
                             for _id, paid_on, bank, number, amount, status, purpose in batch)
            rows += len(batch)
            if progress is not None:
                progress.advance(len(batch))
    return rows


def write_pdf(path: str, contract: Contract, request: ExportRequest, progress: Progress | None) -> int:
    """The print template rendered by WeasyPrint (A4 landscape)."""
    from weasyprint import HTML

    rows = [row for batch in iter_rows(request) for row in batch]
    total = sum((row[4] for row in rows), Decimal("0.00"))
    html = render_template("portal/print/payments.html", contract=contract, rows=rows, total=total,
                           title=_title(contract, request), headers=_headers(), labels=_labels(),
                           money=format_money)
    HTML(string=html, base_url=current_app.root_path).write_pdf(path)
    if progress is not None:
        progress.advance(len(rows))
    return len(rows)


WRITERS = {"xlsx": write_xlsx, "csv": write_csv, "pdf": write_pdf}


def export_payments(request: ExportRequest, progress: Progress | None = None) -> TaskResult:
    """Write the export to a temporary file; the caller sends or stores it and removes the file."""
    if request.fmt not in WRITERS:
        raise ExportError(_("Choose the file format: xlsx, csv or pdf."))
    contract = db.session.get(Contract, request.contract_id)
    if request.fmt == "pdf" and count_rows(request) > PDF_MAX_ROWS:
        raise ExportError(_("A PDF can hold at most %(max)s payments. Choose a shorter period or xlsx or csv.",
                            max=PDF_MAX_ROWS))
    handle, path = tempfile.mkstemp(prefix="crm-export-", suffix=_SUFFIX[request.fmt])
    os.close(handle)
    try:
        rows = WRITERS[request.fmt](path, contract, request, progress)
    except BaseException:
        os.unlink(path)
        raise
    return TaskResult(path=path, name=file_name(contract.number, request), rows=rows, suffix=_SUFFIX[request.fmt])


def run_export_task(task, progress: Progress) -> TaskResult:
    """The background-task runner of "payments_export" (in the owner's language)."""
    request = ExportRequest.from_params(task.params)
    locale = task.params.get("locale") or current_app.config.get("BABEL_DEFAULT_LOCALE", "ru")
    with force_locale(locale):
        if not progress.total:
            progress.set_total(count_rows(request))
        try:
            return export_payments(request, progress)
        except ExportError as exc:
            raise TaskError(exc.message) from exc
