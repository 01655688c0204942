"""The household's printable receipt [001 §§7, 9.2–9.4]: filled (account, payer, address, period, readings,
amount, the utility's bank details, purpose) or blank (the same form with empty fields to fill by hand).

One HTML template renders both the browser's print page and the PDF (WeasyPrint, no network: the
stylesheet is read from the portal's static folder). The payee is the utility: its requisites come
from the `UTILITY_PAYEE` setting (a dict) and default to the demo company's below.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from flask import current_app, render_template
from flask_babel import gettext as _

from crm import clock
from crm.formatting import format_period
from crm.models.household import House
from crm.models.metering import Reading, Register
from crm.services import households

#: the demo utility's requisites; production sets UTILITY_PAYEE in the app config
DEFAULT_PAYEE = {
    "name": "АО «Тверская энергосбытовая компания»",
    "inn": "6901067107",
    "kpp": "695001001",
    "bank_name": "Тверское отделение № 8607 ПАО Сбербанк",
    "bank_bik": "042809679",
    "bank_account": "40702810263020100417",
    "bank_corr_account": "30101810700000000679",
    "kbk": "",
}
STYLESHEET = Path(__file__).resolve().parents[2] / "customer_portal" / "static" / "receipt.css"


@dataclass(frozen=True)
class ReceiptLine:
    """One register on the receipt: previous and current reading, consumption, rate, amount."""

    meter_label: str
    fraction_digits: int
    register: Register
    reading: Reading
    rate: Decimal | None
    amount: Decimal | None


@dataclass
class Receipt:
    blank: bool
    payee: dict
    house: House | None = None
    account_number: str = ""
    payer: str = ""
    address: str = ""
    period: date | None = None
    lines: list[ReceiptLine] = field(default_factory=list)
    amount: Decimal | None = None
    purpose: str = ""
    tariff_name: str | None = None
    issued_on: date | None = None

    @property
    def period_text(self) -> str:
        return format_period(self.period) if self.period else ""


def payee() -> dict:
    """The utility's requisites for the receipt."""
    return {**DEFAULT_PAYEE, **(current_app.config.get("UTILITY_PAYEE") or {})}


def blank_receipt() -> Receipt:
    """The form with only the payee printed, to fill in by hand."""
    return Receipt(blank=True, payee=payee())


def filled_receipt(user, house_id: int, amount: Decimal | None = None, today: date | None = None) -> Receipt:
    """The receipt of one of the user's houses: the latest readings with their amount by the tariff in force
    today; the amount to pay is `amount` if given, else the readings' amount, else the debt (if any)."""
    today = today or clock.today()
    house, period, readings = households.latest_submission(user, house_id)
    contract = house.contract
    charge = households.amount_to_pay(
        contract, {register: reading.consumption for _info, register, reading in readings
                   if reading.consumption is not None}, today)
    by_register = {line.register.id: line for line in charge.lines}
    lines = [ReceiptLine(info.label, info.meter.digits_fraction, register, reading,
                         by_register[register.id].rate if register.id in by_register else None,
                         by_register[register.id].amount if register.id in by_register else None)
             for info, register, reading in readings]
    if amount is None:
        amount = charge.total if readings else None
    if amount is None:
        debt = households.balances_on([contract], today).get(contract.id)
        amount = debt if debt is not None and debt > 0 else None
    period = period or today.replace(day=1)
    account = contract.account_number or contract.number
    return Receipt(
        blank=False, payee=payee(), house=house, account_number=account,
        payer=contract.counterparty.full_name, address=house.address or _first_address(contract),
        period=period, lines=lines, amount=amount, tariff_name=charge.tariff_name, issued_on=today,
        purpose=_("Payment for electricity, personal account %(account)s, %(period)s",
                  account=account, period=format_period(period)))


def _first_address(contract) -> str:
    objects = list(contract.energy_objects)
    return (objects[0].address or "") if objects else (contract.counterparty.postal_address or "")


def render_receipt_html(receipt: Receipt, *, for_pdf: bool = False) -> str:
    """The receipt page (the same template for the browser and the PDF)."""
    from customer_portal.labels import label

    return render_template("portal/print/receipt.html", receipt=receipt, for_pdf=for_pdf, label=label)


def receipt_pdf(receipt: Receipt) -> bytes:
    """The receipt as PDF (WeasyPrint); nothing is fetched over the network."""
    from weasyprint import CSS, HTML

    html = render_receipt_html(receipt, for_pdf=True)
    return HTML(string=html, base_url=str(STYLESHEET.parent)).write_pdf(
        stylesheets=[CSS(filename=str(STYLESHEET))])
