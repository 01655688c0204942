"""Services catalog and orders (SPEC C14): the catalog, placing an order, the customer's history,
staff processing (status, comment, a bill on the contract) and the price list as xlsx.

Every writer here owns its transaction: it validates everything first, then changes rows, queues
its e-mail through the outbox and commits once, so a refused request changes nothing.
"""
from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation

import xlsxwriter
from flask import render_template
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm import clock
from crm.access import accessible_contracts
from crm.extensions import db
from crm.formatting import format_day
from crm.models import BillingDocument, Service, ServiceOrder
from crm.models.billing import DocumentType, SaleKind
from crm.services import ServiceError, accounts, audit, outbox
from crm.storage import StorageError, get_storage

#: Order statuses in the order they normally follow.
STATUSES = ("new", "in_progress", "bill_issued", "done", "cancelled")
#: status → statuses staff may move an order to ("bill_issued" only through `issue_bill`).
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"in_progress", "done", "cancelled"}),
    "in_progress": frozenset({"done", "cancelled"}),
    "bill_issued": frozenset({"done", "cancelled"}),
    "done": frozenset(),
    "cancelled": frozenset(),
}
BILLABLE = frozenset({"new", "in_progress"})
NUMBER_PREFIX = "У"
TASK_MIN, TASK_MAX = 10, 2000
NAME_MAX = 255
COMMENT_MAX = 2000
BILL_DUE_DAYS = 10
PICTURE_MAX_BYTES = 2 * 1024 * 1024
#: leading bytes → file suffix of the pictures we accept (no SVG: it can carry script)
PICTURE_KINDS = ((b"\x89PNG\r\n\x1a\n", ".png"), (b"\xff\xd8\xff", ".jpg"), (b"RIFF", ".webp"))
PICTURE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".webp": "image/webp"}


class OrderError(ServiceError):
    """The order or the staff decision is refused; `problems` maps a field to its messages."""

    def __init__(self, problems: dict[str, list[str]], status: int = 400):
        super().__init__(" ".join(m for ms in problems.values() for m in ms), status=status)
        self.problems = problems


def status_label(status: str) -> str:
    """The status as the customer and staff read it."""
    return {
        "new": _("Received"), "in_progress": _("In progress"), "bill_issued": _("Bill issued"),
        "done": _("Done"), "cancelled": _("Cancelled"),
    }.get(status, status)


# --- catalog -----------------------------------------------------------------------------------

def catalog() -> list[Service]:
    """Active services in the order staff set."""
    return list(db.session.scalars(select(Service).where(Service.active.is_(True))
                                   .order_by(Service.position, Service.name)))


def get_active_service(service_id: int) -> Service | None:
    return db.session.scalar(select(Service).where(Service.id == service_id, Service.active.is_(True)))


def picture(service: Service) -> tuple[bytes, str] | None:
    """The service's picture bytes and content type, or None when it has none (or the file is gone)."""
    if not service.picture_key:
        return None
    suffix = "." + service.picture_key.rsplit(".", 1)[-1]
    try:
        with get_storage().open(service.picture_key) as handle:
            return handle.read(), PICTURE_TYPES.get(suffix, "application/octet-stream")
    except (OSError, StorageError):  # a missing file shows the placeholder instead of failing the page
        return None


def store_picture(data: bytes) -> str:
    """Check an uploaded picture (PNG, JPEG or WebP, at most 2 MB) and store it; returns its key."""
    if not data:
        raise OrderError({"picture": [_("Choose a picture file.")]})
    if len(data) > PICTURE_MAX_BYTES:
        raise OrderError({"picture": [_("The picture is larger than 2 MB.")]})
    suffix = next((s for magic, s in PICTURE_KINDS if data.startswith(magic)
                   and (s != ".webp" or data[8:12] == b"WEBP")), None)
    if suffix is None:
        raise OrderError({"picture": [_("The picture must be a PNG, JPEG or WebP image.")]})
    return get_storage().put("service_pictures", data, suffix)


# --- placing and listing orders ----------------------------------------------------------------

@dataclass
class OrderDraft:
    """What the order form starts with: the user's profile data."""

    contract_id: int | None
    contact_name: str
    phone: str


