"""Billing import (SPEC B9): validate and upsert billing records by their external id, from the REST API
or from an xlsx/csv file uploaded in the back office.

One batch is one transaction. Every item is parsed and checked first — field types, references to other
records by external id (in the database or earlier in the same batch), duplicates, natural keys taken by
another record — and every problem is collected; if there is any, `BillingImportError` lists them all and
nothing is written. Otherwise rows are created or updated (only changed fields), so the same batch sent
twice leaves the same rows and reports them unchanged. Lookups are set-based: one query per entity kind per
batch, whatever its size. One audit row records the batch.

The kinds and their columns are declared in `crm.services.billing_import_kinds` and `…_money`.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy.exc import IntegrityError

from crm.extensions import db
from crm.services import ServiceError, audit
from crm.services.billing_import_fields import FieldError, Month, check_pdf
from crm.services.spreadsheets import CSV, XLS, XLSX, read_table

#: the most items one batch may hold (the API refuses more; files are split by the operator)
MAX_ITEMS = 5000
#: pages of the API's record lists, as in the readings export
MAX_PAGE = 5000
DEFAULT_PAGE = 1000


@dataclass(frozen=True)
class Problem:
    """One reason an item cannot be imported: its number (file row or list index), field, localised reason."""

    kind: str
    number: int
    field: str | None
    message: str

    def as_dict(self) -> dict:
        return {"kind": self.kind, "number": self.number, "field": self.field, "message": self.message}


class BillingImportError(ServiceError):
    """The batch was refused; `problems` lists every problem found (nothing was written)."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.kind, p.number))
        super().__init__(ngettext("Nothing was imported: %(num)s problem was found.",
                                  "Nothing was imported: %(num)s problems were found.", len(problems)),
                         status=422)


class ImportConflictError(ServiceError):
    """The database refused the batch (a concurrent import changed the same records); retry."""


@dataclass
class Item:
    """One record of a batch: its number as the sender sees it and its raw values by column name."""

    number: int
    raw: dict[str, Any]
    values: dict[str, Any] = field(default_factory=dict)
    #: columns the item leaves out: an update keeps their stored values (a new row gets the defaults)
    absent: set[str] = field(default_factory=set)


@dataclass
class Batch:
    """What the kinds share while one batch is checked and applied."""

    problems: list[Problem] = field(default_factory=list)
    #: items of the batch per kind, by external id (for references within the batch)
    planned: dict[str, dict[str, Item]] = field(default_factory=dict)
    #: rows per kind by external id: found in the database, then created while applying
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    new_files: list[str] = field(default_factory=list)
    old_files: list[str] = field(default_factory=list)
    #: how problems name an item: "row" (a file) or "item" (a JSON list)
    word: str = "item"
    #: what each kind keeps between its lookups, checks and writes (natural keys, items seen …)
    state: dict[str, dict[str, Any]] = field(default_factory=dict)

    def problem(self, kind: str, item: Item, column: str | None, message: str) -> None:
        self.problems.append(Problem(kind, item.number, column, message))

    def count(self, kind: str, outcome: str) -> None:
        counts = self.counts.setdefault(kind, {"created": 0, "updated": 0, "unchanged": 0})
        counts[outcome] += 1

    def where(self, number: int) -> str:
        """How a problem points at another item: "row 5" or "item 5"."""
        return _("row %(number)s", number=number) if self.word == "row" else _("item %(number)s", number=number)

    def known(self, kind: str, external_id: str | None) -> bool:
        """True when a record of `kind` with this external id exists or comes earlier in the batch."""
        return external_id in self.rows.get(kind, {}) or external_id in self.planned.get(kind, {})


def kinds():
    """The import kinds in dependency order (tariffs before contracts before objects …)."""
    from crm.services.billing_import_kinds import CONTRACTS, METERS, OBJECTS, TARIFFS
    from crm.services.billing_import_money import DOCUMENTS, PAYMENTS

    return TARIFFS, CONTRACTS, OBJECTS, METERS, DOCUMENTS, PAYMENTS


def kind_of(name: str):
    """The kind named `name` (`contracts`, `objects` …); a `ServiceError` (404) for an unknown name."""
    for kind in kinds():
        if kind.name == name:
            return kind
    raise ServiceError(_("Unknown import kind: %(kind)s.", kind=name), field="kind", status=404)


