"""Settlements of a contract (SPEC C9): debt on any day, recommended payment, penalties, receivables,
payment terms, tariffs and the current-consumption bills of a period [003 §4.2, 002, 000 §3.8].

The debt rule of seed 003 §4.2, for a day `t`:

    debt(t) = opening balance
              + for each billing month: its final invoice(s) if due before t,
                                        otherwise its current-consumption bills due before t
              + corrective invoices due before t
              − payments received up to and including t

"Due before t" means the payment deadline has passed: the seed counts the first February bill
(due on the 10th) from 11.02 and the January invoice (due on 18.02) from 19.02. A document that
carries no due date gets one from the contract's payment terms: a bill is due on the first
advance term on or after its date (bills of the 1st and the 16th → the 10th and the 25th), an
invoice on the final term of its month (the 18th of the next month). A positive debt is owed by
the customer, a negative one is an overpayment.

The recommended payment counts what has been billed (issued) by `t` instead of what is due, so a
customer can pay the current bills before their deadline; it is never negative.

Penalty claims (and documents of the penalty sale kind) stay out of the debt and are shown
separately, as seed 002 does ("включая пени 0,00 руб." next to the debt).

Every function here is a read helper: it never commits. Money is `Decimal` end to end: rows are
read one by one (SQLAlchemy gives each a two-place Decimal on every backend) and sums over many
rows are taken in integer kopecks, because SQLite keeps NUMERIC as a float.
"""
from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import BigInteger, cast, func, or_, select

from crm.extensions import db
from crm.models.billing import BillingDocument, DocumentType, Payment, PaymentStatus, SaleKind
from crm.models.contract import Contract, PaymentTerm, PaymentTermKind, Tariff

ZERO = Decimal("0.00")

#: document types that make up the debt (seed 003 §4.2)
DEBT_TYPES = (DocumentType.INVOICE.value, DocumentType.CORRECTIVE_INVOICE.value, DocumentType.BILL.value)
#: document types of the reconciliation act's debit side (accounting documents; bills are not)
INVOICE_TYPES = (DocumentType.INVOICE.value, DocumentType.CORRECTIVE_INVOICE.value)
#: the receivables list: what a customer can still pay
PAYABLE_TYPES = DEBT_TYPES + (DocumentType.PENALTY_CLAIM.value,)


@dataclass(frozen=True)
class Term:
    """One payment term: due on `day` of the billing month + `month_offset`."""

    kind: str
    day: int
    month_offset: int = 0
    percent: Decimal | None = None


#: seed 003's terms, used when a contract has none: bills by the 10th and the 25th, the invoice by
#: the 18th of the next month
DEFAULT_TERMS = (Term(PaymentTermKind.ADVANCE.value, 10), Term(PaymentTermKind.ADVANCE.value, 25),
                 Term(PaymentTermKind.FINAL.value, 18, 1))


@dataclass(frozen=True)
class Doc:
    """What the settlement rules need of a billing document (due date already resolved)."""

    id: int
    doc_type: str
    number: str
    doc_date: date
    period: date
    sale_kind: str
    amount: Decimal
    amount_due: Decimal
    due_date: date
    file_key: str | None = None

    @property
    def is_penalty(self) -> bool:
        return self.doc_type == DocumentType.PENALTY_CLAIM.value or self.sale_kind == SaleKind.PENALTY.value


@dataclass(frozen=True)
class Debt:
    """The debt on `day` and how it was made up (the documents counted, the payments received)."""

    day: date
    opening_balance: Decimal
    opening_balance_on: date | None
    documents: list[Doc]
    paid: Decimal
    payments_count: int
    recommended: Decimal
    penalties: Decimal

    @property
    def charged(self) -> Decimal:
        return sum((doc.amount for doc in self.documents), ZERO)

    @property
    def amount(self) -> Decimal:
        """Positive: the customer owes; negative: overpayment."""
        return self.opening_balance + self.charged - self.paid

    @property
    def document_ids(self) -> list[int]:
        return [doc.id for doc in self.documents]