def draft_for(user, selected_contract_id: int | None = None) -> OrderDraft:
    return OrderDraft(contract_id=selected_contract_id, contact_name=user.full_name or "", phone=user.phone or "")


def place_order(user, service_id: int, contract_id: int | None, contact_name: str, phone: str,
                task: str) -> ServiceOrder:
    """Validate every field, save the order with its number and e-mail the confirmation."""
    problems: dict[str, list[str]] = {}
    service = get_active_service(service_id) if service_id else None
    if service is None:
        problems["service"] = [_("This service is not available for ordering.")]
    if contract_id is not None and contract_id not in {g.contract.id for g in accessible_contracts(user)}:
        problems["contract_id"] = [_("Choose one of your contracts.")]
    contact_name = (contact_name or "").strip()
    if not contact_name:
        problems["contact_name"] = [_("Enter the contact person's name.")]
    elif len(contact_name) > NAME_MAX:
        problems["contact_name"] = [_("The name is too long (at most %(max)d characters).", max=NAME_MAX)]
    try:
        phone = accounts.normalise_phone(phone)
    except accounts.ValidationError as exc:
        problems["phone"] = exc.problems["phone"]
    task = (task or "").strip()
    if len(task) < TASK_MIN:
        problems["task"] = [_("Describe the task (at least %(min)d characters).", min=TASK_MIN)]
    elif len(task) > TASK_MAX:
        problems["task"] = [_("The description is too long (at most %(max)d characters).", max=TASK_MAX)]
    if problems:
        raise OrderError(problems)
    order = ServiceOrder(number=f"tmp-{uuid.uuid4().hex[:24]}", service=service, user_id=user.id,
                         contract_id=contract_id, contact_name=contact_name, phone=phone, task=task,
                         status="new", created_at=clock.now())
    db.session.add(order)
    db.session.flush()
    # The id is unique, so the number is too, without a counter row that concurrent orders would fight over.
    order.number = f"{NUMBER_PREFIX}-{order.created_at:%Y}-{order.id:06d}"
    if user.email:
        outbox.queue_email(user.email, _("Service order %(number)s", number=order.number),
                           render_template("email/service_order_placed.txt", user=user, order=order),
                           user_id=user.id, category="service_order")
    audit.record("service_order.placed", actor=user, subject_type="service_order", subject_id=order.id)
    db.session.commit()
    return order


def order_history(user) -> list[ServiceOrder]:
    """The user's own orders, newest first (service, contract and bill loaded with them)."""
    return list(db.session.scalars(
        select(ServiceOrder).where(ServiceOrder.user_id == user.id)
        .options(selectinload(ServiceOrder.service), selectinload(ServiceOrder.contract))
        .order_by(ServiceOrder.created_at.desc(), ServiceOrder.id.desc())))


def get_own_order(user, order_id: int) -> ServiceOrder | None:
    """The order if the user placed it (None otherwise: the caller answers 404)."""
    return db.session.scalar(select(ServiceOrder).where(ServiceOrder.id == order_id,
                                                        ServiceOrder.user_id == user.id))


# --- staff processing --------------------------------------------------------------------------

def _order_for_update(order_id: int) -> ServiceOrder:
    order = db.session.get(ServiceOrder, order_id)
    if order is None:
        raise OrderError({"order": [_("The order does not exist.")]}, status=404)
    return order


def _clean_comment(comment: str | None, problems: dict) -> str | None:
    comment = (comment or "").strip() or None
    if comment and len(comment) > COMMENT_MAX:
        problems["comment"] = [_("The comment is too long (at most %(max)d characters).", max=COMMENT_MAX)]
    return comment


def _notify_customer(order: ServiceOrder) -> None:
    user = order.user
    if user is not None and user.email:
        outbox.queue_email(user.email, _("Service order %(number)s: %(status)s", number=order.number,
                                         status=status_label(order.status)),
                           render_template("email/service_order_status.txt", user=user, order=order,
                                           status=status_label(order.status), bill=order_bill(order)),
                           user_id=user.id, category="service_order")


