"""Reading contracts for the portal: the list rows and the card with objects, meters and contacts.

Read helpers: they never commit. Every function issues a fixed number of statements whatever the
number of contracts, objects or meters (relationships are eager-loaded with `selectinload`).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm.access import ContractGrant
from crm.extensions import db
from crm.models import Branch, Contract, ContractRole, Counterparty, EnergyObject, Meter, MeteringPoint


@dataclass(frozen=True)
class ContractRow:
    """One line of the user's contract list."""

    contract: Contract
    counterparty: Counterparty
    branch: Branch | None
    role: ContractRole


def contract_rows(grants: list[ContractGrant]) -> list[ContractRow]:
    """The grants as list rows, with their branches loaded in one statement."""
    branch_ids = {grant.contract.branch_id for grant in grants}
    branches = {}
    if branch_ids:
        branches = {b.id: b for b in db.session.scalars(select(Branch).where(Branch.id.in_(branch_ids)))}
    return [ContractRow(grant.contract, grant.contract.counterparty, branches.get(grant.contract.branch_id),
                        grant.role)
            for grant in grants]


@dataclass
class ContractCard:
    contract: Contract
    energy_objects: list[EnergyObject]

    @property
    def meter_count(self) -> int:
        return sum(len(self.meters_of(obj)) for obj in self.energy_objects)

    @staticmethod
    def meters_of(energy_object: EnergyObject) -> list[Meter]:
        """Every meter of the object, across its metering points."""
        return [meter for point in energy_object.metering_points for meter in point.meters]


def contract_card(grant: ContractGrant) -> ContractCard:
    """The contract with its requisites and the objects (within the grant's scope), in constant queries."""
    contract = db.session.scalars(
        select(Contract).where(Contract.id == grant.contract.id).options(
            selectinload(Contract.counterparty),
            selectinload(Contract.branch),
            selectinload(Contract.curators),
            selectinload(Contract.payment_terms),
            selectinload(Contract.contact_persons),
            selectinload(Contract.tariff),
        )
    ).one()
    query = (
        select(EnergyObject)
        .where(EnergyObject.contract_id == contract.id)
        .order_by(EnergyObject.code)
        .options(
            selectinload(EnergyObject.metering_points)
            .selectinload(MeteringPoint.meters)
            .selectinload(Meter.registers)
        )
    )
    if grant.object_ids is not None:
        query = query.where(EnergyObject.id.in_(grant.object_ids))
    return ContractCard(contract=contract, energy_objects=list(db.session.scalars(query)))
