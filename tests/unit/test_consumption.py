"""The consumption rules of SPEC C8 (issue 4, acceptance 1): exact Decimal, no database."""
from __future__ import annotations

from decimal import Decimal as D  # noqa: N817 - exact values read better short

import pytest

from crm.services.consumption import (
    Consumption,
    ReadingValueError,
    capacity,
    consumption_between,
    is_jump,
    missing_registers,
    parse_reading,
)

# --- parsing: comma or dot, spaces, capacity, fraction digits ------------------------------------------


@pytest.mark.parametrize(("typed", "expected"), [
    ("12345,6", D("12345.6")), ("12345.6", D("12345.6")), ("12 345,67", D("12345.67")),
    ("12\u00a0345,67", D("12345.67")), ("0", D("0")), ("000015", D("15")), (" 7 ", D("7")),
    (D("1E+3"), D("1000")), (15, D("15")), ("15,", None),
])
def test_reading_is_parsed_exactly_when_typed_with_comma_dot_or_spaces(typed, expected):
    if expected is None:
        with pytest.raises(ReadingValueError):
            parse_reading(typed, 6, 2)
        return
    value = parse_reading(typed, 6, 2)
    assert value == expected and isinstance(value, D)


def test_reading_is_refused_when_it_has_more_digits_than_the_capacity():
    assert parse_reading("999999,99", 6, 2) == D("999999.99")
    with pytest.raises(ReadingValueError) as exc:
        parse_reading("1000000", 6, 2)
    assert exc.value.message == "The meter shows at most 6 digits before the decimal separator."
    assert exc.value.kind == "error"


def test_reading_is_refused_when_it_has_more_fraction_digits_than_the_meter():
    assert parse_reading("1,230", 6, 2) == D("1.23")     # trailing zeros are not digits the meter lacks
    with pytest.raises(ReadingValueError) as exc:
        parse_reading("1,234", 6, 2)
    assert exc.value.message == "The meter shows at most 2 digits after the decimal separator."
    with pytest.raises(ReadingValueError) as exc:
        parse_reading("1,5", 5, 0)
    assert exc.value.message == "The meter shows whole numbers only: enter the reading without a fraction."


@pytest.mark.parametrize(("typed", "message"), [
    ("", "Enter the reading."),
    ("   ", "Enter the reading."),
    ("-5", "A reading cannot be negative."),
    ("12a", "“12a” is not a number: use digits and a comma or a dot."),
    ("1,2,3", "“1,2,3” is not a number: use digits and a comma or a dot."),
])
def test_reading_is_refused_with_a_specific_message_when_not_a_number(typed, message):
    with pytest.raises(ReadingValueError) as exc:
        parse_reading(typed, 6, 2)
    assert exc.value.message == message


# --- consumption: difference, rollover, ratio, losses ---------------------------------------------------


def test_consumption_is_the_difference_when_ratio_is_one_and_no_losses():
    assert consumption_between(D("12441"), D("12442.5"), 6) == Consumption(D("1.5"), False, D("1.5000"))


def test_consumption_is_none_when_there_is_no_previous_reading():
    assert consumption_between(None, D("100"), 6) is None


def test_rollover_on_a_five_digit_meter_gives_25_when_confirmed():
    # acceptance 1: 99 990 → 00 015 on a 5-digit meter is 25 units through the rollover
    assert capacity(5) == D("100000")
    result = consumption_between(D("99990"), D("15"), 5, rollover_confirmed=True)
    assert result == Consumption(difference=D("25"), rollover=True, consumption=D("25.0000"))


def test_rollover_asks_for_confirmation_when_not_confirmed():
    with pytest.raises(ReadingValueError) as exc:
        consumption_between(D("99990"), D("15"), 5)
    assert exc.value.kind == "rollover"
    assert exc.value.message == ("The reading is below the previous one (99990): confirm that the meter passed its "
                                 "maximum and started again from zero.")


def test_drop_is_refused_outright_when_not_a_plausible_rollover():
    with pytest.raises(ReadingValueError) as exc:
        consumption_between(D("50000"), D("100"), 5, rollover_confirmed=True)
    assert exc.value.kind == "error"
    assert exc.value.message == "The reading is below the previous one (50000): check the value."


def test_drop_is_refused_when_the_previous_value_exceeds_the_capacity():
    with pytest.raises(ReadingValueError) as exc:
        consumption_between(D("123456"), D("15"), 5, rollover_confirmed=True)
    assert exc.value.kind == "error"


def test_rollover_keeps_fraction_digits_exactly():
    result = consumption_between(D("99999.95"), D("0.10"), 5, rollover_confirmed=True)
    assert result.difference == D("0.15") and result.consumption == D("0.1500")


def test_consumption_is_multiplied_by_the_transformation_ratio():
    # seed 004 fig. 12: 12 441 → 12 442 with ratio 12 000 is 12 000
    assert consumption_between(D("12441"), D("12442"), 6, ratio=D("12000")).consumption == D("12000.0000")


def test_losses_percent_are_added_after_the_ratio():
    result = consumption_between(D("12441"), D("12442"), 6, ratio=D("12000"), losses_percent=D("5"))
    assert result.consumption == D("12600.0000")            # seed 004 fig. 12: 12 600
    assert result.difference == D("1")


def test_consumption_is_rounded_half_up_to_four_fraction_digits():
    result = consumption_between(D("0"), D("0.01"), 6, ratio=D("1.2345"), losses_percent=D("2.5"))
    # 0.01 × 1.2345 × 1.025 = 0.012653625 → 0.0127
    assert result.consumption == D("0.0127")


def test_rollover_with_ratio_and_losses_is_exact():
    result = consumption_between(D("99990"), D("15"), 5, ratio=D("40"), losses_percent=D("1.5"),
                                 rollover_confirmed=True)
    assert result.consumption == D("1015.0000")             # 25 × 40 × 1.015


# --- the jump check ----------------------------------------------------------------------------------


def test_jump_is_reported_when_consumption_exceeds_three_times_the_average():
    recent = [D("100"), D("110"), D("90"), D("100"), D("95"), D("105")]     # average 100
    assert not is_jump(D("300"), recent)
    assert is_jump(D("300.0001"), recent)


def test_jump_check_averages_only_the_last_six_periods():
    recent = [D("10")] * 6 + [D("100000")]          # the seventh (older) period is not averaged
    assert is_jump(D("31"), recent)


def test_jump_check_uses_fewer_periods_as_they_are_and_none_means_no_check():
    assert is_jump(D("31"), [D("10")])
    assert not is_jump(D("1000000"), [])
    assert not is_jump(D("5"), [D("0"), D("0")])    # an average of zero asks nothing


# --- multi-register completeness -------------------------------------------------------------------------


def test_missing_registers_are_listed_when_only_some_of_a_meter_are_given():
    assert missing_registers([1, 2, 3], [1]) == [2, 3]
    assert missing_registers([1, 2, 3], [3, 1]) == [2]


def test_no_register_is_missing_when_all_or_none_are_given():
    assert missing_registers([1, 2], [1, 2]) == []
    assert missing_registers([1, 2], []) == []
    assert missing_registers([1, 2], [7]) == []          # another meter's registers say nothing about this one
    assert missing_registers([5], [5]) == []