def change_status(order_id: int, staff, status: str, comment: str | None = None) -> ServiceOrder:
    """Move the order to `status` as its workflow allows; the customer is told by e-mail."""
    order = _order_for_update(order_id)
    problems: dict[str, list[str]] = {}
    if status not in TRANSITIONS.get(order.status, ()):
        problems["status"] = [_("An order in status «%(current)s» cannot become «%(target)s».",
                                current=status_label(order.status), target=status_label(status))]
    comment = _clean_comment(comment, problems)
    if problems:
        raise OrderError(problems)
    order.status = status
    if comment:
        order.staff_comment = comment
    order.processed_by_id, order.processed_at = staff.id, clock.now()
    _notify_customer(order)
    audit.record("service_order.status", actor=staff, subject_type="service_order", subject_id=order.id,
                 detail={"status": status})
    db.session.commit()
    return order


def parse_amount(raw) -> Decimal | None:
    """A positive amount with at most two decimals from '4 500,50' or '4500.5'; None if it is not one."""
    text = str(raw or "").replace("\u00a0", "").replace(" ", "").replace(",", ".")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")) \
            or amount >= Decimal("1e12"):
        return None
    return amount


def issue_bill(order_id: int, staff, amount, comment: str | None = None) -> BillingDocument:
    """Create a bill (счёт на оплату) on the order's contract for `amount`, link it to the order and
    mark the order "bill issued"; the bill then shows in the customer's documents and debt."""
    order = _order_for_update(order_id)
    problems: dict[str, list[str]] = {}
    if order.status not in BILLABLE:
        problems["status"] = [_("A bill can be issued only for a new order or one in progress.")]
    if order.contract_id is None:
        problems["contract"] = [_("The order has no contract: a bill needs one.")]
    value = parse_amount(amount)
    if value is None:
        problems["amount"] = [_("Enter the amount of the bill, a positive number of roubles.")]
    comment = _clean_comment(comment, problems)
    if problems:
        raise OrderError(problems)
    today = clock.today()
    bill = BillingDocument(contract_id=order.contract_id, doc_type=DocumentType.BILL.value, number=order.number,
                           doc_date=today, period=today.replace(day=1), sale_kind=SaleKind.MAIN.value,
                           amount=value, amount_due=value, due_date=today + timedelta(days=BILL_DUE_DAYS))
    db.session.add(bill)
    db.session.flush()
    order.bill_document_id = bill.id
    order.status = "bill_issued"
    if comment:
        order.staff_comment = comment
    order.processed_by_id, order.processed_at = staff.id, clock.now()
    _notify_customer(order)
    audit.record("service_order.bill", actor=staff, subject_type="service_order", subject_id=order.id,
                 detail={"document_id": bill.id, "amount": str(value)})
    db.session.commit()
    return bill


def order_bill(order: ServiceOrder) -> BillingDocument | None:
    return db.session.get(BillingDocument, order.bill_document_id) if order.bill_document_id else None


# --- price list --------------------------------------------------------------------------------

def price_list_xlsx() -> bytes:
    """The active services with their approximate prices, as a spreadsheet to download or print."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet(_("Price list")[:31])
    title = workbook.add_format({"bold": True, "font_size": 14})
    header = workbook.add_format({"bold": True, "bg_color": "#E7EEF7", "border": 1, "text_wrap": True})
    cell = workbook.add_format({"border": 1, "text_wrap": True, "valign": "top"})
    money = workbook.add_format({"border": 1, "num_format": "#,##0.00", "valign": "top"})
    sheet.write(0, 0, _("Price list of services"), title)
    sheet.write(1, 0, _("As of %(day)s. Prices are approximate and are not a public offer.",
                        day=format_day(clock.today())))
    headers = [_("No."), _("Service"), _("Description"), _("Approximate price, ₽"), _("Note")]
    for column, text in enumerate(headers):
        sheet.write(3, column, text, header)
    for row, service in enumerate(catalog(), start=4):
        sheet.write_number(row, 0, row - 3, cell)
        sheet.write(row, 1, service.name, cell)
        sheet.write(row, 2, service.description or "", cell)
        if service.approx_price is not None:
            sheet.write_number(row, 3, float(service.approx_price), money)
        else:
            sheet.write_blank(row, 3, None, money)
        sheet.write(row, 4, service.price_note or "", cell)
    for column, width in enumerate((6, 40, 70, 18, 20)):
        sheet.set_column(column, column, width)
    workbook.close()
    return buffer.getvalue()
