"""Reading contracts for the portal: the card with objects, meters, curators, branch contacts."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from crm.access import ContractGrant
from crm.extensions import db
from crm.models import Contract, EnergyObject, Meter, MeteringPoint


@dataclass
class ContractCard:
    contract: Contract
    energy_objects: list[EnergyObject]


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
