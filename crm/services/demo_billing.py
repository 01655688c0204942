"""Pure generators for the demo's numbers: meter series, hourly profiles, bills, invoices, payments.

Nothing here touches the database: the functions return plain rows that crm/services/demo.py
inserts in bulk. All money and quantities are Decimal; randomness comes from the caller's
seeded `random.Random`, so a demo built on the same day is the same demo.
"""
from __future__ import annotations

import calendar
import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from crm.services.demo_data import MONTHS_NOMINATIVE

CENT = Decimal("0.01")
Q4 = Decimal("0.0001")
VAT_RATE = Decimal("0.20")
HEAT_SEASON = (1.0, 0.9, 0.74, 0.46, 0.13, 0.06, 0.05, 0.05, 0.1, 0.44, 0.74, 0.94)


def money(value) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def add_months(day: date, months: int) -> date:
    """The first day of the month `months` after the month of `day`."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_end(first: date) -> date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def on_day(first: date, day: int) -> date:
    """`day` of the month of `first`, clamped to the month's length."""
    return first.replace(day=min(day, calendar.monthrange(first.year, first.month)[1]))


def period_text(first: date) -> str:
    return f"{MONTHS_NOMINATIVE[first.month - 1]} {first.year} г."


def season_factor(kind: str, month: int, household: bool = False) -> float:
    if kind == "heat":
        return HEAT_SEASON[month - 1]
    swing = 0.25 if household else 0.18
    return 1 + swing * math.cos(2 * math.pi * (month - 1) / 12)


@dataclass
class RegisterPlan:
    """One register's series: raw meter values, then consumption = Δ × ratio × (1 + losses/100)."""

    zone: str
    direction: str
    share: float              # of the metering point's energy (zones split it; A− is a small extra)
    ratio: Decimal
    losses: Decimal
    fraction_digits: int
    start: Decimal
    register: object = None   # the Register row, once flushed
    rows: list = field(default_factory=list)  # (period, previous, value, consumption)

    @property
    def multiplier(self) -> Decimal:
        return self.ratio * (1 + self.losses / 100)

    def consumption(self, previous: Decimal, value: Decimal) -> Decimal:
        return ((value - previous) * self.multiplier).quantize(Q4, rounding=ROUND_HALF_UP)

    def extend(self, periods: list[date], energies: list[float]) -> None:
        """Append readings for `periods`, each adding about `energy` units of consumption."""
        step = Decimal(1).scaleb(-self.fraction_digits)
        previous = self.rows[-1][2] if self.rows else self.start
        for period, energy in zip(periods, energies, strict=True):
            raw = Decimal(str(energy * self.share)) / self.multiplier
            value = previous + raw.quantize(step, rounding=ROUND_HALF_UP)
            self.rows.append((period, previous, value, self.consumption(previous, value)))
            previous = value


def monthly_energy(rng: random.Random, base: float, kind: str, periods: list[date], household=False) -> list[float]:
    """Energy per period: the base at the seasonal peak, shaped by the season, with ±8 % noise."""
    return [base * season_factor(kind, p.month, household) * rng.uniform(0.92, 1.08) for p in periods]


def required_digits(start_hint: float, total: float) -> int:
    return len(str(int(start_hint + total)))


_HOURS = [0.45] * 6 + [0.6, 0.85] + [1.35] * 10 + [0.95] * 3 + [0.6] * 3


def hourly_profile(rng: random.Random, month: date, target: Decimal) -> tuple[dict, Decimal]:
    """An hourly A+ profile for `month` summing close to `target`: {"2026-10-01": [24 strings]}."""
    days = calendar.monthrange(month.year, month.month)[1]
    weights: list[list[float]] = []
    for d in range(days):
        weekend = date(month.year, month.month, d + 1).weekday() >= 5
        weights.append([h * (0.55 if weekend else 1.0) * rng.uniform(0.9, 1.1) for h in _HOURS])
    scale = float(target) / sum(sum(day) for day in weights)
    values: dict[str, list[str]] = {}
    total = Decimal(0)
    for d, day in enumerate(weights):
        row = [Decimal(str(w * scale)).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP) for w in day]
        total += sum(row)
        values[date(month.year, month.month, d + 1).isoformat()] = [str(v) for v in row]
    return values, total


