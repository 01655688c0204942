"""Reconciliation act of a contract for any period (SPEC C9) [003 §4.2 fig. 8].

Opening balance on the first day, every invoice (debit) and payment (credit) of the period with its
document and a link to the stored scan, turnover totals, closing balance after the last day and its
side: the customer's debt (positive) or an overpayment in the customer's favour (negative). Both
ends of the period are included, so "01.05.2016–01.08.2016" (the seed's way) and "01.05.2016–
31.07.2016" give the same act when nothing happens on 1 August.

`reconciliation_act()` is a read helper in three statements whatever the period: the balance before the
period (invoices and payments, summed in integer kopecks, in one statement) and the rows of the period. The same act
renders on screen, as PDF (WeasyPrint, template portal/print/reconciliation_act.html) and as xlsx.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask import render_template
from flask_babel import gettext as _
from sqlalchemy import select

from crm import clock
from crm.extensions import db
from crm.formatting import format_day
from crm.models.billing import BillingDocument, DocumentType, Payment, PaymentStatus
from crm.models.contract import Contract
from crm.services.settlements import INVOICE_TYPES, ZERO, kopecks, rubles

DEBIT, CREDIT = "debit", "credit"
SIDE_DEBT, SIDE_OVERPAYMENT, SIDE_SETTLED = "debt", "overpayment", "settled"


@dataclass(frozen=True)
class ActRow:
    """One operation: an invoice (debit) or a payment (credit)."""

    day: date
    side: str
    kind: str                 # a DocumentType value, or "payment"
    number: str | None
    amount: Decimal
    document_id: int | None = None
    file_key: str | None = None

    @property
    def debit(self) -> Decimal | None:
        return self.amount if self.side == DEBIT else None

    @property
    def credit(self) -> Decimal | None:
        return self.amount if self.side == CREDIT else None


@dataclass(frozen=True)
class ReconciliationAct:
    contract: Contract
    start: date
    end: date
    opening: Decimal
    rows: list[ActRow]

    @property
    def debit_turnover(self) -> Decimal:
        return sum((row.amount for row in self.rows if row.side == DEBIT), ZERO)

    @property
    def credit_turnover(self) -> Decimal:
        return sum((row.amount for row in self.rows if row.side == CREDIT), ZERO)

    @property
    def closing(self) -> Decimal:
        """Positive: the customer owes; negative: overpayment (in the customer's favour)."""
        return self.opening + self.debit_turnover - self.credit_turnover

    @property
    def closing_side(self) -> str:
        return side_of(self.closing)

    @property
    def opening_side(self) -> str:
        return side_of(self.opening)


def side_of(balance: Decimal) -> str:
    if balance > 0:
        return SIDE_DEBT
    return SIDE_OVERPAYMENT if balance < 0 else SIDE_SETTLED


def reconciliation_act(contract: Contract, start: date, end: date) -> ReconciliationAct:
    """The act of `contract` from `start` to `end`, both included (three statements)."""
    since = contract.opening_balance_on
    opening = contract.opening_balance or ZERO
    invoice_conditions = [BillingDocument.contract_id == contract.id, BillingDocument.doc_type.in_(INVOICE_TYPES)]
    payment_conditions = [Payment.contract_id == contract.id, Payment.status == PaymentStatus.PAID.value]
    if since is not None:
        invoice_conditions.append(BillingDocument.doc_date >= since)
        payment_conditions.append(Payment.paid_on >= since)
    if since is None or start > since:
        charged, paid = db.session.execute(select(
            select(kopecks(BillingDocument.amount)).where(*invoice_conditions, BillingDocument.doc_date < start)
            .scalar_subquery(),
            select(kopecks(Payment.amount)).where(*payment_conditions, Payment.paid_on < start).scalar_subquery(),
        )).one()
        opening += rubles(charged) - rubles(paid)
    invoices = db.session.execute(
        select(BillingDocument.id, BillingDocument.doc_type, BillingDocument.number, BillingDocument.doc_date,
               BillingDocument.amount, BillingDocument.file_key)
        .where(*invoice_conditions, BillingDocument.doc_date >= start, BillingDocument.doc_date <= end)).all()
    payments = db.session.execute(
        select(Payment.id, Payment.number, Payment.paid_on, Payment.amount)
        .where(*payment_conditions, Payment.paid_on >= start, Payment.paid_on <= end)).all()
    rows = [ActRow(day=r.doc_date, side=DEBIT, kind=r.doc_type, number=r.number, amount=r.amount,
                   document_id=r.id, file_key=r.file_key) for r in invoices]
    rows += [ActRow(day=p.paid_on, side=CREDIT, kind="payment", number=p.number, amount=p.amount) for p in payments]
    rows.sort(key=lambda row: (row.day, row.side != DEBIT, row.document_id or 0, row.number or ""))
    return ReconciliationAct(contract=contract, start=start, end=end, opening=opening, rows=rows)


def current_quarter(today: date | None = None) -> tuple[date, date]:
    """The first and the last day of the quarter of `today` (the act's default period)."""
    today = today or clock.today()
    first_month = (today.month - 1) // 3 * 3 + 1
    start = date(today.year, first_month, 1)
    end_month = first_month + 2
    next_start = date(today.year + 1, 1, 1) if end_month == 12 else date(today.year, end_month + 1, 1)
    return start, date.fromordinal(next_start.toordinal() - 1)


def _title_formats() -> dict[str, str]:
    # translated once per call, filled per row (a long act has hundreds of rows)
    return {"payment": _("Payment received on %(day)s"),
            DocumentType.CORRECTIVE_INVOICE.value: _("Corrective invoice of %(day)s"),
            DocumentType.INVOICE.value: _("Invoice of %(day)s")}


def row_titles(rows: list[ActRow]) -> list[str]:
    """`Счёт-фактура от 24.05.2016` / `Поступление платежа от 25.05.2016` (the seed's wording), per row."""
    formats = _title_formats()
    return [formats.get(row.kind, formats[DocumentType.INVOICE.value]) % {"day": format_day(row.day)}
            for row in rows]


def row_title(row: ActRow) -> str:
    """The title of one row (see `row_titles`)."""
    return row_titles([row])[0]


def side_label(side: str) -> str:
    return {SIDE_DEBT: _("debt of the customer"), SIDE_OVERPAYMENT: _("in the customer's favour (overpayment)"),
            SIDE_SETTLED: _("no debt")}[side]


# --- files --------------------------------------------------------------------------------------

def act_filename(act: ReconciliationAct, suffix: str) -> str:
    return f"reconciliation-act-{act.contract.number}-{act.start:%Y%m%d}-{act.end:%Y%m%d}.{suffix}"


def render_act_html(act: ReconciliationAct) -> str:
    """The printable act (the same template the PDF is made of)."""
    return render_template("portal/print/reconciliation_act.html", act=act, titles=row_titles(act.rows),
                           side_label=side_label, generated_on=clock.today())


def act_pdf(act: ReconciliationAct) -> bytes:
    """The act as PDF (WeasyPrint), from its print template."""
    from weasyprint import HTML

    return HTML(string=render_act_html(act)).write_pdf()


def act_xlsx(act: ReconciliationAct) -> bytes:
    """The act as an xlsx workbook: money as numbers with a two-decimal format, dates as dates."""
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet(_("Reconciliation act")[:31])
    bold = book.add_format({"bold": True})
    title = book.add_format({"bold": True, "font_size": 13})
    money = book.add_format({"num_format": "#,##0.00"})
    money_bold = book.add_format({"num_format": "#,##0.00", "bold": True})
    day = book.add_format({"num_format": "dd.mm.yyyy"})
    head = book.add_format({"bold": True, "bg_color": "#E9ECEF", "border": 1})
    contract = act.contract
    sheet.write(0, 0, _("Reconciliation act"), title)
    sheet.write(1, 0, _("Contract No. %(number)s · %(counterparty)s", number=contract.number,
                        counterparty=contract.counterparty.short_name))
    sheet.write(2, 0, _("Period: %(start)s – %(end)s", start=format_day(act.start), end=format_day(act.end)))
    headers = [_("Date"), _("Operation"), _("Document No."), _("Debit"), _("Credit")]
    for col, text in enumerate(headers):
        sheet.write(4, col, text, head)
    row = 5
    sheet.write(row, 1, _("Balance on %(day)s", day=format_day(act.start)), bold)
    _write_balance(sheet, row, act.opening, money_bold)
    for item, item_title in zip(act.rows, row_titles(act.rows), strict=True):
        row += 1
        sheet.write_datetime(row, 0, _as_datetime(item.day), day)
        sheet.write(row, 1, item_title)
        sheet.write(row, 2, item.number or "")
        sheet.write_number(row, 3 if item.side == DEBIT else 4, float(item.amount), money)
    row += 1
    sheet.write(row, 1, _("Turnover"), bold)
    sheet.write_number(row, 3, float(act.debit_turnover), money_bold)
    sheet.write_number(row, 4, float(act.credit_turnover), money_bold)
    row += 1
    sheet.write(row, 1, _("Balance on %(day)s", day=format_day(act.end)), bold)
    _write_balance(sheet, row, act.closing, money_bold)
    sheet.write(row + 1, 1, side_label(act.closing_side))
    sheet.set_column(0, 0, 12)
    sheet.set_column(1, 1, 42)
    sheet.set_column(2, 2, 16)
    sheet.set_column(3, 4, 16)
    book.close()
    return buffer.getvalue()


def _write_balance(sheet, row: int, balance: Decimal, fmt) -> None:
    """A debit balance (the customer owes) in the debit column, an overpayment in the credit column."""
    sheet.write_number(row, 3 if balance >= 0 else 4, float(abs(balance)), fmt)


def _as_datetime(day: date):
    from datetime import datetime

    return datetime(day.year, day.month, day.day)
