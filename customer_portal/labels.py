"""Human labels for the values stored in the database (roles, kinds, statuses, zones …).

Kept as data so templates ask `label("role", grant.role)` instead of spelling translations out;
an unknown value is shown as it is rather than failing.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from crm.models import (
    ContractKind,
    ContractRole,
    ContractStatus,
    Direction,
    InputStatus,
    PaymentTermKind,
    PersonType,
    ReadingSource,
    ReadingStatus,
    TariffZone,
)

LABELS = {
    "role": {
        ContractRole.ADMINISTRATOR: _l("Administrator"),
        ContractRole.MANAGER: _l("Manager"),
        ContractRole.POWER_ENGINEER: _l("Power engineer"),
        ContractRole.ACCOUNTANT: _l("Accountant"),
    },
    "contract_kind": {
        ContractKind.ELECTRICITY: _l("Electricity"),
        ContractKind.HEAT: _l("Heat supply"),
    },
    "contract_status": {
        ContractStatus.ACTIVE: _l("Active"),
        ContractStatus.SUSPENDED: _l("Suspended"),
        ContractStatus.TERMINATED: _l("Terminated"),
    },
    "person_type": {
        PersonType.LEGAL: _l("Legal entity"),
        PersonType.SOLE_PROPRIETOR: _l("Sole proprietor"),
        PersonType.INDIVIDUAL: _l("Individual"),
    },
    "input_status": {
        InputStatus.WAITING: _l("Waiting for readings"),
        InputStatus.RECEIVED: _l("Readings received"),
        InputStatus.NOT_REQUIRED: _l("Readings not required"),
    },
    "zone": {
        TariffZone.ALL_DAY: _l("All day"),
        TariffZone.DAY: _l("Day"),
        TariffZone.NIGHT: _l("Night"),
        TariffZone.PEAK: _l("Peak"),
        TariffZone.SEMI_PEAK: _l("Semi-peak"),
    },
    "direction": {
        Direction.IMPORT: _l("A+ (consumed)"),
        Direction.EXPORT: _l("A− (supplied)"),
        Direction.REACTIVE_IMPORT: _l("R+ (reactive, consumed)"),
        Direction.REACTIVE_EXPORT: _l("R− (reactive, supplied)"),
    },
    "reading_source": {
        ReadingSource.PORTAL: _l("Submitted via the customer portal"),
        ReadingSource.FILE: _l("From a file"),
        ReadingSource.STAFF: _l("Entered by staff"),
        ReadingSource.BILLING: _l("From the billing system"),
    },
    "reading_status": {
        ReadingStatus.SUBMITTED: _l("Submitted"),
        ReadingStatus.ACCEPTED: _l("Accepted"),
        ReadingStatus.REJECTED: _l("Rejected"),
    },
    "payment_term_kind": {
        PaymentTermKind.ADVANCE: _l("Interim payment"),
        PaymentTermKind.FINAL: _l("Final settlement"),
    },
}

#: Bootstrap colour of a status badge
BADGES = {
    "contract_status": {
        ContractStatus.ACTIVE: "success",
        ContractStatus.SUSPENDED: "warning",
        ContractStatus.TERMINATED: "secondary",
    },
    "input_status": {
        InputStatus.WAITING: "warning",
        InputStatus.RECEIVED: "success",
        InputStatus.NOT_REQUIRED: "secondary",
    },
    "reading_status": {
        ReadingStatus.SUBMITTED: "info",
        ReadingStatus.ACCEPTED: "success",
        ReadingStatus.REJECTED: "danger",
    },
    "contract_kind": {
        ContractKind.ELECTRICITY: "electricity",
        ContractKind.HEAT: "heat",
    },
}

#: Bootstrap Icons name per contract kind
KIND_ICONS = {ContractKind.ELECTRICITY: "lightning-charge", ContractKind.HEAT: "fire"}


def label(group: str, value) -> str:
    """The translated label of a stored value, or the value itself when it has none."""
    if value is None:
        return ""
    text = LABELS.get(group, {}).get(str(value))
    return str(text) if text is not None else str(value)


def badge(group: str, value) -> str:
    """The badge colour for a stored value ("secondary" when unknown)."""
    return BADGES.get(group, {}).get(str(value), "secondary")


def kind_icon(value) -> str:
    """The icon name for a contract kind."""
    return KIND_ICONS.get(str(value), "file-earmark-text")
