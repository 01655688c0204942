"""Typed fields of the billing import (SPEC B9): one declaration per column serves the JSON API, the
xlsx/csv upload, the downloadable template and the OpenAPI schema.

A field turns a raw value — a JSON value (numbers arrive as exact Decimals), or a spreadsheet cell
(calamine floats, dates, text) — into the value stored, or raises `FieldError` with a localised reason.
"""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm.services.spreadsheets import cell_decimal, cell_text

#: the largest PDF accepted for one billing document
MAX_PDF_BYTES = 10 * 1024 * 1024


class FieldError(ValueError):
    """A value cannot be read as the field's type; `message` is localised."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Field:
    """A column: its name (the JSON key and the header of the file), whether it is required, a default for
    an empty value, a description for the OpenAPI document and the import page, and an example value."""

    name: str
    required: bool = False
    default: Any = None
    description: Any = ""
    example: Any = None
    in_files: bool = True          # False: API only (a PDF in base64)

    openapi_type = "string"
    openapi_format: str | None = None

    def parse(self, raw: Any) -> Any:
        """The stored value of `raw`; None (or the default) when empty; `FieldError` when unreadable."""
        if _is_empty(raw):
            if self.required:
                raise FieldError(_("Fill in this value."))
            return self.default
        return self.convert(raw)

    def convert(self, raw: Any) -> Any:  # pragma: no cover - every subclass converts
        raise NotImplementedError

    def dump(self, value: Any) -> Any:
        """The JSON value of a stored value (GET by external id answers in the shape of the upsert)."""
        return value

    def openapi(self) -> dict:
        schema: dict[str, Any] = {"type": self.openapi_type, "description": str(self.description)}
        if self.openapi_format:
            schema["format"] = self.openapi_format
        if self.example is not None:
            schema["example"] = self.dump(self.example)
        if not self.required:
            schema["nullable"] = True
        return schema


def _is_empty(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


@dataclass(frozen=True)
class Text(Field):
    max_length: int = 255
    pattern: str | None = None
    pattern_message: Any = None

    def convert(self, raw: Any) -> str:
        if isinstance(raw, (bool, dict, list)):
            raise FieldError(_("Expected text."))
        if isinstance(raw, Decimal) and raw == raw.to_integral_value():
            raw = int(raw)
        text = cell_text(raw) or ""
        if "\x00" in text:  # PostgreSQL cannot store it: a 500 instead of a problem otherwise
            raise FieldError(_("Contains a NUL character."))
        if len(text) > self.max_length:
            raise FieldError(_("Longer than %(max)s characters.", max=self.max_length))
        if self.pattern and not re.fullmatch(self.pattern, text):
            raise FieldError(str(self.pattern_message))
        return text

    def openapi(self) -> dict:
        return {**super().openapi(), "maxLength": self.max_length}


@dataclass(frozen=True)
class Number(Field):
    """An exact decimal with at most `places` decimal places and `digits` digits in all."""

    places: int = 2
    digits: int = 14
    minimum: Decimal | None = None
    maximum: Decimal | None = None

    openapi_format = "decimal"

    def convert(self, raw: Any) -> Decimal:
        try:
            number = cell_decimal(raw)
        except ValueError as exc:
            raise FieldError(_("Not a number.")) from exc
        if number is None:
            raise FieldError(_("Not a number."))
        if abs(number) >= Decimal(10) ** (self.digits - self.places):  # first: quantize fails on 1E+50
            raise FieldError(_("The number is too large."))
        if number != number.quantize(Decimal(1).scaleb(-self.places)):
            raise FieldError(_("At most %(places)s decimal places.", places=self.places))
        if self.minimum is not None and number < self.minimum:
            raise FieldError(_("Must be at least %(minimum)s.", minimum=self.minimum))
        if self.maximum is not None and number > self.maximum:
            raise FieldError(_("Must be at most %(maximum)s.", maximum=self.maximum))
        return number

    def dump(self, value: Any) -> Any:
        return None if value is None else f"{Decimal(value):.{self.places}f}"

    def openapi(self) -> dict:
        schema = super().openapi()
        schema["description"] += " " + _("A decimal: a JSON number or a string like \"1234.56\".")
        return schema


@dataclass(frozen=True)
class Integer(Field):
    minimum: int = 0
    maximum: int = 1_000_000

    openapi_type = "integer"

    def convert(self, raw: Any) -> int:
        try:
            number = cell_decimal(raw)
        except ValueError as exc:
            raise FieldError(_("Not a whole number.")) from exc
        if number is None or number != number.to_integral_value():
            raise FieldError(_("Not a whole number."))
        if not self.minimum <= number <= self.maximum:
            raise FieldError(_("Must be from %(minimum)s to %(maximum)s.", minimum=self.minimum, maximum=self.maximum))
        return int(number)

    def openapi(self) -> dict:
        return {**super().openapi(), "minimum": self.minimum, "maximum": self.maximum}


_DATE_FORMATS = ("%Y-%m-%d", "%d.%m.%Y")


@dataclass(frozen=True)
class Day(Field):
    openapi_format = "date"

    def convert(self, raw: Any) -> date:
        if isinstance(raw, datetime):
            return raw.date()
        if isinstance(raw, date):
            return raw
        if isinstance(raw, str):
            for fmt in _DATE_FORMATS:
                try:
                    return datetime.strptime(raw.strip(), fmt).date()
                except ValueError:
                    continue
        raise FieldError(_("Not a date (expected DD.MM.YYYY or YYYY-MM-DD)."))

    def dump(self, value: Any) -> Any:
        return None if value is None else value.isoformat()


@dataclass(frozen=True)
class Month(Field):
    """A billing period, stored as the first day of its month."""

    def convert(self, raw: Any) -> date:
        if isinstance(raw, (date, datetime)):
            return date(raw.year, raw.month, 1)
        if isinstance(raw, str):
            text = raw.strip()
            for fmt in ("%Y-%m", "%m.%Y", *_DATE_FORMATS):
                try:
                    day = datetime.strptime(text, fmt).date()
                except ValueError:
                    continue
                return day.replace(day=1)
        raise FieldError(_("Not a month (expected MM.YYYY or YYYY-MM)."))

    def dump(self, value: Any) -> Any:
        return None if value is None else f"{value:%Y-%m}"

    def openapi(self) -> dict:
        return {**super().openapi(), "pattern": r"^\d{4}-\d{2}$"}


_TRUE = {"1", "true", "yes", "да", "y", "д"}
_FALSE = {"0", "false", "no", "нет", "n", "н"}


@dataclass(frozen=True)
class Flag(Field):
    default: Any = False
    openapi_type = "boolean"

    def convert(self, raw: Any) -> bool:
        if isinstance(raw, bool):
            return raw
        text = (cell_text(raw) or "").lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise FieldError(_("Expected yes or no (1 or 0)."))


@dataclass(frozen=True)
class Choice(Field):
    values: tuple[str, ...] = ()

    def convert(self, raw: Any) -> str:
        text = (cell_text(raw) or "").strip()
        for value in self.values:
            if text.lower() == value.lower():
                return value
        raise FieldError(_("Not one of: %(values)s.", values=", ".join(self.values)))

    def openapi(self) -> dict:
        return {**super().openapi(), "enum": list(self.values)}


@dataclass(frozen=True)
class RegisterList(Field):
    """A meter's registers as `direction:zone` tokens (`A+:day, A+:night`); a bare zone means A+."""

    zones: tuple[str, ...] = ()
    directions: tuple[str, ...] = ()

    openapi_type = "array"

    def convert(self, raw: Any) -> tuple[tuple[str, str], ...]:
        tokens = raw if isinstance(raw, list) else re.split(r"[,\n]+", cell_text(raw) or "")
        registers: list[tuple[str, str]] = []
        for token in tokens:
            text = (cell_text(token) or "").replace(" ", "")
            if not text:
                continue
            direction, _sep, zone = text.rpartition(":")
            direction = direction or "A+"
            zone_value = next((z for z in self.zones if z.lower() == zone.lower()), None)
            direction_value = next((d for d in self.directions if d.lower() == direction.lower()), None)
            if zone_value is None or direction_value is None:
                raise FieldError(_("“%(token)s” is not a register: write direction:zone, e.g. A+:day "
                                   "(zones: %(zones)s; directions: %(directions)s).", token=token,
                                   zones=", ".join(self.zones), directions=", ".join(self.directions)))
            if (direction_value, zone_value) in registers:
                raise FieldError(_("The register %(token)s is listed twice.", token=f"{direction_value}:{zone_value}"))
            registers.append((direction_value, zone_value))
        if not registers:
            raise FieldError(_("Fill in this value."))
        return tuple(registers)

    def dump(self, value: Any) -> Any:
        return [f"{direction}:{zone}" for direction, zone in value]

    def openapi(self) -> dict:
        schema = super().openapi()
        schema["items"] = {"type": "string", "example": "A+:day"}
        schema.pop("example", None)
        schema["example"] = ["A+:day", "A+:night"]
        return schema


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class EmailList(Field):
    """E-mail addresses: a JSON list, or text separated by commas, semicolons or spaces; kept lower-case."""

    default: Any = ()
    openapi_type = "array"

    def convert(self, raw: Any) -> tuple[str, ...]:
        tokens = raw if isinstance(raw, list) else re.split(r"[,;\s]+", cell_text(raw) or "")
        emails: list[str] = []
        for token in tokens:
            email = (cell_text(token) or "").lower()
            if not email:
                continue
            if len(email) > 254 or not _EMAIL.match(email):
                raise FieldError(_("“%(value)s” is not an e-mail address.", value=token))
            if email not in emails:
                emails.append(email)
        return tuple(emails)

    def dump(self, value: Any) -> Any:
        return list(value or ())

    def openapi(self) -> dict:
        return {**super().openapi(), "items": {"type": "string", "format": "email"}}


@dataclass(frozen=True)
class Pdf(Field):
    """A PDF file in base64 (API only)."""

    in_files: bool = False
    openapi_format = "byte"

    def convert(self, raw: Any) -> bytes:
        if not isinstance(raw, str):
            raise FieldError(_("Expected the PDF file in base64."))
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise FieldError(_("Expected the PDF file in base64.")) from exc
        check_pdf(data)
        return data

    def dump(self, value: Any) -> Any:
        return None


def check_pdf(data: bytes) -> None:
    """Refuse what is not a PDF or is too large (`FieldError`)."""
    if not data.startswith(b"%PDF-"):
        raise FieldError(_("The file is not a PDF document."))
    if len(data) > MAX_PDF_BYTES:
        raise FieldError(_("The PDF is larger than %(size)s MB.", size=MAX_PDF_BYTES // (1024 * 1024)))


EXTERNAL_ID = Text("external_id", required=True, max_length=64, example="000123",
                   description=_l("The record's id in the billing system; the key of the upsert."))


def reference(name: str, description, required: bool = True) -> Text:
    """A column holding another record's external id."""
    return Text(name, required=required, max_length=64, description=description)