@dataclass
class Doc:
    doc_type: str
    number: str
    doc_date: date
    period: date | None
    sale_kind: str
    amount: Decimal
    due_date: date | None = None
    paid: Decimal = Decimal(0)
    payable: bool = True
    what: str = ""            # words for the payment purpose

    @property
    def is_charge(self) -> bool:
        """Invoices (and a household's monthly bill) charge; advance bills only anticipate an invoice."""
        return self.doc_type in ("invoice", "corrective_invoice") or (self.doc_type == "bill"
                                                                      and self.sale_kind == "main")

    @property
    def amount_due(self) -> Decimal:
        return max(Decimal(0), self.amount - self.paid) if self.payable else Decimal(0)


@dataclass
class Pay:
    doc_index: int | None
    paid_on: date
    amount: Decimal
    purpose: str


@dataclass
class ContractBilling:
    """Everything billed and paid on one contract during the demo's two years."""

    docs: list[Doc] = field(default_factory=list)
    payments: list[Pay] = field(default_factory=list)

    def balance_on(self, day: date) -> Decimal:
        charged = sum((d.amount for d in self.docs if d.is_charge and d.doc_date <= day), Decimal(0))
        paid = sum((p.amount for p in self.payments if p.paid_on <= day), Decimal(0))
        return charged - paid


class Numbering:
    """Document numbers in the billing system's style: `702222832/57`, `1154/57`, `АС-57/0012`."""

    def __init__(self, rng: random.Random, branch: str):
        self.branch = branch
        self.invoice = rng.randint(702_100_000, 702_900_000)
        self.bill = rng.randint(300, 1500)
        self.other = rng.randint(10, 90)

    def next_invoice(self) -> str:
        self.invoice += 1 + self.invoice % 7
        return f"{self.invoice}/{self.branch}"

    def next_bill(self) -> str:
        self.bill += 1 + self.bill % 5
        return f"{self.bill}/{self.branch}"

    def next_other(self, prefix: str) -> str:
        self.other += 1
        return f"{prefix}-{self.branch}/{self.other:04d}"