def import_items(batch_items: dict[str, list[Item]], *, source: str, actor=None, detail: dict | None = None) -> dict:
    """Validate and upsert one batch (kind name → items) in one transaction; the counts per kind.
    Raises `BillingImportError` with every problem (nothing written) or `ImportConflictError`."""
    ordered = [kind for kind in kinds() if batch_items.get(kind.name)]
    if not ordered:
        return {}
    total = sum(len(batch_items[kind.name]) for kind in ordered)
    if total > MAX_ITEMS:
        raise ServiceError(_("A batch may hold at most %(max)s records; this one has %(count)s.",
                             max=MAX_ITEMS, count=total), status=413)
    batch = Batch(word="row" if source == "file" else "item")
    for kind in ordered:
        items = batch_items[kind.name]
        _parse(kind, items, batch)
        kind.load(items, batch)
        for item in items:
            if item.values.get("external_id") is not None:
                kind.check(item, batch)
    if batch.problems:
        db.session.rollback()
        raise BillingImportError(batch.problems)
    try:
        for kind in ordered:
            for item in batch_items[kind.name]:
                kind.apply(item, batch)
            db.session.flush()
        audit.record("billing_import", actor=actor, subject_type=",".join(kind.name for kind in ordered),
                     detail={"source": source, "counts": batch.counts, **(detail or {})})
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        _delete_files(batch.new_files)
        raise ImportConflictError(_("Another change to the same records was saved at the same time; "
                                    "nothing was imported. Send the batch again."), status=409) from exc
    except BaseException:
        db.session.rollback()
        _delete_files(batch.new_files)
        raise
    _delete_files(batch.old_files)
    return batch.counts


def _parse(kind, items: list[Item], batch: Batch) -> None:
    """Fill `item.values` field by field; unknown keys, unreadable values and repeated ids are problems."""
    fields = {f.name: f for f in kind.fields}
    seen: dict[str, int] = {}
    planned = batch.planned.setdefault(kind.name, {})
    for item in items:
        if not isinstance(item.raw, dict):
            batch.problem(kind.name, item, None, _("Expected an object with the record's fields."))
            continue
        for name in item.raw:
            if name not in fields and name not in kind.read_only:
                batch.problem(kind.name, item, name, _("Unknown field."))
        item.absent = {spec.name for spec in kind.fields if spec.name not in item.raw}
        for spec in kind.fields:
            try:
                item.values[spec.name] = spec.parse(item.raw.get(spec.name))
            except FieldError as error:
                batch.problem(kind.name, item, spec.name, error.message)
        external_id = item.values.get("external_id")
        if external_id is None:
            continue
        if external_id in seen:
            batch.problem(kind.name, item, "external_id",
                          _("The external id %(id)s is repeated: it is already in %(where)s.", id=external_id,
                            where=batch.where(seen[external_id])))
            continue
        seen[external_id] = item.number
        planned[external_id] = item


def _delete_files(keys: list[str]) -> None:
    from crm.storage import get_storage

    storage = get_storage()
    for key in keys:
        storage.delete(key)


# --- the API's entry points ------------------------------------------------------------------------

def import_records(kind_name: str, records: Any, *, actor=None, detail: dict | None = None) -> dict:
    """Upsert a JSON list of records of one kind (items are numbered from 1, as in the readings API)."""
    kind = kind_of(kind_name)
    if not isinstance(records, list):
        raise BillingImportError([Problem(kind.name, 0, None, _("Expected a JSON list of records."))])
    items = [Item(index, raw) for index, raw in enumerate(records, start=1)]
    return import_items({kind.name: items}, source="api", actor=actor, detail=detail)


def import_mixed(batch: Any, *, actor=None, detail: dict | None = None) -> dict:
    """Upsert a JSON object of lists by kind (`{"contracts": [...], "objects": [...]}`) in one transaction,
    so a record may refer to another one sent in the same batch."""
    names = {kind.name for kind in kinds()}
    if not isinstance(batch, dict) or not batch or set(batch) - names \
            or not all(isinstance(records, list) for records in batch.values()):
        raise BillingImportError([Problem("batch", 0, None, _("Expected an object of record lists by kind: "
                                                              "%(kinds)s.", kinds=", ".join(sorted(names))))])
    items = {name: [Item(index, raw) for index, raw in enumerate(records, start=1)] for name, records in batch.items()}
    return import_items(items, source="api", actor=actor, detail=detail)


def export_record(kind_name: str, external_id: str) -> dict | None:
    """One record in the shape of its upsert, or None when there is no record with this external id."""
    kind = kind_of(kind_name)
    row = kind.find(external_id)
    return None if row is None else kind.export(row)


#: the largest id an INTEGER key holds (PostgreSQL refuses a larger parameter instead of matching nothing)
MAX_ROW_ID = 2 ** 31 - 1