@dataclass(frozen=True)
class TariffView:
    current: Tariff | None
    history: list[Tariff] = field(default_factory=list)


# --- dates and terms --------------------------------------------------------------------------

def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(period: date, months: int) -> date:
    index = period.year * 12 + period.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def term_date(period: date, term: Term) -> date:
    """The deadline of `term` for the billing month `period` (the 31st becomes the month's last day)."""
    month = add_months(month_start(period), term.month_offset)
    return month.replace(day=min(term.day, calendar.monthrange(month.year, month.month)[1]))


def contract_terms(contract_id: int) -> list[Term]:
    """The contract's payment terms (one statement), or seed 003's when it has none."""
    rows = db.session.scalars(select(PaymentTerm).where(PaymentTerm.contract_id == contract_id)
                              .order_by(PaymentTerm.month_offset, PaymentTerm.day_of_month)).all()
    return terms_of(rows)


def terms_of(rows) -> list[Term]:
    terms = [Term(row.kind, row.day_of_month, row.month_offset, row.percent) for row in rows]
    return terms or list(DEFAULT_TERMS)


_ADVANCE, _FINAL, _BILL = PaymentTermKind.ADVANCE.value, PaymentTermKind.FINAL.value, DocumentType.BILL.value


def _period_deadlines(period: date, terms: list[Term]) -> tuple[list[date], date]:
    """The month's bill deadlines (in order) and its invoice deadline."""
    advance = [t for t in terms if t.kind == _ADVANCE]
    final = [t for t in terms if t.kind == _FINAL] or [DEFAULT_TERMS[-1]]
    bills = sorted(term_date(period, t) for t in advance) or [term_date(period, final[0])]
    return bills, term_date(period, final[-1])


def due_date_for(doc_type: str, doc_date: date, period: date | None, terms: list[Term],
                 stored: date | None = None, cache: dict | None = None) -> date:
    """The payment deadline of a document: its own when it carries one, otherwise by the terms: a bill on
    the first advance deadline on or after its date, an invoice on the final deadline (not before its date).
    `cache` keeps each month's deadlines for the next document of the same month."""
    if stored is not None:
        return stored
    if doc_type != _BILL and doc_type not in INVOICE_TYPES:
        return doc_date
    period = (period or doc_date).replace(day=1)
    deadlines = cache.get(period) if cache is not None else None
    if deadlines is None:
        deadlines = _period_deadlines(period, terms)
        if cache is not None:
            cache[period] = deadlines
    bills, final = deadlines
    if doc_type == _BILL:
        return next((day for day in bills if day >= doc_date), doc_date)
    return max(final, doc_date)


def describe_term(term: Term) -> str:
    """A payment term in words, as seed 002's "Условия оплаты по договору" lists them."""
    if term.month_offset == 0:
        when = _("by the %(day)s of the billing month", day=term.day)
    elif term.month_offset == 1:
        when = _("by the %(day)s of the month after the billing month", day=term.day)
    else:
        when = _("by the %(day)s of the %(months)s-th month after the billing month", day=term.day,
                 months=term.month_offset)
    if term.kind == PaymentTermKind.FINAL.value:
        return _("%(when)s: final payment under the invoice for the month", when=when)
    if term.percent is not None:
        percent = format(term.percent.normalize(), "f")
        return _("%(when)s: advance payment, %(percent)s %% of the contract volume", when=when, percent=percent)
    return _("%(when)s: advance payment under the current-consumption bill", when=when)


# --- reading documents ------------------------------------------------------------------------

def _doc(row, terms: list[Term], cache: dict | None = None) -> Doc:
    """A `Doc` of a row; `cache` keeps the deadlines of the months already seen."""
    return Doc(id=row.id, doc_type=row.doc_type, number=row.number, doc_date=row.doc_date,
               period=(row.period or row.doc_date).replace(day=1), sale_kind=row.sale_kind,
               amount=row.amount, amount_due=row.amount_due,
               due_date=due_date_for(row.doc_type, row.doc_date, row.period, terms, row.due_date, cache),
               file_key=row.file_key)


