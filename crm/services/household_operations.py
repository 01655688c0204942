"""The household's operations history [001 §9]: bills, meter readings and payments of one personal account for
a period, newest first, with the seed's quick periods ("half a year", "a year") or calendar dates.

A read helper: one statement per kind shown, whatever the number of rows; it never commits.
"""
from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from crm import clock
from crm.extensions import db
from crm.models import BillingDocument, Contract, EnergyObject, Meter, MeteringPoint, Payment, Reading, Register
from crm.services.households import HouseholdError

OPERATION_KINDS = ("bills", "readings", "payments")
#: billing documents that a household sees as bills
BILL_TYPES = ("bill", "invoice", "corrective_invoice")
MAX_OPERATION_DAYS = 366 * 5


@dataclass(frozen=True)
class OperationsFilter:
    date_from: date
    date_to: date
    kinds: tuple[str, ...] = OPERATION_KINDS


@dataclass(frozen=True)
class Operation:
    """One line of the history: a bill, a reading of one register, or a payment."""

    day: date
    kind: str                       # "bills" | "readings" | "payments"
    item: object                    # BillingDocument | Reading | Payment
    amount: Decimal | None = None   # bills and payments
    register: Register | None = None
    meter: Meter | None = None


class OperationsFilterError(HouseholdError):
    """Bad history filter input; `errors` per field (date_from, date_to, kinds)."""


def add_months(day: date, months: int) -> date:
    """The same day `months` later (earlier when negative), clamped to the month's last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def quick_period(months: int, today: date | None = None) -> tuple[date, date]:
    """The last `months` months up to today: "half a year" is 6, "a year" 12."""
    today = today or clock.today()
    return add_months(today, -months) + timedelta(days=1), today


def parse_operations_filter(args: Mapping[str, str], kinds: Iterable[str], today: date | None = None
                            ) -> OperationsFilter:
    """From a query string: `period` = half|year (a quick period) or the calendar `date_from`/`date_to`
    (ISO dates; blank = half a year), and the checked `kind`s (none checked = all). Raises
    `OperationsFilterError` with every problem."""
    today = today or clock.today()
    errors: dict[str, str] = {}
    quick = (args.get("period") or "").strip()
    default_from, default_to = quick_period(6, today)
    if quick in QUICK_MONTHS:
        date_from, date_to = quick_period(QUICK_MONTHS[quick], today)
    else:
        date_from = _parse_day(args.get("date_from"), "date_from", errors) or default_from
        date_to = _parse_day(args.get("date_to"), "date_to", errors) or default_to
        if not errors and date_from > date_to:
            errors["date_to"] = _("The end of the period is before its start: choose “To” no earlier than “From”.")
        elif not errors and (date_to - date_from).days > MAX_OPERATION_DAYS:
            errors["date_from"] = _("Choose a period of at most five years.")
    chosen = tuple(kind for kind in OPERATION_KINDS if kind in set(kinds))
    unknown = [kind for kind in kinds if kind not in OPERATION_KINDS]
    if unknown:
        errors["kinds"] = _("Choose bills, meter readings or payments.")
    if errors:
        raise OperationsFilterError(errors)
    return OperationsFilter(date_from, date_to, chosen or OPERATION_KINDS)


QUICK_MONTHS = {"half": 6, "year": 12}


def _parse_day(raw: str | None, name: str, errors: dict[str, str]) -> date | None:
    text = (raw or "").strip()
    if not text:
        return None
    try:
        value = date.fromisoformat(text)
    except ValueError:
        try:
            day, month, year = (int(part) for part in text.split("."))
            value = date(year, month, day)
        except ValueError:
            value = None
    if value is None or not (date(1990, 1, 1) <= value <= date(2100, 12, 31)):
        errors[name] = _("The date “%(value)s” is not recognised: choose it in the calendar.", value=text[:20])
        return None
    return value


def operations(contract: Contract, chosen: OperationsFilter) -> list[Operation]:
    """Bills, readings and payments of the account in the period, newest first (one statement per kind)."""
    found: list[Operation] = []
    if "bills" in chosen.kinds:
        for doc in db.session.scalars(
                select(BillingDocument).where(BillingDocument.contract_id == contract.id,
                                              BillingDocument.doc_type.in_(BILL_TYPES),
                                              BillingDocument.sale_kind == "main",
                                              BillingDocument.doc_date.between(chosen.date_from, chosen.date_to))):
            found.append(Operation(doc.doc_date, "bills", doc, amount=doc.amount))
    if "payments" in chosen.kinds:
        for payment in db.session.scalars(
                select(Payment).where(Payment.contract_id == contract.id,
                                      Payment.paid_on.between(chosen.date_from, chosen.date_to))):
            found.append(Operation(payment.paid_on, "payments", payment, amount=payment.amount))
    if "readings" in chosen.kinds:
        tz = _display_tz()
        start = datetime.combine(chosen.date_from, time.min, tzinfo=tz)
        end = datetime.combine(chosen.date_to + timedelta(days=1), time.min, tzinfo=tz)
        rows = db.session.execute(
            select(Reading, Register, Meter).join(Register, Reading.register_id == Register.id)
            .join(Meter, Register.meter_id == Meter.id)
            .join(MeteringPoint, Meter.metering_point_id == MeteringPoint.id)
            .join(EnergyObject, MeteringPoint.energy_object_id == EnergyObject.id)
            .where(EnergyObject.contract_id == contract.id, Reading.submitted_at >= start,
                   Reading.submitted_at < end))
        for reading, register, meter in rows:
            found.append(Operation(reading.submitted_at.astimezone(tz).date(), "readings", reading,
                                   register=register, meter=meter))
    order = {kind: n for n, kind in enumerate(OPERATION_KINDS)}
    found.sort(key=lambda op: (op.day, -order[op.kind], getattr(op.item, "id", 0)), reverse=True)
    return found


def _display_tz() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Europe/Moscow"))
