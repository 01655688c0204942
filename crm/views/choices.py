"""Human labels for the enum-like string columns, shared by lists, filters and edit forms.

Each list keeps the order the choices appear in a select box; `label_of()` and the formatters
built from these lists turn a stored value into its Russian label.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from crm.models.access import ContractRole
from crm.models.billing import DocumentType, PaymentStatus, SaleKind
from crm.models.contract import PRICE_CATEGORIES, ContractKind, ContractStatus, PaymentTermKind
from crm.models.counterparty import PersonType
from crm.models.metering import Direction, InputStatus, ReadingSource, ReadingStatus, TariffZone
from crm.models.outbox import OutboxStatus

PERSON_TYPES = [
    (PersonType.LEGAL.value, _l("Legal entity")),
    (PersonType.SOLE_PROPRIETOR.value, _l("Sole proprietor")),
    (PersonType.INDIVIDUAL.value, _l("Individual")),
]

CONTRACT_KINDS = [
    (ContractKind.ELECTRICITY.value, _l("Electricity supply")),
    (ContractKind.HEAT.value, _l("Heat supply")),
]

CONTRACT_STATUSES = [
    (ContractStatus.ACTIVE.value, _l("In force")),
    (ContractStatus.SUSPENDED.value, _l("Suspended")),
    (ContractStatus.TERMINATED.value, _l("Terminated")),
]

PRICE_CATEGORY_CHOICES = [(value, value) for value in PRICE_CATEGORIES]

INPUT_STATUSES = [
    (InputStatus.WAITING.value, _l("Waiting for readings")),
    (InputStatus.RECEIVED.value, _l("Readings received")),
    (InputStatus.NOT_REQUIRED.value, _l("Readings not required")),
]

TARIFF_ZONES = [
    (TariffZone.ALL_DAY.value, _l("Round the clock")),
    (TariffZone.DAY.value, _l("Day")),
    (TariffZone.NIGHT.value, _l("Night")),
    (TariffZone.PEAK.value, _l("Peak")),
    (TariffZone.SEMI_PEAK.value, _l("Semi-peak")),
]

DIRECTIONS = [
    (Direction.IMPORT.value, _l("A+ (active, received)")),
    (Direction.EXPORT.value, _l("A− (active, given back)")),
    (Direction.REACTIVE_IMPORT.value, _l("R+ (reactive, received)")),
    (Direction.REACTIVE_EXPORT.value, _l("R− (reactive, given back)")),
]

READING_SOURCES = [
    (ReadingSource.PORTAL.value, _l("Submitted via portal")),
    (ReadingSource.FILE.value, _l("Uploaded file")),
    (ReadingSource.STAFF.value, _l("Entered by staff")),
    (ReadingSource.BILLING.value, _l("From the billing system")),
]

READING_STATUSES = [
    (ReadingStatus.SUBMITTED.value, _l("Submitted")),
    (ReadingStatus.ACCEPTED.value, _l("Accepted")),
    (ReadingStatus.REJECTED.value, _l("Rejected")),
]

DOCUMENT_TYPES = [
    (DocumentType.INVOICE.value, _l("Invoice")),
    (DocumentType.CORRECTIVE_INVOICE.value, _l("Corrective invoice")),
    (DocumentType.BILL.value, _l("Bill")),
    (DocumentType.RECONCILIATION_ACT.value, _l("Reconciliation act")),
    (DocumentType.ACCEPTANCE_ACT.value, _l("Acceptance act")),
    (DocumentType.ACCEPTANCE_STATEMENT.value, _l("Acceptance statement")),
    (DocumentType.PENALTY_CLAIM.value, _l("Penalty claim")),
]

SALE_KINDS = [
    (SaleKind.MAIN.value, _l("Main sale")),
    (SaleKind.ADVANCE.value, _l("Advance")),
    (SaleKind.PENALTY.value, _l("Penalty")),
]

PAYMENT_STATUSES = [
    (PaymentStatus.PAID.value, _l("Paid")),
    (PaymentStatus.PENDING.value, _l("Awaiting payment")),
    (PaymentStatus.FAILED.value, _l("Payment failed")),
    (PaymentStatus.REFUNDED.value, _l("Refunded")),
]

PAYMENT_TERM_KINDS = [
    (PaymentTermKind.ADVANCE.value, _l("Interim payment (current consumption)")),
    (PaymentTermKind.FINAL.value, _l("Final settlement (month's invoice)")),
]

CONTRACT_ROLES = [
    (ContractRole.ADMINISTRATOR.value, _l("Administrator")),
    (ContractRole.MANAGER.value, _l("Manager")),
    (ContractRole.POWER_ENGINEER.value, _l("Power engineer")),
    (ContractRole.ACCOUNTANT.value, _l("Accountant")),
]

OUTBOX_STATUSES = [
    (OutboxStatus.PENDING.value, _l("Queued")),
    (OutboxStatus.SENDING.value, _l("Sending")),
    (OutboxStatus.SENT.value, _l("Sent")),
    (OutboxStatus.FAILED.value, _l("Delivery failed")),
    (OutboxStatus.HELD.value, _l("Held (no SMTP configured)")),
]

STAFF_ROLE_LABELS = {
    "Admin": _l("Administrator (staff)"),
    "Curator": _l("Curator"),
    "Billing operator": _l("Billing operator"),
    "Auditor": _l("Auditor"),
}


def label_of(choices, value):
    """The label of `value` in a choices list, or the value itself when it is not listed."""
    if value is None or value == "":
        return ""
    for key, label in choices:
        if key == value:
            return label
    return value