def build_billing(rng: random.Random, *, spec: dict, terms: list[tuple[str, int, int, Decimal | None]],
                  amounts: dict[date, Decimal], periods: list[date], today: date, contract_number: str,
                  signed_on: date, account: str | None) -> ContractBilling:
    """Bills, invoices, acts and payments for one contract.

    `amounts` holds the charge of every invoiced month; `periods` runs from the first demo month to
    the current one. Older documents are paid (a few days before they are due); a debtor leaves its
    last invoice partly or wholly unpaid and skips the current month's bills, so there is a debt.
    """
    household = bool(spec.get("household"))
    debtor = spec.get("debtor", False)
    heat = spec["kind"] == "heat"
    numbering = Numbering(rng, spec["branch"])
    billing = ContractBilling()
    current = periods[-1]
    last_invoiced = max(amounts)
    subject = "тепловую энергию" if heat else "электроэнергию"
    header = f"Оплата за {subject} по договору № {contract_number} от {signed_on:%d.%m.%Y}"

    def pay(index: int, amount: Decimal, on: date, what: str) -> None:
        doc = billing.docs[index]
        on = min(max(on, doc.doc_date), today - timedelta(days=1))
        vat = money(amount * VAT_RATE / (1 + VAT_RATE))
        if household:
            purpose = f"Оплата электроэнергии, лицевой счёт {account}, {what}. Сумма {amount} руб."
        else:
            purpose = (f"{header}, {what} по счёту № {doc.number} от {doc.doc_date:%d.%m.%Y}. "
                       f"Сумма {str(amount).replace('.', '-')} в т.ч. НДС (20%) {str(vat).replace('.', '-')}")
        billing.payments.append(Pay(index, on, amount, purpose))
        doc.paid += amount

    advances = [(day, pct) for kind, day, _offset, pct in terms if kind == "advance"]
    final = next(((day, offset) for kind, day, offset, _pct in terms if kind == "final"), (18, 1))
    for period in periods:
        month_docs: list[int] = []
        planned = amounts.get(period) or amounts.get(add_months(period, -12)) or amounts[last_invoiced]
        planned = planned * Decimal(str(rng.uniform(0.95, 1.05)))
        for n, (day, pct) in enumerate(advances, start=1):
            due = on_day(period, day)
            billing.docs.append(Doc("bill", numbering.next_bill(), max(due - timedelta(days=9), period), period,
                                    "advance", money(planned * pct / 100), due,
                                    what=f"промежуточный платёж {n} ({pct:.0f} %) за {period_text(period)}"))
            month_docs.append(len(billing.docs) - 1)
        skip_current = debtor and period == current
        for index in month_docs:
            doc = billing.docs[index]
            if doc.due_date < today and not skip_current:
                pay(index, doc.amount, doc.due_date - timedelta(days=rng.randint(0, 5)), doc.what)
        if period not in amounts:
            continue
        amount = amounts[period]
        due = on_day(add_months(period, final[1]), final[0])
        if household:
            billing.docs.append(Doc("bill", numbering.next_bill(), add_months(period, 1) + timedelta(days=1),
                                    period, "main", amount, due, what=f"период {period_text(period)}"))
        else:
            billing.docs.append(Doc("invoice", numbering.next_invoice(), month_end(period), period, "main",
                                    amount, due, what=f"окончательный расчёт за {period_text(period)}"))
        index = len(billing.docs) - 1
        advanced = sum((billing.docs[i].paid for i in month_docs), Decimal(0))
        billing.docs[index].paid = min(advanced, amount)
        rest = amount - billing.docs[index].paid
        if rest > 0 and due < today:
            if debtor and period == last_invoiced:
                rest = money(rest / 2) if not household and spec["key"] == "shared" else Decimal(0)
            if rest > 0:
                pay(index, rest, due - timedelta(days=rng.randint(0, 6)), billing.docs[index].what)
        if not household:
            billing.docs.append(Doc("acceptance_act", numbering.next_other("АПП"), month_end(period), period,
                                    "main", amount, payable=False))
            if spec.get("price_category") in ("III", "IV", "V", "VI"):
                billing.docs.append(Doc("acceptance_statement", numbering.next_other("ВПП"), month_end(period),
                                        period, "main", amount, payable=False))
    _extras(rng, billing, numbering, spec, amounts, current, today, pay)
    if not household:
        _reconciliation_acts(billing, numbering, periods, last_invoiced, today)
    return billing


def _extras(rng, billing: ContractBilling, numbering: Numbering, spec: dict, amounts: dict[date, Decimal],
            current: date, today: date, pay) -> None:
    """The occasional corrective invoice (after a recalculation) and a penalty claim, if the spec has them."""
    if spec.get("corrective"):
        months_back, share = spec["corrective"]
        period = add_months(current, -months_back)
        amount = money(amounts[period] * Decimal(share))
        issued = on_day(add_months(period, 2), 15)
        billing.docs.append(Doc("corrective_invoice", numbering.next_invoice(), issued, period, "main", amount,
                                issued + timedelta(days=10), what=f"корректировка за {period_text(period)}"))
        if amount > 0:
            pay(len(billing.docs) - 1, amount, issued + timedelta(days=rng.randint(3, 9)), billing.docs[-1].what)
    if spec.get("penalty"):
        issued = on_day(add_months(current, -1), 12)
        billing.docs.append(Doc("penalty_claim", numbering.next_other("ПР"), issued, add_months(current, -2),
                                "penalty", Decimal(spec["penalty"]), issued + timedelta(days=30),
                                what="пени за просрочку оплаты"))


def _reconciliation_acts(billing: ContractBilling, numbering: Numbering, periods: list[date],
                         last_invoiced: date, today: date) -> None:
    """Quarterly reconciliation acts: the closing balance of each finished quarter."""
    for period in periods:
        if period.month % 3 or period > last_invoiced:
            continue
        quarter_end = month_end(period)
        issued = quarter_end + timedelta(days=10)
        if issued > today:
            continue
        billing.docs.append(Doc("reconciliation_act", numbering.next_other("АС"), issued,
                                add_months(period, -2), "main", money(billing.balance_on(quarter_end)),
                                payable=False))

