"""Reading contracts for the portal: the list rows and the card with objects, meters and contacts.

Read helpers never commit and issue a fixed number of statements whatever the number of contracts,
objects or meters (relationships are eager-loaded with `selectinload`); the writers at the end
(selector, contact persons) own their transaction.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from crm.access import ContractGrant
from crm.extensions import db
from crm.models import (
    MAX_CONTACT_PERSONS,
    Branch,
    ContactPerson,
    Contract,
    ContractRole,
    Counterparty,
    EnergyObject,
    Meter,
    MeteringPoint,
)
from crm.services import ServiceError, audit


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


# The card shows the first objects only: a contract may have hundreds of objects and meters
# (900 meters at scale 1 rendered a 3 MB page); the objects page pages through all of them.
CARD_OBJECT_LIMIT = 10


@dataclass
class ContractCard:
    contract: Contract
    energy_objects: list[EnergyObject]
    # In the scope, all of them (the card may show only the first `CARD_OBJECT_LIMIT`); None = count shown.
    total_objects: int | None = None
    total_meters: int | None = None

    @property
    def object_count(self) -> int:
        return len(self.energy_objects) if self.total_objects is None else self.total_objects

    @property
    def meter_count(self) -> int:
        if self.total_meters is not None:
            return self.total_meters
        return sum(len(self.meters_of(obj)) for obj in self.energy_objects)

    @property
    def truncated(self) -> bool:
        return self.object_count > len(self.energy_objects)

    @staticmethod
    def meters_of(energy_object: EnergyObject) -> list[Meter]:
        """Every meter of the object, across its metering points."""
        return [meter for point in energy_object.metering_points for meter in point.meters]


def contract_card(grant: ContractGrant, limit: int | None = None) -> ContractCard:
    """The contract with its requisites and the objects (within the grant's scope), in two statements;
    with `limit`, the first `limit` objects by code and, when there are more, one statement counting
    all objects and meters in the scope.

    Joined eager loads: the collections are small by rule (≤ 9 contact persons, a few curators and
    payment terms; the objects' rows are one per register), so one round trip each beats a
    statement per relationship (the card is the most visited portal page)."""
    contract = db.session.scalars(
        select(Contract).where(Contract.id == grant.contract.id).options(
            joinedload(Contract.counterparty),
            joinedload(Contract.branch),
            joinedload(Contract.curators),
            joinedload(Contract.payment_terms),
            joinedload(Contract.contact_persons),
            joinedload(Contract.tariff),
        )
    ).unique().one()
    query = (
        select(EnergyObject)
        .where(EnergyObject.contract_id == contract.id)
        .order_by(EnergyObject.code, EnergyObject.id)
        .options(
            joinedload(EnergyObject.metering_points)
            .joinedload(MeteringPoint.meters)
            .joinedload(Meter.registers)
        )
    )
    if grant.object_ids is not None:
        query = query.where(EnergyObject.id.in_(sorted(grant.object_ids)))
    if limit is None:
        return ContractCard(contract=contract, energy_objects=list(db.session.scalars(query).unique()))
    # One more than shown tells whether there are more (SQLAlchemy limits the objects, not the joined rows).
    objects = list(db.session.scalars(query.limit(limit + 1)).unique())
    if len(objects) <= limit:
        return ContractCard(contract=contract, energy_objects=objects)
    counts = (select(func.count(func.distinct(EnergyObject.id)), func.count(Meter.id))
              .select_from(EnergyObject)
              .outerjoin(MeteringPoint, MeteringPoint.energy_object_id == EnergyObject.id)
              .outerjoin(Meter, Meter.metering_point_id == MeteringPoint.id)
              .where(EnergyObject.contract_id == contract.id))
    if grant.object_ids is not None:
        counts = counts.where(EnergyObject.id.in_(sorted(grant.object_ids)))
    total_objects, total_meters = db.session.execute(counts).one()
    return ContractCard(contract=contract, energy_objects=objects[:limit], total_objects=total_objects,
                        total_meters=total_meters)


# --- writing: the selector, contact persons (SPEC C5) -------------------------------------------

class ContractError(ServiceError):
    """A contract change was refused; nothing was changed."""


def save_selector(user, grants: list[ContractGrant], contract_ids) -> None:
    """Keep these of the user's contracts in the selector [003 §4]; at least one. Commits."""
    own = [grant.contract.id for grant in grants]
    chosen = {int(cid) for cid in contract_ids or [] if str(cid).isdigit()}
    kept = [cid for cid in own if cid in chosen]
    if not kept:
        raise ContractError(_("Keep at least one contract in the selector."), field="contracts")
    user.selector_contract_ids = None if len(kept) == len(own) else kept
    db.session.commit()


def contact_persons(contract_id: int) -> list[ContactPerson]:
    """The customer's contact persons of the contract, by name."""
    return list(db.session.scalars(
        select(ContactPerson).where(ContactPerson.contract_id == contract_id).order_by(ContactPerson.full_name)))


def contact_person(contract_id: int, person_id) -> ContactPerson:
    """One contact person of the contract (a person of another contract is not found)."""
    person = None
    if person_id is not None and str(person_id).isdigit():
        person = db.session.scalars(select(ContactPerson).where(
            ContactPerson.id == int(person_id), ContactPerson.contract_id == contract_id)).first()
    if person is None:
        raise ContractError(_("This contact person was not found."), status=404)
    return person


def _contact_values(values: dict) -> dict:
    cleaned = {key: (values.get(key) or "").strip() or None for key in ("full_name", "position", "phone", "email")}
    problems = []
    if not cleaned["full_name"]:
        problems.append(_("Enter the contact person's name."))
    if cleaned["email"] and ("@" not in cleaned["email"] or " " in cleaned["email"]):
        problems.append(_("Enter a valid e-mail address, e.g. name@company.ru."))
    if cleaned["phone"] and sum(ch.isdigit() for ch in cleaned["phone"]) < 5:
        problems.append(_("Enter a phone number, e.g. +7 495 123-45-67."))
    for key, limit in (("full_name", 255), ("position", 255), ("phone", 64), ("email", 320)):
        if cleaned[key] and len(cleaned[key]) > limit:
            problems.append(_("A value is too long."))
            break
    if problems:
        raise ContractError(" ".join(problems))
    return cleaned


def add_contact_person(contract: Contract, values: dict, *, actor) -> ContactPerson:
    """Add a contact person; a 10th is refused (seed 000: at most 9). Commits."""
    count = db.session.scalar(select(func.count(ContactPerson.id)).where(ContactPerson.contract_id == contract.id))
    if count >= MAX_CONTACT_PERSONS:
        raise ContractError(_("A contract has at most %(max)s contact persons. Delete one to add another.",
                              max=MAX_CONTACT_PERSONS))
    person = ContactPerson(contract_id=contract.id, **_contact_values(values))
    db.session.add(person)
    db.session.flush()
    _audit_contact("contact_person.added", contract, person, actor)
    db.session.commit()
    return person


def update_contact_person(contract: Contract, person_id, values: dict, *, actor) -> ContactPerson:
    """Edit a contact person of the contract. Commits."""
    person = contact_person(contract.id, person_id)
    for key, value in _contact_values(values).items():
        setattr(person, key, value)
    _audit_contact("contact_person.changed", contract, person, actor)
    db.session.commit()
    return person


def delete_contact_person(contract: Contract, person_id, *, actor) -> None:
    """Delete a contact person of the contract. Commits."""
    person = contact_person(contract.id, person_id)
    _audit_contact("contact_person.deleted", contract, person, actor)
    db.session.delete(person)
    db.session.commit()


def _audit_contact(action: str, contract: Contract, person: ContactPerson, actor) -> None:
    audit.record(action, actor=actor, subject_type="contract", subject_id=contract.id,
                 counterparty_id=contract.counterparty_id,
                 detail={"contact_person_id": person.id, "full_name": person.full_name})
