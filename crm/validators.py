"""Checks for Russian requisites (INN check digits) and contract numbers."""
from __future__ import annotations

import re

_INN10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_A = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_B = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)


def _check_digit(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11 % 10


def is_valid_inn(value: str) -> bool:
    """True for a 10-digit (organisation) or 12-digit (person) INN with correct check digits."""
    if not value or not value.isdigit():
        return False
    if len(value) == 10:
        return _check_digit(value, _INN10) == int(value[9])
    if len(value) == 12:
        return (_check_digit(value, _INN12_A) == int(value[10])
                and _check_digit(value, _INN12_B) == int(value[11]))
    return False


def complete_inn(prefix: str) -> str:
    """Append check digits to a 9- or 10-digit prefix (demo and test data)."""
    if len(prefix) == 9:
        return prefix + str(_check_digit(prefix, _INN10))
    if len(prefix) == 10:
        first = prefix + str(_check_digit(prefix, _INN12_A))
        return first + str(_check_digit(first, _INN12_B))
    raise ValueError("INN prefix must have 9 or 10 digits")


CONTRACT_NUMBER_RE = re.compile(r"^\d{14}$")


def is_valid_contract_number(value: str) -> bool:
    """Contract numbers are 14 digits."""
    return bool(value) and bool(CONTRACT_NUMBER_RE.match(value))
