"""Helpers of the appeals service: numbering, draft expiry dates, who may act on an appeal.

Read helpers only; nothing here commits.
"""
from __future__ import annotations

import calendar
from datetime import datetime

from sqlalchemy import func, select, text

from crm.access import accessible_contracts
from crm.extensions import db
from crm.models import Appeal, Contract
from crm.models.counterparty import PersonType

#: person type → the letters at the end of an appeal number (seed 004 §8: «0000061-23-57-Ю-Л»)
PERSON_LETTERS = {
    PersonType.LEGAL.value: "Ю-Л",
    PersonType.SOLE_PROPRIETOR.value: "И-П",
    PersonType.INDIVIDUAL.value: "Ф-Л",
}
NO_BRANCH_CODE = "00"
#: an arbitrary constant: the PostgreSQL advisory lock that serialises appeal numbering
_NUMBER_LOCK = 640_006


def add_month(moment: datetime) -> datetime:
    """The same day and time one calendar month later (the 31st → the month's last day)."""
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def numbering_contract(author, contract: Contract | None) -> Contract | None:
    """The contract whose branch and customer kind go into the number: the appeal's, else the
    author's first contract (by number), else None."""
    if contract is not None:
        return contract
    grants = accessible_contracts(author)
    return grants[0].contract if grants else None


def person_letters(contract: Contract | None) -> str:
    """Ю-Л, И-П or Ф-Л from the contract's counterparty; Ф-Л (a person) without a contract."""
    if contract is None or contract.counterparty is None:
        return PERSON_LETTERS[PersonType.INDIVIDUAL.value]
    return PERSON_LETTERS.get(contract.counterparty.person_type, PERSON_LETTERS[PersonType.LEGAL.value])


def next_sequence() -> int:
    """The next appeal sequence number. On PostgreSQL a transaction-scoped advisory lock makes
    concurrent submissions take turns until commit; SQLite serialises writers anyway, and the
    unique number is the last guard (the caller retries)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _NUMBER_LOCK})
    return (db.session.scalar(select(func.max(Appeal.sequence))) or 0) + 1


def appeal_number(sequence: int, created: datetime, branch_code: str | None, letters: str) -> str:
    """`0000061-23-57-Ю-Л`: sequence, two-digit year, branch code, person letters."""
    return f"{sequence:07d}-{created:%y}-{branch_code or NO_BRANCH_CODE}-{letters}"


def customer_may_see(user, appeal: Appeal) -> bool:
    """Whether the customer `user` may see (and so act on) the appeal — the portal's visibility rule."""
    from crm.services.appeal_portal import visible_clause

    if user is None or appeal.id is None:
        return False
    return db.session.scalar(select(Appeal.id).where(Appeal.id == appeal.id, visible_clause(user.id))) is not None