def _docs(rows, terms: list[Term]) -> list[Doc]:
    cache: dict = {}
    return [_doc(row, terms, cache) for row in rows]


_DOC_COLUMNS = (BillingDocument.id, BillingDocument.doc_type, BillingDocument.number, BillingDocument.doc_date,
                BillingDocument.period, BillingDocument.sale_kind, BillingDocument.amount, BillingDocument.amount_due,
                BillingDocument.due_date, BillingDocument.file_key)


def settlement_documents(contract: Contract, until: date, terms: list[Term]) -> list[Doc]:
    """Invoices, bills and penalty claims issued from the opening-balance date up to `until` (one statement)."""
    conditions = [BillingDocument.contract_id == contract.id, BillingDocument.doc_date <= until,
                  BillingDocument.doc_type.in_(PAYABLE_TYPES)]
    if contract.opening_balance_on is not None:
        conditions.append(BillingDocument.doc_date >= contract.opening_balance_on)
    rows = db.session.execute(select(*_DOC_COLUMNS).where(*conditions)
                              .order_by(BillingDocument.doc_date, BillingDocument.id)).all()
    return _docs(rows, terms)


def kopecks(column):
    """An SQL sum of a money column in integer kopecks (exact on SQLite's float NUMERIC too)."""
    return func.coalesce(func.sum(cast(func.round(column * 100), BigInteger)), 0)


def rubles(value) -> Decimal:
    return Decimal(int(value or 0)).scaleb(-2)


def payments_total(contract: Contract, start: date | None, end: date) -> tuple[Decimal, int]:
    """Paid payments received from `start` (None: from the beginning) to `end` inclusive (one statement)."""
    conditions = [Payment.contract_id == contract.id, Payment.status == PaymentStatus.PAID.value,
                  Payment.paid_on <= end]
    if start is not None:
        conditions.append(Payment.paid_on >= start)
    total, count = db.session.execute(select(kopecks(Payment.amount), func.count(Payment.id))
                                      .where(*conditions)).one()
    return rubles(total), int(count or 0)


# --- the rule -----------------------------------------------------------------------------------

def counted_documents(documents: list[Doc], day: date, *, issued: bool = False) -> list[Doc]:
    """The documents seed 003 §4.2 counts on `day`: per month its final invoice once due, otherwise its
    bills once due; corrective invoices once due. With `issued`, "issued by `day`" replaces "due"."""
    def reached(doc: Doc) -> bool:
        return doc.doc_date <= day if issued else doc.due_date < day

    by_period: dict[date, list[Doc]] = defaultdict(list)
    for doc in documents:
        if doc.doc_type in DEBT_TYPES and not doc.is_penalty and doc.doc_date <= day:
            by_period[doc.period].append(doc)
    counted: list[Doc] = []
    for period in sorted(by_period):
        docs = by_period[period]
        final = any(doc.doc_type == DocumentType.INVOICE.value and reached(doc) for doc in docs)
        for doc in docs:
            if not reached(doc):
                continue
            if doc.doc_type == DocumentType.CORRECTIVE_INVOICE.value:
                counted.append(doc)
            elif (doc.doc_type == DocumentType.INVOICE.value) == final:
                counted.append(doc)
    return sorted(counted, key=lambda doc: (doc.doc_date, doc.id))


def debt_from(contract: Contract, documents: list[Doc], paid: Decimal, payments_count: int, day: date) -> Debt:
    """The debt on `day` from already-read documents and payments (no SQL)."""
    opening = contract.opening_balance or ZERO
    counted = counted_documents(documents, day)
    billed = counted_documents(documents, day, issued=True)
    billed_total = opening + sum((doc.amount for doc in billed), ZERO) - paid
    penalties = sum((doc.amount_due for doc in documents if doc.is_penalty and doc.doc_date <= day), ZERO)
    return Debt(day=day, opening_balance=opening, opening_balance_on=contract.opening_balance_on,
                documents=counted, paid=paid, payments_count=payments_count,
                recommended=max(billed_total, ZERO), penalties=penalties)


