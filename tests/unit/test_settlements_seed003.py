"""Seed 003 reproduced exactly (issue 5, acceptance 1): the four February 2016 debt cases of §4.2 with
the documents each counts, figure 8's reconciliation act for 01.05.2016–01.08.2016 and its debt on
28.06.2016."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from crm.models import BillingDocument, Payment
from crm.services import reconciliation, settlements
from crm.services.demo_seed003 import add_operations
from crm.services.settlements import Term
from tests import factories as f

D = Decimal


@pytest.fixture()
def seed003(db):
    """A contract with seed 003's 2016 operations (zero balance on 01.01.2016, terms 10/25/18+1)."""
    contract = f.contract()
    add_operations(contract)
    db.session.commit()
    return contract


def _numbers(db, debt) -> list[str]:
    by_id = dict(db.session.execute(select(BillingDocument.id, BillingDocument.number)).all())
    return [by_id[i] for i in debt.document_ids]


def _paid_until(day: date) -> Decimal:
    from crm.services.demo_seed003 import PAYMENTS

    return sum((amount for paid_on, _n, amount in PAYMENTS if paid_on <= day), D("0.00"))


JANUARY_BILLS = ["16-0101", "16-0116"]
# seed 003 §4.2: each range of February 2016 and the documents it counts
FEBRUARY_CASES = [
    (date(2016, 2, 1), date(2016, 2, 10), JANUARY_BILLS),
    (date(2016, 2, 11), date(2016, 2, 18), JANUARY_BILLS + ["16-0201"]),
    (date(2016, 2, 19), date(2016, 2, 25), ["СФ-1601", "16-0201"]),
    (date(2016, 2, 26), date(2016, 2, 29), ["СФ-1601", "16-0201", "16-0216"]),
]
AMOUNTS = {"16-0101": D("150000.00"), "16-0116": D("120000.00"), "СФ-1601": D("310000.00"),
           "16-0201": D("160000.00"), "16-0216": D("130000.00")}


@pytest.mark.parametrize(("first", "last", "numbers"), FEBRUARY_CASES,
                         ids=["01-10.02", "11-18.02", "19-25.02", "26-29.02"])
def test_debt_counts_the_seeds_documents_when_the_day_is_in_each_february_range(db, seed003, first, last,
                                                                                numbers):
    day = first
    while day <= last:
        debt = settlements.debt_on(seed003, day)
        assert _numbers(db, debt) == numbers, day
        expected = sum((AMOUNTS[n] for n in numbers), D("0.00")) - _paid_until(day)
        assert debt.amount == expected, day
        assert debt.paid == _paid_until(day) and debt.opening_balance == D("0.00")
        day += timedelta(days=1)


def test_february_debt_is_exact_when_the_day_is_a_range_boundary(db, seed003):
    # 10.02: January bills 270 000,00 − payments to 10.02 (150 000 + 120 000 + 160 000)
    assert settlements.debt_on(seed003, date(2016, 2, 10)).amount == D("-160000.00")
    # 18.02: + the first February bill; the 40 000,00 of 18.02 is received that day
    assert settlements.debt_on(seed003, date(2016, 2, 18)).amount == D("-40000.00")
    # 19.02: the January invoice (310 000,00) replaces the January bills
    assert settlements.debt_on(seed003, date(2016, 2, 19)).amount == D("0.00")
    # 26.02: + the second February bill; 130 000,00 paid on 25.02
    assert settlements.debt_on(seed003, date(2016, 2, 26)).amount == D("0.00")


def test_debt_on_28_06_2016_is_the_figures_overpayment_when_the_may_invoice_is_due(db, seed003):
    debt = settlements.debt_on(seed003, date(2016, 6, 28))
    assert debt.amount == D("-74644.26")
    assert debt.recommended == D("0.00")
    assert _numbers(db, debt) == ["СФ-1601", "СФ-1602", "СФ-1603", "СФ-1604", "СФ-1604-К1", "СФ-1605",
                                  "16-0601", "16-0616"]
    assert debt.penalties == D("0.00")


def test_reconciliation_act_reproduces_figure_8_when_the_period_is_01_05_to_01_08_2016(seed003):
    act = reconciliation.reconciliation_act(seed003, date(2016, 5, 1), date(2016, 8, 1))
    assert act.opening == D("608822.79")
    assert [(row.day, row.side, row.amount) for row in act.rows] == [
        (date(2016, 5, 24), "debit", D("-198685.01")),
        (date(2016, 5, 25), "credit", D("979990.44")),
        (date(2016, 5, 31), "debit", D("482844.86")),
        (date(2016, 6, 20), "credit", D("424999.21")),
    ]
    assert act.debit_turnover == D("284159.85")
    assert act.credit_turnover == D("1404989.65")
    assert act.closing == D("-512007.01")
    assert act.closing_side == "overpayment"
    # the seed writes the period's end as the next day: the same act when it ends on 31.07
    same = reconciliation.reconciliation_act(seed003, date(2016, 5, 1), date(2016, 7, 31))
    assert (same.opening, same.rows, same.closing) == (act.opening, act.rows, act.closing)


