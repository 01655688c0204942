"""Who a notification reaches (B6 audiences) and who may get its e-mail copy (C4 preferences), as SQL.

Everything here builds SELECTs that the fan-out feeds straight into `INSERT … SELECT`, so a broadcast
to 100 000 customers is a handful of statements, never a query per recipient.

Audiences (`Notification.audience`):
  {"type": "everyone"}                                   every active customer
  {"type": "branch", "ids": [branch ids]}                users with a confirmed role on a contract of the branches
  {"type": "contracts", "ids": [contract ids]}           users with a confirmed role on those contracts
  {"type": "contract_role", "role": "administrator", "ids"?: [contract ids]}   that role (on those contracts)
  {"type": "user", "ids": [user ids]}                    these customers
  {"type": "person_type", "value": "individual"|"legal"} households / business customers ("legal" covers
                                                         legal entities and sole proprietors)
Only customers are ever selected (FAB role Customer, active, not deleted), and contract-based audiences
go through confirmed ContractAccess rows only: a pending binding or another counterparty's user is never
reached.
"""
from __future__ import annotations

from flask_appbuilder.security.sqla.models import Role, assoc_user_role
from sqlalchemy import Boolean, String, cast, exists, false, func, literal, select, true
from sqlalchemy.sql import Select

from crm.models import CUSTOMER_ROLE, Contract, ContractAccess, ContractRole, Counterparty, CrmUser
from crm.models.counterparty import PersonType

AUDIENCE_TYPES = ("everyone", "branch", "contracts", "contract_role", "user", "person_type")
PERSON_TYPES = ("individual", "legal")
#: categories whose e-mail copy ignores the recipient's switches (the portal says so next to them)
MANDATORY_CATEGORIES = ("debt", "outage", "security", "system")
CATEGORIES = ("general", "marketing", "invoices", "payments", "readings") + MANDATORY_CATEGORIES
#: categories switched per contract in the profile ("about invoices" / "about payments")
PER_CONTRACT_CATEGORIES = ("invoices", "payments")


def customer_conditions() -> list:
    """WHERE clauses that keep active, not deleted customers only."""
    is_customer = exists(select(assoc_user_role.c.user_id)
                         .join(Role, Role.id == assoc_user_role.c.role_id)
                         .where(assoc_user_role.c.user_id == CrmUser.id, Role.name == CUSTOMER_ROLE))
    return [CrmUser.active.is_(True), CrmUser.deleted_at.is_(None), is_customer]


def _ids(audience: dict) -> list[int]:
    return [int(value) for value in audience.get("ids") or ()]


def _contract_access_conditions(audience: dict) -> list:
    """Which confirmed contract roles an audience is made of (None: not a contract-based audience)."""
    kind = audience.get("type")
    conditions = [ContractAccess.confirmed_at.is_not(None)]
    if kind == "branch":
        conditions.append(Contract.branch_id.in_(_ids(audience)))
    elif kind == "contracts":
        conditions.append(ContractAccess.contract_id.in_(_ids(audience)))
    elif kind == "contract_role":
        conditions.append(ContractAccess.role == str(audience.get("role")))
        if audience.get("ids"):
            conditions.append(ContractAccess.contract_id.in_(_ids(audience)))
    elif kind == "person_type":
        if audience.get("value") == PersonType.INDIVIDUAL.value:
            conditions.append(Counterparty.person_type == PersonType.INDIVIDUAL.value)
        else:
            conditions.append(Counterparty.person_type != PersonType.INDIVIDUAL.value)
    else:
        return []
    return conditions


def is_contract_based(audience: dict) -> bool:
    """True for audiences defined through contracts (branch, contracts, role, person type)."""
    return audience.get("type") in ("branch", "contracts", "contract_role", "person_type")


def audience_query(audience: dict) -> Select:
    """SELECT of the distinct user ids (column `user_id`) the audience reaches right now."""
    kind = audience.get("type")
    if kind == "everyone":
        return select(CrmUser.id.label("user_id")).where(*customer_conditions())
    if kind == "user":
        return select(CrmUser.id.label("user_id")).where(CrmUser.id.in_(_ids(audience)), *customer_conditions())
    if is_contract_based(audience):
        # EXISTS rather than a join: a user on several matching contracts is selected once, without DISTINCT.
        roles = (select(ContractAccess.user_id).join(Contract, Contract.id == ContractAccess.contract_id)
                 .join(Counterparty, Counterparty.id == Contract.counterparty_id)
                 .where(ContractAccess.user_id == CrmUser.id, *_contract_access_conditions(audience)))
        return select(CrmUser.id.label("user_id")).where(exists(roles), *customer_conditions())
    raise ValueError(f"unknown audience type: {kind!r}")


# --- preferences (C4) in SQL --------------------------------------------------------------------

def _setting_is_true(dialect: str, path: list, default: bool):
    """`notification_settings` at `path` (strings or SQL expressions, e.g. a contract id) is true,
    `default` when the setting was never saved."""
    column = CrmUser.notification_settings
    if dialect == "postgresql":
        expr = column
        for part in path[:-1]:
            # a key, never an array index: an id column is cast to text
            expr = expr.op("->")(cast(part, String) if not isinstance(part, str) else literal(part, String))
        expr = cast(expr.op("->>")(literal(path[-1], String)), Boolean)
        return func.coalesce(expr, true() if default else false()).is_(True)
    # SQLite (and others with json_extract): '$."contracts"."12"."invoices"'
    json_path = literal('$', String)
    for part in path:
        piece = cast(part, String) if not isinstance(part, str) else literal(part, String)
        json_path = json_path + literal('."', String) + piece + literal('"', String)
    return func.coalesce(func.json_extract(column, json_path), 1 if default else 0) == 1


def email_allowed_conditions(dialect: str, category: str, audience: dict) -> list:
    """WHERE clauses (on CrmUser) for who gets the e-mail copy of a notification of `category`.

    Mandatory categories go to every recipient with an address; others need the master switch,
    "marketing" also the marketing consent, invoices/payments the per-contract switch on at least one
    of the user's confirmed contracts (within the audience's contracts, for a contract-based one)."""
    conditions = [CrmUser.email.is_not(None), CrmUser.email.like("%@%")]
    if category in MANDATORY_CATEGORIES:
        return conditions
    conditions.append(_setting_is_true(dialect, ["email"], True))
    if category == "marketing":
        conditions.append(_setting_is_true(dialect, ["marketing"], False))
    if category in PER_CONTRACT_CATEGORIES:
        scope = _contract_access_conditions(audience) if is_contract_based(audience) else [
            ContractAccess.confirmed_at.is_not(None)]
        conditions.append(exists(
            select(ContractAccess.id).join(Contract, Contract.id == ContractAccess.contract_id)
            .join(Counterparty, Counterparty.id == Contract.counterparty_id)
            .where(ContractAccess.user_id == CrmUser.id, *scope,
                   _setting_is_true(dialect, ["contracts", ContractAccess.contract_id, category], False))))
    return conditions


def valid_role(value) -> bool:
    """A contract role name known to the access matrix."""
    return value in {role.value for role in ContractRole}

