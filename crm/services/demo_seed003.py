"""A demo contract carrying seed 003's 2016 operations (issue 5, item 10).

Anyone can open its reconciliation act for 01.05.2016–01.08.2016 in the portal and compare it with
seed 003 figure 8: opening balance 608 822,79, payments 979 990,44 (25.05) and 424 999,21 (20.06),
invoices −198 685,01 (24.05, a correction) and 482 844,86 (31.05), turnovers 284 159,85 / 1 404 989,65,
closing balance 512 007,01 in the customer's favour; the current-consumption bills of the figure; and
the debt on 28.06.2016, −74 644,26 with a recommended payment of 0,00.

The seed starts its §4.2 example from a zero balance on 01.01.2016, so this contract does too: January
to April 2016 carry bills, invoices and payments (the seed gives no amounts for them; these are made
up) that leave exactly 608 822,79 unpaid on 01.05.2016, so the February 2016 cases of §4.2 can be
tried on the same contract. Documents carry no due dates: they come from the contract's payment terms
(bills by the 10th and the 25th, the invoice by the 18th of the next month).
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal

from crm.extensions import db
from crm.models import BillingDocument, Contract, ContractAccess, ContractEmail, Payment, PaymentTerm

D = Decimal
CONTRACT_NUMBER = "69572016050101"  # sorts after the current contracts: users land on those first
ACCOUNT_NUMBER = "3200160501"
OPENING_ON = date(2016, 1, 1)

# (doc_type, number, doc_date, period, amount)
DOCUMENTS: list[tuple[str, str, date, date, Decimal]] = [
    ("bill", "16-0101", date(2016, 1, 1), date(2016, 1, 1), D("150000.00")),
    ("bill", "16-0116", date(2016, 1, 16), date(2016, 1, 1), D("120000.00")),
    ("invoice", "СФ-1601", date(2016, 1, 31), date(2016, 1, 1), D("310000.00")),
    ("bill", "16-0201", date(2016, 2, 1), date(2016, 2, 1), D("160000.00")),
    ("bill", "16-0216", date(2016, 2, 16), date(2016, 2, 1), D("130000.00")),
    ("invoice", "СФ-1602", date(2016, 2, 29), date(2016, 2, 1), D("295000.00")),
    ("bill", "16-0301", date(2016, 3, 1), date(2016, 3, 1), D("155000.00")),
    ("bill", "16-0316", date(2016, 3, 16), date(2016, 3, 1), D("125000.00")),
    ("invoice", "СФ-1603", date(2016, 3, 31), date(2016, 3, 1), D("287450.12")),
    ("bill", "16-0401", date(2016, 4, 1), date(2016, 4, 1), D("180000.00")),
    ("bill", "16-0416", date(2016, 4, 16), date(2016, 4, 1), D("240000.00")),
    ("invoice", "СФ-1604", date(2016, 4, 30), date(2016, 4, 1), D("601372.67")),
    # seed 003 figure 8
    ("bill", "16-0501", date(2016, 5, 1), date(2016, 5, 1), D("173118.79")),
    ("bill", "16-0516", date(2016, 5, 16), date(2016, 5, 1), D("405103.24")),
    ("corrective_invoice", "СФ-1604-К1", date(2016, 5, 24), date(2016, 4, 1), D("-198685.01")),
    ("invoice", "СФ-1605", date(2016, 5, 31), date(2016, 5, 1), D("482844.86")),
    ("bill", "16-0601", date(2016, 6, 1), date(2016, 6, 1), D("244223.01")),
    ("bill", "16-0616", date(2016, 6, 16), date(2016, 6, 1), D("193139.74")),
    ("bill", "16-0701", date(2016, 7, 1), date(2016, 7, 1), D("167345.26")),
]

# (paid_on, payment order number, amount)
PAYMENTS: list[tuple[date, str, Decimal]] = [
    (date(2016, 1, 11), "118", D("150000.00")),
    (date(2016, 1, 25), "164", D("120000.00")),
    (date(2016, 2, 10), "231", D("160000.00")),
    (date(2016, 2, 18), "262", D("40000.00")),
    (date(2016, 2, 25), "287", D("130000.00")),
    (date(2016, 3, 10), "342", D("155000.00")),
    (date(2016, 3, 18), "371", D("5000.00")),
    (date(2016, 3, 25), "398", D("125000.00")),
    # seed 003 figure 8
    (date(2016, 5, 25), "612", D("979990.44")),
    (date(2016, 6, 20), "745", D("424999.21")),
]

TERMS = [("advance", 10, 0, D("30")), ("advance", 25, 0, D("40")), ("final", 18, 1, None)]


def add_operations(contract: Contract) -> None:
    """Give `contract` seed 003's terms, opening balance (0 on 01.01.2016), documents and payments.
    Every document is paid (amount due 0): the customer overpaid by the end of the figure."""
    contract.opening_balance = D("0.00")
    contract.opening_balance_on = OPENING_ON
    contract.payment_terms = [PaymentTerm(kind=k, day_of_month=d, month_offset=o, percent=p) for k, d, o, p in TERMS]
    for n, (doc_type, number, doc_date, period, amount) in enumerate(DOCUMENTS, start=1):
        db.session.add(BillingDocument(contract=contract, doc_type=doc_type, number=number, doc_date=doc_date,
                                       period=period, sale_kind="advance" if doc_type == "bill" else "main",
                                       amount=amount, amount_due=D("0.00"),
                                       external_id=f"seed003-{contract.number}-doc-{n}"))
    for paid_on, number, amount in PAYMENTS:
        db.session.add(Payment(contract=contract, bank="ПАО Сбербанк", number=number, paid_on=paid_on,
                               amount=amount, status="paid", channel="bank",
                               external_id=f"seed003-{contract.number}-pay-{number}",
                               purpose=f"Оплата за электроэнергию по договору № {contract.number}. "
                                       f"Сумма {amount:.2f} в т.ч. НДС (18%)".replace(".", "-", 1)))


def seed(builder) -> Contract:
    """The seed-003 demo contract of the director's company, shown to the director (administrator)
    and the accountant of the demo."""
    counterparty = builder.counterparties["technostyle"]
    branch = next(iter(builder.branches.values()))
    contract = Contract(number=CONTRACT_NUMBER, account_number=ACCOUNT_NUMBER, counterparty=counterparty,
                        branch=branch, kind="electricity", status="active", signed_on=date(2015, 12, 15),
                        starts_on=OPENING_ON, price_category="I", opening_balance=D("0.00"),
                        opening_balance_on=OPENING_ON, external_id="demo-contract-seed003",
                        tariff=builder.current_tariff.get("EL-NN"))
    contract.emails = [ContractEmail(email="buh@technostyle.example")]
    contract.curators = builder.curators[:1]
    db.session.add(contract)
    add_operations(contract)
    granted_at = datetime.combine(builder.today.replace(day=1), time(10), UTC)
    for login, role in (("director@demo.example", "administrator"), ("accountant@demo.example", "accountant")):
        user = builder.users.get(login)
        if user is not None:
            db.session.add(ContractAccess(user=user, contract=contract, role=role, granted_at=granted_at,
                                          confirmed_at=granted_at, granted_by=builder.users.get("admin")))
    db.session.flush()
    return contract