def export_page(kind_name: str, after_id: int = 0, limit: int = DEFAULT_PAGE) -> tuple[list[dict], int | None]:
    """One page of the records of a kind that have an external id, ordered by their internal id, and the
    `after_id` of the next page (None on the last one): the keyset paging of the readings API."""
    kind = kind_of(kind_name)
    if after_id < 0 or not 1 <= limit <= MAX_PAGE:
        raise ServiceError(_("limit must be from 1 to %(max)s and after_id not negative.", max=MAX_PAGE))
    rows = kind.page(min(after_id, MAX_ROW_ID), limit)  # beyond the column's range: the empty last page
    return [kind.export(row) for row in rows], (rows[-1].id if len(rows) == limit else None)


def attach_document_pdf(external_id: str, data: bytes, *, actor=None, detail: dict | None = None) -> bool:
    """Store the PDF of a billing document; True when it changed (the same file again changes nothing)."""
    from crm.services.billing_import_money import DOCUMENTS, store_pdf

    document = DOCUMENTS.find(external_id)
    if document is None:
        raise ServiceError(_("No billing document with the external id %(id)s.", id=external_id), status=404)
    try:
        check_pdf(data)
    except FieldError as error:
        raise BillingImportError([Problem("documents", 0, "pdf", error.message)]) from error
    batch = Batch()
    changed = store_pdf(document, data, batch)
    if changed:
        audit.record("billing_document_pdf", actor=actor, subject_type="billing_document", subject_id=document.id,
                     detail={"external_id": external_id, **(detail or {})})
    try:
        db.session.commit()
    except BaseException:
        db.session.rollback()
        _delete_files(batch.new_files)
        raise
    _delete_files(batch.old_files)
    return changed


# --- files ---------------------------------------------------------------------------------------

def import_file(kind_name: str, data: bytes, filename: str, *, actor=None) -> dict:
    """Upsert the rows of an xlsx/xls/csv file of one kind; its first row names the columns.
    Problems carry the row number as the operator sees it in Excel (the header is row 1)."""
    kind = kind_of(kind_name)
    rows = read_table(data, filename, allowed=(XLSX, XLS, CSV))
    rows = [row for row in rows if not row.is_blank]
    if not rows:
        raise BillingImportError([Problem(kind.name, 1, None, _("The file has no rows."))])
    header, body = rows[0], rows[1:]
    columns, problems = _read_header(kind, header)
    if problems:
        raise BillingImportError(problems)
    if not body:
        raise BillingImportError([Problem(kind.name, header.number, None, _("The file has no rows below the header."))])
    items = [Item(row.number, {name: row.cell(index) for index, name in columns.items()}) for row in body]
    return import_items({kind.name: items}, source="file", actor=actor, detail={"file": filename[:255]})


def _read_header(kind, header) -> tuple[dict[int, str], list[Problem]]:
    names = {f.name for f in kind.fields if f.in_files}
    columns: dict[int, str] = {}
    problems: list[Problem] = []
    for index in range(len(header.values)):
        title = (str(header.cell(index) or "")).strip().lower()
        if not title:
            continue
        if title not in names:
            problems.append(Problem(kind.name, header.number, title, _("Unknown column.")))
        elif title in columns.values():
            problems.append(Problem(kind.name, header.number, title, _("The column is repeated.")))
        else:
            columns[index] = title
    for spec in kind.fields:
        if spec.in_files and spec.required and spec.name not in columns.values():
            problems.append(Problem(kind.name, header.number, spec.name, _("Required column is missing.")))
    return columns, problems


def template_workbook(kind_name: str) -> bytes:
    """An xlsx with the kind's columns as the header row and one example row."""
    import xlsxwriter

    kind = kind_of(kind_name)
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet(kind.name)
    bold = workbook.add_format({"bold": True, "bg_color": "#E8EEF7", "border": 1})
    text = workbook.add_format({"num_format": "@"})
    day = workbook.add_format({"num_format": "dd.mm.yyyy"})
    columns = [spec for spec in kind.fields if spec.in_files]
    for col, spec in enumerate(columns):
        sheet.write_string(0, col, spec.name, bold)
        if spec.description:
            sheet.write_comment(0, col, str(spec.description))
        sheet.set_column(col, col, max(14, len(spec.name) + 2))
        example = spec.example
        if example is None:
            continue
        if isinstance(example, date) and not isinstance(spec, Month):
            sheet.write_datetime(1, col, example, day)
        elif isinstance(example, Decimal):
            sheet.write_number(1, col, float(example))
        elif isinstance(example, bool):
            sheet.write_string(1, col, "1" if example else "0", text)
        elif isinstance(example, (tuple, list)):
            sheet.write_string(1, col, ", ".join(spec.dump(example)), text)
        else:
            sheet.write_string(1, col, str(spec.dump(example)), text)
    sheet.freeze_panes(1, 0)
    workbook.close()
    return buffer.getvalue()