def test_reconciliation_act_reproduces_figure_8_when_the_opening_balance_is_given_on_01_05(db):
    contract = f.contract(opening_balance=D("608822.79"), opening_balance_on=date(2016, 5, 1))
    for number, day, amount, kind in (("К1", date(2016, 5, 24), D("-198685.01"), "corrective_invoice"),
                                      ("СФ", date(2016, 5, 31), D("482844.86"), "invoice")):
        db.session.add(BillingDocument(contract=contract, doc_type=kind, number=number, doc_date=day,
                                       period=date(2016, 5, 1), amount=amount, amount_due=D("0")))
    for day, amount in ((date(2016, 5, 25), D("979990.44")), (date(2016, 6, 20), D("424999.21"))):
        db.session.add(Payment(contract=contract, paid_on=day, amount=amount, status="paid"))
    db.session.add(Payment(contract=contract, paid_on=date(2016, 6, 21), amount=D("5.00"), status="failed"))
    db.session.commit()
    act = reconciliation.reconciliation_act(contract, date(2016, 5, 1), date(2016, 8, 1))
    assert act.opening == D("608822.79")
    assert (act.debit_turnover, act.credit_turnover, act.closing) == (D("284159.85"), D("1404989.65"),
                                                                      D("-512007.01"))


def test_current_bills_are_the_figures_five_when_the_period_is_01_05_to_01_08_2016(seed003):
    bills = settlements.current_bills(seed003, date(2016, 5, 1), date(2016, 8, 1))
    assert [(b.doc_date, b.amount) for b in bills] == [
        (date(2016, 5, 1), D("173118.79")), (date(2016, 5, 16), D("405103.24")),
        (date(2016, 6, 1), D("244223.01")), (date(2016, 6, 16), D("193139.74")),
        (date(2016, 7, 1), D("167345.26"))]
    assert [b.due_date for b in bills] == [date(2016, 5, 10), date(2016, 5, 25), date(2016, 6, 10),
                                           date(2016, 6, 25), date(2016, 7, 10)]


def test_due_dates_come_from_the_terms_when_a_document_carries_none():
    terms = [Term("advance", 10), Term("advance", 25), Term("final", 18, 1)]
    may = date(2016, 5, 1)
    assert settlements.due_date_for("bill", date(2016, 5, 1), may, terms) == date(2016, 5, 10)
    assert settlements.due_date_for("bill", date(2016, 5, 16), may, terms) == date(2016, 5, 25)
    assert settlements.due_date_for("invoice", date(2016, 5, 31), may, terms) == date(2016, 6, 18)
    assert settlements.due_date_for("invoice", date(2016, 5, 31), may, terms, date(2016, 6, 1)) == date(2016, 6, 1)
    # an April correction issued in May is due no earlier than its own date
    assert settlements.due_date_for("corrective_invoice", date(2016, 5, 24), date(2016, 4, 1), terms) \
        == date(2016, 5, 24)
    # the 31st of a short month is its last day
    assert settlements.term_date(date(2016, 2, 1), Term("advance", 31)) == date(2016, 2, 29)


def test_penalties_stay_out_of_the_debt_when_a_penalty_claim_is_unpaid(db, seed003):
    db.session.add(BillingDocument(contract=seed003, doc_type="penalty_claim", number="П-1", doc_date=date(2016, 6, 1),
                                   sale_kind="penalty", amount=D("4718.36"), amount_due=D("4718.36")))
    db.session.commit()
    debt = settlements.debt_on(seed003, date(2016, 6, 28))
    assert debt.amount == D("-74644.26") and debt.penalties == D("4718.36")
    assert [d.number for d in settlements.receivables(seed003)] == ["П-1"]


def test_recommended_payment_counts_bills_issued_but_not_yet_due_when_they_exceed_payments(db, seed003):
    # 05.07.2016: the July bill (due 10.07) is issued, nothing paid since 20.06
    debt = settlements.debt_on(seed003, date(2016, 7, 5))
    assert debt.amount == D("-74644.26")
    assert debt.recommended == D("92701.00")  # 167 345,26 − 74 644,26


def test_overview_agrees_with_the_separate_rules_when_the_day_moves_through_2016(db, seed003):
    db.session.add(BillingDocument(contract=seed003, doc_type="penalty_claim", number="П-2", doc_date=date(2016, 3, 3),
                                   sale_kind="penalty", amount=D("10.00"), amount_due=D("10.00")))
    db.session.add(BillingDocument(contract=seed003, doc_type="bill", number="Б-old", doc_date=date(2015, 12, 1),
                                   amount=D("7.00"), amount_due=D("7.00")))  # before the opening balance
    db.session.commit()
    day = date(2015, 12, 20)
    while day <= date(2016, 8, 15):
        bills_from = settlements.add_months(day.replace(day=1), -2)
        chart_from = settlements.add_months(day.replace(day=1), -11)
        seen = settlements.overview(seed003, day, bills_from, chart_from)
        debt = settlements.debt_on(seed003, day)
        assert (seen.debt.amount, seen.debt.document_ids, seen.debt.recommended, seen.debt.penalties,
                seen.debt.payments_count) == (debt.amount, debt.document_ids, debt.recommended, debt.penalties,
                                              debt.payments_count), day
        assert seen.bills == settlements.current_bills(seed003, bills_from, day), day
        assert seen.totals == settlements.monthly_totals(seed003, chart_from, day), day
        assert seen.receivables == settlements.receivables(seed003), day
        day += timedelta(days=5)
