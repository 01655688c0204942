"""The permission matrix of SPEC C6 as data, and the only way portal code reaches contracts.

Every portal route declares a capability; `require()` answers 404 for a contract the user has
no role on (not revealing that it exists) and 403 for a role that lacks the capability. List
queries go through `accessible_contracts()` so a forgotten filter cannot leak another
customer's rows.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

from flask import abort
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from crm.extensions import db
from crm.models.access import ContractAccess, ContractRole, contract_access_object
from crm.models.contract import Contract


class Capability(enum.StrEnum):
    VIEW_CONTRACT = "view_contract"            # contract info and attachments
    REQUEST_ADMIN_ROLE = "request_admin_role"
    REMOVE_CONTRACT = "remove_contract"
    SUBMIT_READINGS = "submit_readings"        # form, integral file, interval file
    VIEW_READINGS = "view_readings"            # readings history
    VIEW_FINANCE = "view_finance"              # unpaid documents, debt, chart, payment history, documents
    PAY = "pay"
    MANAGE_ROLES = "manage_roles"
    # Not a row of SPEC C6's table: seed 000 lets the customer keep up to 9 contact persons per
    # contract without saying who edits them. Decision: the roles that act for the whole contract
    # (administrator, manager) edit them; everyone with a role sees them on the contract card.
    EDIT_CONTACT_PERSONS = "edit_contact_persons"
    # Not a row of SPEC C6 either: the appeals of a contract filed by other users. The roles that act
    # for the whole contract see them (crm/services/appeal_portal.py); everyone sees their own.
    VIEW_CONTRACT_APPEALS = "view_contract_appeals"


_ALL = frozenset(ContractRole)
_A, _M, _E, _B = (ContractRole.ADMINISTRATOR, ContractRole.MANAGER, ContractRole.POWER_ENGINEER,
                  ContractRole.ACCOUNTANT)

#: capability → roles that have it (SPEC C6, seed 004 §13.2.1 table 3)
MATRIX: dict[Capability, frozenset[ContractRole]] = {
    Capability.VIEW_CONTRACT: _ALL,
    Capability.REQUEST_ADMIN_ROLE: _ALL,
    Capability.REMOVE_CONTRACT: _ALL,
    Capability.SUBMIT_READINGS: frozenset({_E, _M, _A}),
    Capability.VIEW_READINGS: frozenset({_E, _M, _A}),
    Capability.VIEW_FINANCE: frozenset({_B, _M, _A}),
    Capability.PAY: frozenset({_B, _M, _A}),
    Capability.MANAGE_ROLES: frozenset({_A}),
    Capability.EDIT_CONTACT_PERSONS: frozenset({_M, _A}),
    Capability.VIEW_CONTRACT_APPEALS: frozenset({_M, _A}),
}


def role_can(role: str | ContractRole, capability: Capability) -> bool:
    """True when the matrix gives `capability` to `role`."""
    try:
        return ContractRole(role) in MATRIX[capability]
    except ValueError:
        return False


@dataclass(frozen=True)
class ContractGrant:
    """What the current user may do on one contract: the role and the object scope (None = all)."""

    contract: Contract
    role: ContractRole
    object_ids: frozenset[int] | None

    def can(self, capability: Capability) -> bool:
        return role_can(self.role, capability)

    def covers_object(self, energy_object_id: int) -> bool:
        return self.object_ids is None or energy_object_id in self.object_ids


def _access_query(user_id: int):
    return (
        select(ContractAccess)
        .where(ContractAccess.user_id == user_id, ContractAccess.confirmed_at.is_not(None))
        .options(selectinload(ContractAccess.contract).selectinload(Contract.counterparty))
    )


def _scopes(access_ids: list[int]) -> dict[int, set[int]]:
    scopes: dict[int, set[int]] = {}
    if not access_ids:
        return scopes
    rows = db.session.execute(
        select(contract_access_object.c.access_id, contract_access_object.c.energy_object_id)
        .where(contract_access_object.c.access_id.in_(access_ids))
    )
    for access_id, object_id in rows:
        scopes.setdefault(access_id, set()).add(object_id)
    return scopes


def accessible_contracts(user) -> list[ContractGrant]:
    """Every confirmed contract role of `user`, ordered by contract number, in ONE statement (it runs on
    every signed-in portal page): the accesses with their contract and counterparty joined, and one row
    per scoped object (an outer join; no object rows = the whole contract)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    rows = db.session.execute(
        select(ContractAccess, contract_access_object.c.energy_object_id)
        .outerjoin(contract_access_object, contract_access_object.c.access_id == ContractAccess.id)
        .where(ContractAccess.user_id == user.id, ContractAccess.confirmed_at.is_not(None))
        .options(joinedload(ContractAccess.contract).joinedload(Contract.counterparty))
    ).all()
    accesses: dict[int, ContractAccess] = {}
    scopes: dict[int, set[int]] = {}
    for access, object_id in rows:
        accesses.setdefault(access.id, access)
        if object_id is not None:
            scopes.setdefault(access.id, set()).add(object_id)
    grants = [
        ContractGrant(a.contract, ContractRole(a.role),
                      frozenset(scopes[a.id]) if a.id in scopes else None)
        for a in accesses.values()
    ]
    return sorted(grants, key=lambda g: g.contract.number)


def grant_for(user, contract_id: int) -> ContractGrant | None:
    """The user's grant on one contract, or None."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    access = db.session.scalars(_access_query(user.id).where(ContractAccess.contract_id == contract_id)).first()
    if access is None:
        return None
    scope = _scopes([access.id]).get(access.id)
    return ContractGrant(access.contract, ContractRole(access.role), frozenset(scope) if scope else None)


def require(user, contract_id: int, capability: Capability) -> ContractGrant:
    """The grant if the user may use `capability` on the contract; 404 if they have no role on it,
    403 if their role lacks the capability."""
    grant = grant_for(user, contract_id)
    if grant is None:
        abort(404)
    if not grant.can(capability):
        abort(403)
    return grant
