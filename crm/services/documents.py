"""Documents history of a contract (SPEC C10) [004 §7.1].

Filter by type (reconciliation act, acceptance act, acceptance statement, invoice, bill, penalty claim,
corrective invoice, all) and period (document date, both ends included); the contract is the one in the
URL, so a document of another contract is simply not found. A document downloads as its stored file
(`BillingDocument.file_key` in `crm.storage`) or, when the billing system sent none, as a PDF generated
from the print template. "Send to e-mail" enqueues `send_document_job`, which prepares the PDF, keeps it
in the storage and sends it through the outbox as an attachment to the user's confirmed e-mail.

`documents_history()` issues two statements whatever the number of documents (their count, and one page
of `PAGE_SIZE` rows). Read helpers never commit; `send_document` commits once.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from crm import clock
from crm.extensions import db
from crm.formatting import format_day
from crm.models.billing import BillingDocument, DocumentType
from crm.models.contract import Contract
from crm.services import ServiceError, message_templates
from crm.services.date_ranges import parse_date_range
from crm.services.settlements import add_months, contract_terms, due_date_for

ALL_TYPES = "all"
#: the seed's type filter, in its order [004 §7.1]
TYPES: tuple[str, ...] = (
    DocumentType.RECONCILIATION_ACT.value, DocumentType.ACCEPTANCE_ACT.value,
    DocumentType.ACCEPTANCE_STATEMENT.value, DocumentType.INVOICE.value, DocumentType.BILL.value,
    DocumentType.PENALTY_CLAIM.value, DocumentType.CORRECTIVE_INVOICE.value,
)
TYPE_LABELS = {
    "reconciliation_act": _l("Reconciliation act"),
    "acceptance_act": _l("Acceptance act"),
    "acceptance_statement": _l("Acceptance statement"),
    "invoice": _l("Invoice"),
    "bill": _l("Current-consumption bill"),
    "penalty_claim": _l("Penalty claim"),
    "corrective_invoice": _l("Corrective invoice"),
}
#: documents per page of the history
PAGE_SIZE = 50
PDF = "application/pdf"


def type_label(doc_type: str) -> str:
    text = TYPE_LABELS.get(doc_type)
    return str(text) if text is not None else doc_type


class DocumentsFilterError(ServiceError):
    """Bad filter input; `errors` maps each field (doc_type, date_from, date_to) to its message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(" ".join(errors.values()), field=next(iter(errors)), status=400)
        self.errors = errors


class DocumentEmailError(ServiceError):
    """The document cannot be sent by e-mail (no confirmed address)."""


@dataclass(frozen=True)
class DocumentsFilter:
    doc_type: str | None
    date_from: date
    date_to: date


