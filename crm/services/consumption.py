"""The consumption rules of SPEC C8 [004 §5], as pure functions over Decimal (no database, no HTTP).

Form entry, the integral readings file and the back office all apply the same rules through these
functions, so a value the form refuses is refused by the file too:

- `parse_reading`: what a person typed ("12 345,6" or "12345.6") → Decimal, within the meter's digit
  capacity and fraction digits;
- `consumption_between`: current − previous, through a rollover when the meter passed its maximum,
  × transformation ratio, + losses %; a value below the previous one that is not a plausible rollover
  is refused;
- `is_jump`: consumption above three times the average of the last six periods asks for confirmation;
- `missing_registers`: a multi-zone or reactive meter's registers are given all together or not at all.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from flask_babel import gettext as _

#: stored precision of readings and consumption (`Quantity()`: 4 fraction digits)
QUANTUM = Decimal("0.0001")
#: a value below the previous one is a rollover only if the meter passed its maximum by little: the
#: consumption through the rollover must stay below this share of the meter's capacity (10 % of a
#: 5-digit meter is 10 000 units, far above a month of any real consumption on such a meter)
ROLLOVER_SHARE = Decimal("0.1")
#: the jump check: consumption above this many times the average of the last periods asks to confirm
JUMP_FACTOR = Decimal(3)
JUMP_PERIODS = 6

_SPACES = re.compile(r"[\s\u00a0\u202f']")
_NUMBER = re.compile(r"^\d+(?:[.,]\d+)?$")


class ReadingValueError(ValueError):
    """A typed value cannot be a reading of this meter; `message` says why (localised)."""

    def __init__(self, message: str, kind: str = "error"):
        super().__init__(message)
        self.message = message
        self.kind = kind      # "error" or, for `consumption_between`, "rollover" (needs confirmation)


def parse_reading(raw: str | Decimal | int | float, digits_integer: int, digits_fraction: int) -> Decimal:
    """A reading from what a person typed: comma or dot as the decimal separator, spaces between
    thousands allowed; refused when it is not a non-negative number, has more integer digits than the
    meter's capacity or more fraction digits than the meter shows."""
    if isinstance(raw, float):
        raw = repr(raw)
    elif isinstance(raw, Decimal) and raw.is_finite():
        raw = format(raw, "f")      # never "1E+3": the digits as the meter shows them
    text = _SPACES.sub("", str(raw)) if raw is not None else ""
    if not text:
        raise ReadingValueError(_("Enter the reading."))
    if text.startswith("-"):
        raise ReadingValueError(_("A reading cannot be negative."))
    if not _NUMBER.match(text):
        raise ReadingValueError(_("“%(value)s” is not a number: use digits and a comma or a dot.", value=str(raw)[:30]))
    integer, _sep, fraction = text.replace(",", ".").partition(".")
    integer = integer.lstrip("0") or "0"
    if len(integer) > digits_integer:
        raise ReadingValueError(_("The meter shows at most %(digits)s digits before the decimal separator.",
                                  digits=digits_integer))
    if len(fraction.rstrip("0")) > digits_fraction:
        if digits_fraction == 0:
            raise ReadingValueError(_("The meter shows whole numbers only: enter the reading without a fraction."))
        raise ReadingValueError(_("The meter shows at most %(digits)s digits after the decimal separator.",
                                  digits=digits_fraction))
    try:
        return Decimal(f"{integer}.{fraction or '0'}")
    except InvalidOperation as exc:  # pragma: no cover - the pattern above admits only digits
        raise ReadingValueError(_("“%(value)s” is not a number: use digits and a comma or a dot.",
                                  value=str(raw)[:30])) from exc


def capacity(digits_integer: int) -> Decimal:
    """The value at which the meter's counter rolls back to zero (10^digits)."""
    return Decimal(10) ** digits_integer


@dataclass(frozen=True)
class Consumption:
    """What one reading means: raw difference, whether it rolled over, and the billed consumption."""

    difference: Decimal     # current − previous (through the rollover), before ratio and losses
    rollover: bool
    consumption: Decimal    # difference × ratio × (1 + losses / 100), to 4 fraction digits


def consumption_between(previous: Decimal | None, current: Decimal, digits_integer: int,
                        ratio: Decimal = Decimal(1), losses_percent: Decimal = Decimal(0),
                        rollover_confirmed: bool = False) -> Consumption | None:
    """Consumption from `previous` to `current` (None when there is no previous reading).

    A `current` below `previous` is a rollover when the counter passed its maximum by little (see
    `ROLLOVER_SHARE`): it raises `ReadingValueError(kind="rollover")` until `rollover_confirmed`; a
    larger drop is refused outright (kind "error").
    """
    if previous is None:
        return None
    rolled = current < previous
    if rolled:
        through = capacity(digits_integer) - previous + current
        # A previous value beyond the capacity (another meter's figure) cannot roll over to `current`.
        if through <= 0 or through >= capacity(digits_integer) * ROLLOVER_SHARE:
            raise ReadingValueError(
                _("The reading is below the previous one (%(previous)s): check the value.", previous=_plain(previous)))
        if not rollover_confirmed:
            raise ReadingValueError(
                _("The reading is below the previous one (%(previous)s): confirm that the meter passed its "
                  "maximum and started again from zero.", previous=_plain(previous)), kind="rollover")
        difference = through
    else:
        difference = current - previous
    billed = difference * ratio * (Decimal(100) + losses_percent) / Decimal(100)
    return Consumption(difference=difference, rollover=rolled,
                       consumption=billed.quantize(QUANTUM, rounding=ROUND_HALF_UP))


def is_jump(consumption: Decimal, recent: Sequence[Decimal]) -> bool:
    """Whether `consumption` exceeds three times the average of the last six periods' consumption
    (`recent`, newest first; fewer periods are averaged as they are; none → no check)."""
    window = [value for value in recent[:JUMP_PERIODS] if value is not None]
    if not window:
        return False
    average = sum(window, Decimal(0)) / len(window)
    return average > 0 and consumption > JUMP_FACTOR * average


def missing_registers(all_register_ids: Iterable[int], given_ids: Iterable[int]) -> list[int]:
    """The registers of one meter left out when some (but not all) were given; [] when all or none."""
    all_ids, given = list(all_register_ids), set(given_ids)
    if not given & set(all_ids):
        return []
    return [register_id for register_id in all_ids if register_id not in given]


def _plain(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text.replace(".", ",")
