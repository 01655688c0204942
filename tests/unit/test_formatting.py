"""Money, dates and periods are shown as the spec asks, in Russian and in English."""
from __future__ import annotations

import unicodedata
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from crm.formatting import (
    format_day,
    format_money,
    format_number,
    format_period,
    format_quantity,
    format_timestamp,
)


def plain(text: str) -> str:
    """Turn no-break and narrow no-break spaces into ordinary spaces."""
    return "".join(" " if unicodedata.category(ch) == "Zs" else ch for ch in text)


def test_money_has_space_groups_decimal_comma_and_ruble_sign_when_russian():
    assert plain(format_money(Decimal("1116218"), locale="ru")) == "1 116 218,00 ₽"


def test_money_has_comma_groups_and_decimal_point_when_english():
    assert plain(format_money(Decimal("1116218"), locale="en")) == "1,116,218.00 ₽"


def test_money_uses_no_break_spaces_when_russian():
    # A line break must never split an amount.
    assert " " not in format_money(Decimal("1116218"), locale="ru")


@pytest.mark.parametrize(("value", "expected"), [
    (Decimal("0"), "0,00 ₽"),
    (Decimal("0.5"), "0,50 ₽"),
    (Decimal("-1234.567"), "-1 234,57 ₽"),
    (1116218, "1 116 218,00 ₽"),
    (0.1, "0,10 ₽"),
    ("42.1", "42,10 ₽"),
])
def test_money_always_has_two_decimals_when_given_any_number(value, expected):
    assert plain(format_money(value, locale="ru")) == expected


def test_money_is_empty_when_value_is_missing():
    assert format_money(None) == ""


def test_money_has_no_sign_when_currency_is_empty():
    assert plain(format_money(Decimal("10"), currency="", locale="ru")) == "10,00"


def test_money_follows_the_current_locale_when_none_is_given(app):
    with app.test_request_context("/portal/"):
        from flask import session

        session["locale"] = "en"
        assert plain(format_money(Decimal("1116218"))) == "1,116,218.00 ₽"
    with app.test_request_context("/portal/"):
        assert plain(format_money(Decimal("1116218"))) == "1 116 218,00 ₽"


def test_money_defaults_to_russian_when_there_is_no_app():
    assert plain(format_money(Decimal("1116218"))) == "1 116 218,00 ₽"


def test_period_is_capitalised_month_and_year_when_russian():
    assert format_period(date(2021, 1, 1), locale="ru") == "Январь 2021"


def test_period_is_month_name_and_year_when_english():
    assert format_period(date(2021, 1, 1), locale="en") == "January 2021"


def test_period_uses_nominative_month_when_russian():
    # "Май", not the genitive "мая" a full date would use.
    assert format_period(date(2022, 5, 1), locale="ru") == "Май 2022"


def test_day_is_dd_mm_yyyy():
    assert format_day(date(2021, 1, 5)) == "05.01.2021"
    assert format_day(None) == ""


def test_day_of_a_timestamp_is_taken_in_moscow_time(app):
    with app.test_request_context("/portal/"):
        assert format_day(datetime(2021, 1, 31, 22, 30, tzinfo=UTC)) == "01.02.2021"
        assert format_timestamp(datetime(2021, 1, 31, 22, 30, tzinfo=UTC)) == "01.02.2021 01:30"


def test_quantity_has_fixed_decimals_and_groups():
    assert plain(format_quantity(Decimal("12345.6"), places=3, locale="ru")) == "12 345,600"
    assert plain(format_quantity(Decimal("12345.6"), places=0, locale="en")) == "12,346"


def test_number_shows_only_needed_decimals():
    assert format_number(Decimal("40.0000"), locale="ru") == "40"
    assert format_number(Decimal("0.500"), locale="ru") == "0,5"
    assert format_number(Decimal("5.12345"), locale="en") == "5.12345"