@dataclass(frozen=True)
class DocumentsPage:
    """One page of the history (newest first), the number of the page and how many documents match."""

    rows: list[BillingDocument]
    count: int
    page: int = 1

    @property
    def pages(self) -> int:
        return max(1, -(-self.count // PAGE_SIZE))

    @property
    def first_index(self) -> int:
        return (self.page - 1) * PAGE_SIZE + 1


def default_filter(today: date | None = None) -> DocumentsFilter:
    """Every type, the last twelve months up to today's month end (the seed shows a year)."""
    today = today or clock.today()
    first = add_months(today.replace(day=1), -11)
    last = today.replace(day=calendar.monthrange(today.year, today.month)[1])
    return DocumentsFilter(None, first, last)


def parse_filter(raw_type: str | None, raw_from: str | None, raw_to: str | None,
                 today: date | None = None) -> DocumentsFilter:
    """The filter from query-string text; empty fields take their defaults; every problem at once."""
    default = default_filter(today)
    errors: dict[str, str] = {}
    doc_type = (raw_type or "").strip() or ALL_TYPES
    if doc_type != ALL_TYPES and doc_type not in TYPES:
        errors["doc_type"] = _("Choose a document type from the list.")
    date_from, date_to = parse_date_range(raw_from, raw_to, default.date_from, default.date_to, errors)
    if errors:
        raise DocumentsFilterError(errors)
    return DocumentsFilter(None if doc_type == ALL_TYPES else doc_type, date_from, date_to)


def parse_page(raw: str | None) -> int:
    """The page number from the query string; anything that is not a positive number is the first page."""
    raw = (raw or "").strip()
    return int(raw) if raw.isdigit() and 0 < int(raw) < 100_000 else 1


def documents_history(contract_id: int, chosen: DocumentsFilter, page: int = 1) -> DocumentsPage:
    """One page of the contract's documents of the chosen type and period, newest first (two statements);
    a page past the end shows the last one."""
    conditions = [BillingDocument.contract_id == contract_id, BillingDocument.doc_date >= chosen.date_from,
                  BillingDocument.doc_date <= chosen.date_to]
    if chosen.doc_type:
        conditions.append(BillingDocument.doc_type == chosen.doc_type)
    count = int(db.session.scalar(select(func.count(BillingDocument.id)).where(*conditions)) or 0)
    page = min(max(page, 1), max(1, -(-count // PAGE_SIZE)))
    rows = list(db.session.scalars(select(BillingDocument).where(*conditions)
                                   .order_by(BillingDocument.doc_date.desc(), BillingDocument.id.desc())
                                   .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE))) if count else []
    return DocumentsPage(rows=rows, count=count, page=page)


def get_document(contract_id: int, document_id: int) -> BillingDocument | None:
    """The document if it belongs to the contract (None otherwise: the caller answers 404)."""
    return db.session.scalar(select(BillingDocument).where(BillingDocument.id == document_id,
                                                           BillingDocument.contract_id == contract_id))


def document_title(doc: BillingDocument) -> str:
    return _("%(type)s No. %(number)s of %(day)s", type=type_label(doc.doc_type), number=doc.number,
             day=format_day(doc.doc_date))


def document_filename(doc: BillingDocument) -> str:
    """An ASCII file name: the type, the number's safe characters, the date."""
    safe = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else "-" for ch in doc.number).strip("-")
    return f"{doc.doc_type.replace('_', '-')}-{safe or doc.id}-{doc.doc_date:%Y%m%d}.pdf"


def generated_pdf(doc: BillingDocument) -> bytes:
    """A PDF of the document made from its data (when the billing system sent no file)."""
    from weasyprint import HTML

    contract: Contract = doc.contract
    due = due_date_for(doc.doc_type, doc.doc_date, doc.period, contract_terms(contract.id), doc.due_date)
    html = render_template("portal/print/document.html", doc=doc, contract=contract, due_date=due,
                           title=document_title(doc), type_label=type_label, generated_on=clock.today())
    return HTML(string=html).write_pdf()


def document_pdf(doc: BillingDocument) -> tuple[bytes, str]:
    """The document's PDF and its content type: the stored file, or a generated PDF when none is stored."""
    if doc.file_key:
        from crm.storage import StorageError, get_storage

        try:
            with get_storage().open(doc.file_key) as stored:
                return stored.read(), _content_type(doc.file_key)
        except StorageError:
            pass  # the file went missing: a generated copy beats an error page
    return generated_pdf(doc), PDF


def _content_type(key: str) -> str:
    lower = key.lower()
    if lower.endswith(".pdf"):
        return PDF
    if lower.endswith((".jpg", ".jpeg")):
        return "image/jpeg"
    if lower.endswith(".png"):
        return "image/png"
    return "application/octet-stream"


def request_email(contract_id: int, document_id: int, user) -> str:
    """Queue "send to e-mail" for the user's confirmed address; returns the address. The job prepares
    the file and sends it (in-process mode: at once)."""
    if not user.email or not getattr(user, "email_confirmed_at", None):
        raise DocumentEmailError(_("Confirm your e-mail address in the profile first: documents are sent only "
                                   "to a confirmed address."), field="email")
    from workflows.jobs import send_document_job
    from workflows.queue import enqueue

    try:
        enqueue(send_document_job, document_id, user.id, contract_id)
    except Exception as exc:  # Redis down: nothing was promised yet, so say so instead of failing the page
        raise DocumentEmailError(_("The document could not be queued for sending. Try again in a few minutes."),
                                 field="email", status=503) from exc
    return user.email


def send_document(document_id: int, user_id: int, contract_id: int) -> int | None:
    """Prepare the document's PDF, keep it in the storage and queue the e-mail with it attached (one
    commit). Returns the outbox id, or None when the document, the user or the address is gone."""
    from crm.models import CrmUser
    from crm.services.outbox import queue_email
    from crm.storage import get_storage

    doc = get_document(contract_id, document_id)
    user = db.session.get(CrmUser, user_id)
    if doc is None or user is None or not user.email or not user.email_confirmed_at:
        return None
    with force_locale(getattr(user, "locale", None) or current_app.config.get("BABEL_DEFAULT_LOCALE", "ru")):
        data, content_type = document_pdf(doc)
        suffix = ".pdf" if content_type == PDF else ""
        key = get_storage().put("mail", data, suffix)
        filename = document_filename(doc) if content_type == PDF else f"document-{doc.id}"
        title = document_title(doc)
    subject, body = message_templates.render_message("document.sent", user.locale, {
        "name": user.first_name or user.username, "title": title, "contract_number": doc.contract.number})
    row = queue_email(user.email, subject, body, user_id=user.id, category="document",
                      attachments=[{"key": key, "filename": filename, "content_type": content_type}])
    db.session.commit()
    return row.id
