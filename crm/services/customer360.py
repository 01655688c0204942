"""Customer 360 (SPEC B2): everything about one counterparty on one page.

`customer_360()` loads it in a constant number of queries whatever the number of contracts,
objects, meters or users: one query per kind of thing (collections by `IN (contract ids)` or
selectinload, sums by GROUP BY), never one per row. It only reads.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

from sqlalchemy import and_, func, select
from sqlalchemy.orm import joinedload, selectinload

from crm.extensions import db
from crm.models import (
    Appeal,
    AuditLog,
    BillingDocument,
    Contract,
    ContractAccess,
    Counterparty,
    EnergyObject,
    Meter,
    MeteringPoint,
    Payment,
    Reading,
    Register,
    ServiceOrder,
    WorkflowState,
)
from crm.models.types import ZERO

LATEST_DOCUMENTS = 10
LATEST_PAYMENTS = 10
LATEST_APPEALS = 10
LATEST_READINGS = 10
LATEST_ORDERS = 10
LATEST_AUDIT = 20
# Objects listed per contract (the counts cover all of them; the contract's card pages through them):
# the huge contract's 300 objects and 900 meter links made the page 425 KB.
SHOWN_OBJECTS = 20


@dataclass
class ContractSummary:
    """One contract with its objects (points and meters loaded), users and balance."""

    contract: Contract
    energy_objects: list[EnergyObject] = field(default_factory=list)
    accesses: list[ContractAccess] = field(default_factory=list)
    balance: Decimal = ZERO  # sum of amounts due: > 0 debt, < 0 overpayment

    @property
    def object_count(self) -> int:
        return len(self.energy_objects)

    @property
    def meter_count(self) -> int:
        return sum(len(point.meters) for obj in self.energy_objects for point in obj.metering_points)

    @property
    def shown_objects(self) -> list[EnergyObject]:
        return self.energy_objects[:SHOWN_OBJECTS]


@dataclass
class AppealLine:
    appeal: Appeal
    state_label: str


@dataclass
class ReadingLine:
    reading: Reading
    contract_id: int
    object_code: str
    meter_serial: str
    zone: str
    direction: str


@dataclass
class Customer360:
    counterparty: Counterparty
    contracts: list[ContractSummary]
    documents: list[BillingDocument]
    payments: list[Payment]
    appeals: list[AppealLine]
    readings: list[ReadingLine]
    orders: list[ServiceOrder]
    audit: list[AuditLog]

    @property
    def total_balance(self) -> Decimal:
        return sum((c.balance for c in self.contracts), ZERO)

    @cached_property
    def contract_numbers(self) -> dict[int, str]:
        return {c.contract.id: c.contract.number for c in self.contracts}


def customer_360(counterparty_id: int) -> Customer360 | None:
    """The counterparty's whole picture, or None when it does not exist."""
    counterparty = db.session.get(Counterparty, counterparty_id)
    if counterparty is None:
        return None
    contracts = db.session.scalars(
        select(Contract).where(Contract.counterparty_id == counterparty_id).order_by(Contract.number)
        .options(joinedload(Contract.branch), selectinload(Contract.curators))
    ).unique().all()
    summaries = {c.id: ContractSummary(contract=c) for c in contracts}
    audit = _audit(counterparty_id)
    if not summaries:
        return Customer360(counterparty, [], [], [], [], [], [], audit)
    ids = list(summaries)

    for obj in db.session.scalars(
        select(EnergyObject).where(EnergyObject.contract_id.in_(ids)).order_by(EnergyObject.code)
        .options(selectinload(EnergyObject.metering_points).selectinload(MeteringPoint.meters))
    ):
        summaries[obj.contract_id].energy_objects.append(obj)

    for access in db.session.scalars(
        select(ContractAccess).where(ContractAccess.contract_id.in_(ids)).order_by(ContractAccess.granted_at)
        .options(joinedload(ContractAccess.user))
    ):
        summaries[access.contract_id].accesses.append(access)

    for contract_id, due in db.session.execute(
        select(BillingDocument.contract_id, func.coalesce(func.sum(BillingDocument.amount_due), 0))
        .where(BillingDocument.contract_id.in_(ids)).group_by(BillingDocument.contract_id)
    ):
        summaries[contract_id].balance = Decimal(due)

    return Customer360(
        counterparty=counterparty,
        contracts=list(summaries.values()),
        documents=_latest_documents(ids),
        payments=_latest_payments(ids),
        appeals=_latest_appeals(ids),
        readings=_latest_readings(ids),
        orders=_latest_orders(ids),
        audit=audit,
    )


def _latest_documents(ids: list[int]) -> list[BillingDocument]:
    return list(db.session.scalars(
        select(BillingDocument).where(BillingDocument.contract_id.in_(ids))
        .order_by(BillingDocument.doc_date.desc(), BillingDocument.id.desc()).limit(LATEST_DOCUMENTS)
    ))


def _latest_payments(ids: list[int]) -> list[Payment]:
    return list(db.session.scalars(
        select(Payment).where(Payment.contract_id.in_(ids))
        .order_by(Payment.paid_on.desc(), Payment.id.desc()).limit(LATEST_PAYMENTS)
    ))


def _latest_appeals(ids: list[int]) -> list[AppealLine]:
    rows = db.session.execute(
        select(Appeal, WorkflowState.staff_label)
        .outerjoin(WorkflowState, and_(WorkflowState.workflow_id == Appeal.workflow_id,
                                       WorkflowState.code == Appeal.state_code))
        .where(Appeal.contract_id.in_(ids))
        .order_by(Appeal.created_at.desc(), Appeal.id.desc()).limit(LATEST_APPEALS)
        .options(joinedload(Appeal.section))
    ).unique()
    return [AppealLine(appeal, label or appeal.state_code) for appeal, label in rows]


def _latest_readings(ids: list[int]) -> list[ReadingLine]:
    rows = db.session.execute(
        select(Reading, EnergyObject.contract_id, EnergyObject.code, Meter.serial, Register.zone,
               Register.direction)
        .join(Register, Reading.register_id == Register.id)
        .join(Meter, Register.meter_id == Meter.id)
        .join(MeteringPoint, Meter.metering_point_id == MeteringPoint.id)
        .join(EnergyObject, MeteringPoint.energy_object_id == EnergyObject.id)
        .where(EnergyObject.contract_id.in_(ids))
        .order_by(Reading.submitted_at.desc(), Reading.id.desc()).limit(LATEST_READINGS)
    )
    return [ReadingLine(reading, contract_id, code, serial, zone, direction)
            for reading, contract_id, code, serial, zone, direction in rows]


def _latest_orders(ids: list[int]) -> list[ServiceOrder]:
    return list(db.session.scalars(
        select(ServiceOrder).where(ServiceOrder.contract_id.in_(ids))
        .order_by(ServiceOrder.created_at.desc(), ServiceOrder.id.desc()).limit(LATEST_ORDERS)
        .options(joinedload(ServiceOrder.service))
    ))


def _audit(counterparty_id: int) -> list[AuditLog]:
    return list(db.session.scalars(
        select(AuditLog).where(AuditLog.counterparty_id == counterparty_id)
        .order_by(AuditLog.created_at.desc(), AuditLog.id.desc()).limit(LATEST_AUDIT)
    ))

