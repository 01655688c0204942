"""Payments of a contract (SPEC C11): the payment history with its filter and totals.

The history is read in two statements whatever the number of payments: the rows (newest first,
at most `MAX_ROWS`) and one aggregate per status, so the totals stay exact even when the list is
cut. Sums are added up in kopecks as integers, so SQLite (which keeps NUMERIC as a float) gives
the same exact Decimal as PostgreSQL. Read helpers never commit.

The filter arrives as text from a query string: `parse_history_filter` collects every problem
(per field, localised) and raises one `PaymentFilterError`; the caller then shows the default
filter, the current month with every status [004 §7.2].
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import BigInteger, cast, func, select

from crm import clock
from crm.extensions import db
from crm.models.billing import Payment, PaymentStatus
from crm.services import ServiceError
from crm.services.date_ranges import parse_date_range

#: "all" in the status filter
ALL_STATUSES = "all"
#: statuses in the order the filter offers them
STATUSES: tuple[str, ...] = (PaymentStatus.PAID.value, PaymentStatus.PENDING.value,
                             PaymentStatus.FAILED.value, PaymentStatus.REFUNDED.value)
#: the name of each payment status (the seed shows a pending payment as "В процессе")
STATUS_LABELS = {
    "paid": _l("Paid"),
    "pending": _l("In progress"),
    "failed": _l("Failed"),
    "refunded": _l("Refunded"),
}


def status_label(status: str) -> str:
    """The Russian (or English) name of a payment status; an unknown one as it is."""
    text = STATUS_LABELS.get(status)
    return str(text) if text is not None else status


#: rows shown at most; the totals always cover the whole period
MAX_ROWS = 1000

@dataclass(frozen=True)
class HistoryFilter:
    """What the payment history shows: a closed date range and a status (None = every status)."""

    date_from: date
    date_to: date
    status: str | None = None


@dataclass(frozen=True)
class StatusTotal:
    status: str
    count: int
    total: Decimal


@dataclass(frozen=True)
class PaymentHistory:
    """The payments shown (newest first), how many match and their exact total."""

    rows: list[Payment]
    total: Decimal
    count: int
    by_status: list[StatusTotal] = field(default_factory=list)

    @property
    def truncated(self) -> bool:
        """True when more payments match than the list shows."""
        return self.count > len(self.rows)


class PaymentFilterError(ServiceError):
    """Bad filter input; `errors` maps each field (date_from, date_to, status) to its message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(" ".join(errors.values()), field=next(iter(errors)), status=400)
        self.errors = errors


def current_month(today: date | None = None) -> tuple[date, date]:
    """The first and last day of the month of `today` (the clock's today by default)."""
    today = today or clock.today()
    last = calendar.monthrange(today.year, today.month)[1]
    return today.replace(day=1), today.replace(day=last)


def default_filter(today: date | None = None) -> HistoryFilter:
    """The current month, every status [004 §7.2: "the current billing period (month) by default"]."""
    first, last = current_month(today)
    return HistoryFilter(first, last, None)


def parse_history_filter(raw_from: str | None, raw_to: str | None, raw_status: str | None,
                         today: date | None = None) -> HistoryFilter:
    """The filter from query-string text; an empty field takes its default (the current month, all
    statuses). Every problem is collected and raised at once as `PaymentFilterError`."""
    default = default_filter(today)
    errors: dict[str, str] = {}
    date_from, date_to = parse_date_range(raw_from, raw_to, default.date_from, default.date_to, errors)
    status = (raw_status or "").strip() or ALL_STATUSES
    if status != ALL_STATUSES and status not in STATUSES:
        errors["status"] = _("Choose a payment status from the list.")
    if errors:
        raise PaymentFilterError(errors)
    return HistoryFilter(date_from, date_to, None if status == ALL_STATUSES else status)


def _kopecks_to_rubles(value) -> Decimal:
    return Decimal(int(value or 0)).scaleb(-2)


def payment_history(contract_id: int, date_from: date, date_to: date, status: str | None = None) -> PaymentHistory:
    """Payments of the contract made from `date_from` to `date_to` inclusive, optionally of one status,
    with their count and exact total (two statements)."""
    conditions = [Payment.contract_id == contract_id, Payment.paid_on >= date_from, Payment.paid_on <= date_to]
    if status is not None:
        conditions.append(Payment.status == status)
    rows = list(db.session.scalars(
        select(Payment).where(*conditions).order_by(Payment.paid_on.desc(), Payment.id.desc()).limit(MAX_ROWS)))
    kopecks = func.sum(cast(func.round(Payment.amount * 100), BigInteger))
    aggregates = db.session.execute(
        select(Payment.status, func.count(Payment.id), kopecks).where(*conditions).group_by(Payment.status)).all()
    by_status = {row_status: StatusTotal(row_status, count, _kopecks_to_rubles(total))
                 for row_status, count, total in aggregates}
    ordered = [by_status[s] for s in STATUSES if s in by_status]
    ordered += [value for key, value in sorted(by_status.items()) if key not in STATUSES]
    return PaymentHistory(rows=rows, total=sum((item.total for item in ordered), Decimal("0.00")),
                          count=sum(item.count for item in ordered), by_status=ordered)
