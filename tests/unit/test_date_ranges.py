"""One date-range parser for payments, documents and the portal's act: defaults, bounds, a reversed period."""
from datetime import date

from flask_babel import force_locale

from crm.services.date_ranges import parse_date, parse_date_range

FIRST, LAST = date(2025, 10, 1), date(2025, 10, 31)


def test_both_spellings_are_read():
    assert parse_date("05.03.2025") == parse_date(" 2025-03-05 ") == date(2025, 3, 5)


def test_empty_fields_take_the_defaults(app):
    with app.test_request_context("/portal/"):
        errors: dict[str, str] = {}
        assert parse_date_range(None, "  ", FIRST, LAST, errors) == (FIRST, LAST)
        assert errors == {}


def test_every_problem_is_collected_and_the_bad_bound_is_none(app):
    with app.test_request_context("/portal/"), force_locale("en"):
        errors: dict[str, str] = {}
        assert parse_date_range("31.02.2025", "01.01.1900", FIRST, LAST, errors) == (None, None)
        assert errors == {"date_from": "Enter the date as dd.mm.yyyy, for example 01.10.2025.",
                          "date_to": "Enter a date between 01.01.1990 and 31.12.2100."}


def test_a_start_after_the_end_is_a_problem_of_date_from(app):
    with app.test_request_context("/portal/"), force_locale("en"):
        errors: dict[str, str] = {}
        assert parse_date_range("2025-11-02", "01.11.2025", FIRST, LAST, errors) == (date(2025, 11, 2),
                                                                                     date(2025, 11, 1))
        assert errors == {"date_from": "The start of the period (02.11.2025) is after its end (01.11.2025)."}
