"""How money, dates and periods are shown (SPEC: `1 116 218,00 ₽`, `dd.mm.yyyy`, `Январь 2021`)."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from babel.dates import format_date as babel_format_date
from babel.numbers import format_decimal
from flask import Flask
from flask_babel import get_locale, get_timezone

NBSP = "\u00a0"


def _locale() -> str:
    try:
        return str(get_locale() or "ru")
    except (RuntimeError, KeyError, AttributeError):
        return "ru"


def format_money(value: Decimal | int | float | None, currency: str = "₽", locale: str | None = None) -> str:
    """`1 116 218,00 ₽` in Russian, `1,116,218.00 ₽` in English; always two decimals."""
    if value is None:
        return ""
    amount = format_decimal(Decimal(value), format="#,##0.00", locale=locale or _locale())
    return f"{amount}{NBSP}{currency}" if currency else amount


def format_quantity(value: Decimal | None, places: int = 3, locale: str | None = None) -> str:
    """A reading or consumption with the meter's precision, grouped by thousands."""
    if value is None:
        return ""
    pattern = "#,##0" + ("." + "0" * places if places else "")
    return format_decimal(Decimal(value), format=pattern, locale=locale or _locale())


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
    """A billing period as `Январь 2021` (stand-alone month name, capitalised)."""
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
    app.add_template_filter(format_day, "day")
    app.add_template_filter(format_timestamp, "timestamp")
    app.add_template_filter(format_period, "period")