def debt_on(contract: Contract, day: date, terms: list[Term] | None = None) -> Debt:
    """The debt (or overpayment) of the contract on `day` by seed 003 §4.2 (three statements at most)."""
    terms = terms if terms is not None else contract_terms(contract.id)
    documents = settlement_documents(contract, day, terms)
    paid, count = payments_total(contract, contract.opening_balance_on, day)
    return debt_from(contract, documents, paid, count, day)


# --- receivables, bills, tariffs -------------------------------------------------------------

def receivables(contract: Contract, terms: list[Term] | None = None) -> list[Doc]:
    """Unpaid documents (amount due ≠ 0) with their due dates, oldest deadline first (one statement);
    an empty list is seed 000's "no debt"."""
    terms = terms if terms is not None else contract_terms(contract.id)
    rows = db.session.execute(select(*_DOC_COLUMNS).where(
        BillingDocument.contract_id == contract.id, BillingDocument.doc_type.in_(PAYABLE_TYPES),
        BillingDocument.amount_due != 0).order_by(BillingDocument.doc_date, BillingDocument.id)).all()
    docs = _docs(rows, terms)
    return sorted(docs, key=lambda doc: (doc.due_date, doc.doc_date, doc.id))


def current_bills(contract: Contract, start: date, end: date, terms: list[Term] | None = None) -> list[Doc]:
    """Current-consumption bills dated from `start` to `end` inclusive (one statement) [003 fig. 8]."""
    terms = terms if terms is not None else contract_terms(contract.id)
    rows = db.session.execute(select(*_DOC_COLUMNS).where(
        BillingDocument.contract_id == contract.id, BillingDocument.doc_type == DocumentType.BILL.value,
        BillingDocument.doc_date >= start, BillingDocument.doc_date <= end)
        .order_by(BillingDocument.doc_date, BillingDocument.id)).all()
    return _docs(rows, terms)


def tariffs(contract: Contract) -> TariffView:
    """The contract's current tariff and every rate of its tariff group, newest first (one statement, none
    without a tariff)."""
    if contract.tariff_id is None:
        return TariffView(None, [])
    group = select(Tariff.group_code).where(Tariff.id == contract.tariff_id).scalar_subquery()
    history = list(db.session.scalars(select(Tariff).where(or_(Tariff.group_code == group,
                                                               Tariff.id == contract.tariff_id))
                                      .order_by(Tariff.valid_from.desc(), Tariff.zone)))
    current = next((tariff for tariff in history if tariff.id == contract.tariff_id), None)
    return TariffView(current, history if current else [])


def unpaid_total(documents: list[Doc]) -> Decimal:
    return sum((doc.amount_due for doc in documents), ZERO)


@dataclass(frozen=True)
class MonthlyTotals:
    """Invoices (by billing month) and payments (by month received) for a chart [004 §4.6]."""

    periods: list[date]
    invoiced: list[Decimal]
    paid: list[Decimal]


def monthly_totals(contract: Contract, first: date, until: date) -> MonthlyTotals:
    """Invoiced (by billing month) and paid per month from the month of `first` to the month of `until`,
    counting what was issued or received by `until` (two statements)."""
    first, last = month_start(first), month_start(until)
    periods = []
    period = first
    while period <= last:
        periods.append(period)
        period = add_months(period, 1)
    end = add_months(last, 1)
    invoiced = dict.fromkeys(periods, ZERO)
    paid = dict.fromkeys(periods, ZERO)
    month = func.coalesce(BillingDocument.period, BillingDocument.doc_date)
    for row in db.session.execute(select(month.label("month"), BillingDocument.amount).where(
            BillingDocument.contract_id == contract.id, BillingDocument.doc_type.in_(INVOICE_TYPES),
            month >= first, month < end, BillingDocument.doc_date <= until)):
        key = month_start(_as_date(row.month))
        if key in invoiced:
            invoiced[key] += row.amount
    for row in db.session.execute(select(Payment.paid_on, Payment.amount).where(
            Payment.contract_id == contract.id, Payment.status == PaymentStatus.PAID.value,
            Payment.paid_on >= first, Payment.paid_on <= until)):
        paid[month_start(row.paid_on)] += row.amount
    return MonthlyTotals(periods, [invoiced[p] for p in periods], [paid[p] for p in periods])


