"""How money, dates and periods are shown (SPEC: `1 116 218,00 ₽`, `dd.mm.yyyy`, `Январь 2021`).

Numbers follow the current locale (Russian: no-break-space thousands separator and a decimal
comma; English: `1,116,218.00`); dates are `dd.mm.yyyy` in every language, as the spec asks.
The functions are registered as Jinja filters: `money`, `quantity`, `number`, `day`, `timestamp`,
`period`.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from babel.dates import format_date as babel_format_date
from babel.numbers import format_decimal
from flask import Flask, current_app, has_app_context
from flask_babel import get_locale, get_timezone

NBSP = "\u00a0"
DEFAULT_LOCALE = "ru"

Number = Decimal | int | float | str


def _locale():
    """The request's babel Locale (passed as the object: babel would re-parse a string per call)."""
    try:
        locale = get_locale()
    except (RuntimeError, KeyError, AttributeError):
        locale = None
    if locale:
        return locale
    if has_app_context():
        return current_app.config.get("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    return DEFAULT_LOCALE


def _decimal(value: Number) -> Decimal:
    # str() first, so 0.1 (a float) is 0.1 and not 0.1000000000000000055…
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {value!r}") from exc


def format_money(value: Number | None, currency: str | None = "₽", locale: str | None = None) -> str:
    """`1 116 218,00 ₽` in Russian, `1,116,218.00 ₽` in English; always two decimals."""
    if value is None or value == "":
        return ""
    amount = format_decimal(_decimal(value), format="#,##0.00", locale=locale or _locale())
    return f"{amount}{NBSP}{currency}" if currency else amount


def format_quantity(value: Number | None, places: int = 3, locale: str | None = None) -> str:
    """A reading or consumption with a fixed number of decimals, grouped by thousands."""
    if value is None or value == "":
        return ""
    pattern = "#,##0" + ("." + "0" * places if places else "")
    return format_decimal(_decimal(value), format=pattern, locale=locale or _locale())


def format_number(value: Number | None, max_places: int = 5, locale: str | None = None) -> str:
    """A rate, ratio or percentage with only the decimals it needs (`0,5`, `5,12345`, `40`)."""
    if value is None or value == "":
        return ""
    pattern = "#,##0" + ("." + "#" * max_places if max_places else "")
    return format_decimal(_decimal(value), format=pattern, locale=locale or _locale())


def format_day(value: date | datetime | None) -> str:
    """`dd.mm.yyyy`; a datetime is shown in the display time zone first."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = _to_display_tz(value).date()
    return value.strftime("%d.%m.%Y")


def format_timestamp(value: datetime | None) -> str:
    """`dd.mm.yyyy hh:mm` in the display time zone."""
    if value is None:
        return ""
    return _to_display_tz(value).strftime("%d.%m.%Y %H:%M")


def format_period(value: date | None, locale: str | None = None) -> str:
    """A billing period as `Январь 2021` / `January 2021` (stand-alone month name, capitalised)."""
    if value is None:
        return ""
    text = babel_format_date(value, "LLLL yyyy", locale=locale or _locale())
    return text[:1].upper() + text[1:]


def _to_display_tz(value: datetime) -> datetime:
    try:
        tz = get_timezone()
    except (RuntimeError, KeyError, AttributeError):
        tz = None
    if tz is None or value.tzinfo is None:
        return value
    return value.astimezone(tz)


def register_template_filters(app: Flask) -> None:
    """Expose the formatters to Jinja as filters."""
    app.add_template_filter(format_money, "money")
    app.add_template_filter(format_quantity, "quantity")
    app.add_template_filter(format_number, "number")
    app.add_template_filter(format_day, "day")
    app.add_template_filter(format_timestamp, "timestamp")
    app.add_template_filter(format_period, "period")
