"""Date-range filters typed into a query string (payments, documents): one parser, one set of messages."""
from __future__ import annotations

import re
from datetime import date

from flask_babel import gettext as _

#: dates outside this range are refused as typing mistakes
MIN_DATE, MAX_DATE = date(1990, 1, 1), date(2100, 12, 31)

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_RUSSIAN = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")


def parse_date(text: str) -> date:
    """`dd.mm.yyyy` (as people type it) or `yyyy-mm-dd` (as a date input sends it); ValueError otherwise."""
    text = text.strip()
    if match := _ISO.match(text):
        year, month, day = (int(part) for part in match.groups())
    elif match := _RUSSIAN.match(text):
        day, month, year = (int(part) for part in match.groups())
    else:
        raise ValueError(text)
    return date(year, month, day)


def parse_date_field(raw: str | None, name: str, default: date, errors: dict[str, str],
                     example: date | None = None) -> date | None:
    """One date field from query-string text: `default` when empty; None, with the problem in `errors[name]`,
    when it is not a date between MIN_DATE and MAX_DATE (`example`, `default` if None, shows the format)."""
    raw = (raw or "").strip()
    if not raw:
        return default
    try:
        value = parse_date(raw[:32])
    except ValueError:
        errors[name] = _("Enter the date as dd.mm.yyyy, for example %(example)s.",
                         example=(example or default).strftime("%d.%m.%Y"))
        return None
    if not MIN_DATE <= value <= MAX_DATE:
        errors[name] = _("Enter a date between %(first)s and %(last)s.",
                         first=MIN_DATE.strftime("%d.%m.%Y"), last=MAX_DATE.strftime("%d.%m.%Y"))
        return None
    return value


def check_order(date_from: date, date_to: date, errors: dict[str, str]) -> None:
    """A start after the end is a problem of the "date_from" field."""
    if date_from > date_to:
        errors["date_from"] = _("The start of the period (%(start)s) is after its end (%(end)s).",
                                start=date_from.strftime("%d.%m.%Y"), end=date_to.strftime("%d.%m.%Y"))


def parse_date_range(raw_from: str | None, raw_to: str | None, default_from: date, default_to: date,
                     errors: dict[str, str]) -> tuple[date | None, date | None]:
    """`date_from`/`date_to` from query-string text, an empty one taking its default; a problem goes into
    `errors` under the field's name (a start after the end under "date_from") and leaves that bound None."""
    date_from = parse_date_field(raw_from, "date_from", default_from, errors)
    date_to = parse_date_field(raw_to, "date_to", default_to, errors, example=default_from)
    if date_from is not None and date_to is not None:
        check_order(date_from, date_to, errors)
    return date_from, date_to