def _as_date(value) -> date:
    """SQLite hands back COALESCE of two dates as text."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


@dataclass(frozen=True)
class Overview:
    """Everything the settlements page shows about money, read in four statements."""

    debt: Debt
    receivables: list[Doc]
    bills: list[Doc]
    totals: MonthlyTotals
    terms: list[Term]


def overview(contract: Contract, day: date, bills_from: date, chart_from: date) -> Overview:
    """The debt on `day`, the unpaid documents, the bills from `bills_from` to `day` and invoices and payments
    by month from the month of `chart_from` to the month of `day`: the same rules as `debt_on`, `receivables`,
    `current_bills` and `monthly_totals`, with one read of the documents and two of the payments."""
    terms = contract_terms(contract.id)
    since = contract.opening_balance_on
    chart_first, last = month_start(chart_from), month_start(day)
    lower = min(since, bills_from, chart_first) if since else None
    in_range = BillingDocument.doc_date <= day
    if lower is not None:
        in_range = in_range & (BillingDocument.doc_date >= lower)
    rows = db.session.execute(select(*_DOC_COLUMNS).where(
        BillingDocument.contract_id == contract.id, BillingDocument.doc_type.in_(PAYABLE_TYPES),
        or_(in_range, BillingDocument.amount_due != 0)).order_by(BillingDocument.doc_date, BillingDocument.id)).all()
    docs = _docs(rows, terms)
    issued = [doc for doc in docs if doc.doc_date <= day and (lower is None or doc.doc_date >= lower)]
    counted = [doc for doc in issued if since is None or doc.doc_date >= since]
    # payments: the sum before the chart's first month, the rows from it on
    conditions = [Payment.contract_id == contract.id, Payment.status == PaymentStatus.PAID.value,
                  Payment.paid_on <= day]
    if since is not None:
        conditions.append(Payment.paid_on >= since)
    before, before_count = db.session.execute(select(kopecks(Payment.amount), func.count(Payment.id))
                                              .where(*conditions, Payment.paid_on < chart_first)).one()
    recent = db.session.execute(select(Payment.paid_on, Payment.amount)
                                .where(*conditions, Payment.paid_on >= chart_first)).all()
    paid = rubles(before) + sum((row.amount for row in recent), ZERO)
    debt = debt_from(contract, counted, paid, int(before_count or 0) + len(recent), day)
    receivable = sorted((doc for doc in docs if doc.amount_due != 0),
                        key=lambda doc: (doc.due_date, doc.doc_date, doc.id))
    bills = [doc for doc in issued if doc.doc_type == _BILL and doc.doc_date >= bills_from]
    periods = []
    period = chart_first
    while period <= last:
        periods.append(period)
        period = add_months(period, 1)
    invoiced, paid_by_month = dict.fromkeys(periods, ZERO), dict.fromkeys(periods, ZERO)
    for doc in issued:
        if doc.doc_type in INVOICE_TYPES and doc.period in invoiced:
            invoiced[doc.period] += doc.amount
    for row in recent:
        paid_by_month[month_start(row.paid_on)] += row.amount
    totals = MonthlyTotals(periods, [invoiced[p] for p in periods], [paid_by_month[p] for p in periods])
    return Overview(debt, receivable, bills, totals, terms)
