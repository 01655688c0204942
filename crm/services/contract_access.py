"""Roles on contracts (SPEC C6, B5): who is on a contract, adding users by e-mail, changing and
removing roles, the administrator granted by staff, removing a contract from one's account.

Rules enforced here (not in views):
- one role per user per contract: granting a role to someone who has one replaces it;
- at most one administrator per contract: refused with a localised message before the database's
  partial unique index would refuse it;
- a customer's administrator grants manager, power engineer or accountant only; "administrator"
  is granted by staff (after an "Access rights" appeal);
- an energy-object scope is a subset of the contract's objects; none selected = every object.

Every change writes an audit row and queues an e-mail in the same transaction; the service commits.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from werkzeug.routing import BuildError

from crm import clock
from crm.extensions import db
from crm.models import CUSTOMER_ROLE, Contract, ContractAccess, ContractRole, CrmUser, EnergyObject
from crm.services import ServiceError, audit, codes, message_templates, outbox

#: what a contract's administrator may grant in the portal (administrator comes from staff only)
CUSTOMER_GRANTABLE = (ContractRole.MANAGER, ContractRole.POWER_ENGINEER, ContractRole.ACCOUNTANT)
INVITATION_TTL = timedelta(days=7)
MAX_EMAIL_LENGTH = 320

ROLE_LABELS = {
    ContractRole.ADMINISTRATOR: _l("Administrator"),
    ContractRole.MANAGER: _l("Manager"),
    ContractRole.POWER_ENGINEER: _l("Power engineer"),
    ContractRole.ACCOUNTANT: _l("Accountant"),
}


class ContractAccessError(ServiceError):
    """A role change was refused; nothing was changed."""


def role_label(role) -> str:
    """The translated name of a contract role."""
    text = ROLE_LABELS.get(str(role))
    return str(text) if text is not None else str(role)


@dataclass(frozen=True)
class ContractUser:
    """One line of "Users of the contract"."""

    access: ContractAccess
    user: CrmUser
    role: ContractRole
    objects: list[EnergyObject]     # empty = every object of the contract

    @property
    def is_administrator(self) -> bool:
        return self.role == ContractRole.ADMINISTRATOR


# --- reading -----------------------------------------------------------------------------------

def contract_users(contract_id: int) -> list[ContractUser]:
    """Every confirmed user of the contract with role and object scope, administrator first."""
    accesses = db.session.scalars(
        select(ContractAccess)
        .where(ContractAccess.contract_id == contract_id, ContractAccess.confirmed_at.is_not(None))
        .options(selectinload(ContractAccess.user), selectinload(ContractAccess.energy_objects))
    ).all()
    order = {role: n for n, role in enumerate(ContractRole)}
    rows = [ContractUser(a, a.user, ContractRole(a.role), sorted(a.energy_objects, key=lambda o: o.code))
            for a in accesses]
    return sorted(rows, key=lambda r: (order.get(r.role, 9), (r.user.email or "").lower()))


def contract_objects(contract_id: int) -> list[EnergyObject]:
    """The contract's energy objects, for choosing a scope."""
    return list(db.session.scalars(
        select(EnergyObject).where(EnergyObject.contract_id == contract_id).order_by(EnergyObject.code)))


def administrator_of(contract_id: int) -> ContractAccess | None:
    """The contract's administrator role, if any."""
    return db.session.scalars(select(ContractAccess).where(
        ContractAccess.contract_id == contract_id, ContractAccess.role == ContractRole.ADMINISTRATOR.value)).first()


# --- validation helpers ------------------------------------------------------------------------

def normalise_email(email: str | None) -> str:
    """The address trimmed and lower-cased, or a localised error for a malformed one."""
    value = (email or "").strip().lower()
    local, _sep, domain = value.partition("@")
    if (not value or len(value) > MAX_EMAIL_LENGTH or not local or "." not in domain or domain.startswith(".")
            or domain.endswith(".") or any(ch.isspace() for ch in value) or value.count("@") != 1):
        raise ContractAccessError(_("Enter a valid e-mail address, e.g. name@company.ru."), field="email")
    return value


def _role(value, *, allow_administrator: bool) -> ContractRole:
    try:
        role = ContractRole(value)
    except ValueError:
        raise ContractAccessError(_("Choose a role."), field="role") from None
    if role == ContractRole.ADMINISTRATOR and not allow_administrator:
        raise ContractAccessError(
            _("Only the energy supply company grants the administrator role: file an appeal "
              "of the section \"Access rights\"."), field="role")
    return role


def _scope(contract_id: int, object_ids) -> list[EnergyObject]:
    wanted = {int(i) for i in (object_ids or [])}
    if not wanted:
        return []
    objects = db.session.scalars(select(EnergyObject).where(
        EnergyObject.contract_id == contract_id, EnergyObject.id.in_(wanted))).all()
    if len(objects) != len(wanted):
        raise ContractAccessError(_("Choose energy objects of this contract only."), field="objects")
    return list(objects)


def _find_user(email: str) -> CrmUser | None:
    return db.session.scalars(select(CrmUser).where(func.lower(CrmUser.email) == email)).first()


def _check_one_administrator(contract: Contract, user_id: int) -> None:
    current = administrator_of(contract.id)
    if current is not None and current.user_id != user_id:
        raise ContractAccessError(
            _("Contract %(number)s already has an administrator (%(email)s). A contract has one "
              "administrator: revoke that role first.", number=contract.number, email=current.user.email),
            field="email")


# --- e-mails -----------------------------------------------------------------------------------

def _render_email(template: str, user: CrmUser, **context) -> tuple[str, str]:
    """Subject and body in the recipient's language (the texts live here so that they are extracted
    for translation; the .txt templates only lay them out)."""
    locale = user.locale or current_app.config.get("BABEL_DEFAULT_LOCALE", "ru")
    with force_locale(locale):
        contract = context["contract"]
        names = {"role": role_label(context["role"]), "number": contract.number,
                 "counterparty": contract.counterparty.short_name}
        text = {"greeting": _("Hello!"), "objects": _("Energy objects available to you:"),
                "portal": _("The contract is in your customer portal:")}
        if template == "role_revoked":
            subject = _("Contract %(number)s: your role was removed", number=contract.number)
            text["intro"] = _("Your role \"%(role)s\" on contract %(number)s (%(counterparty)s) was removed. "
                              "The contract is no longer in your customer portal.", **names)
            text["footer"] = _("If you think this is a mistake, contact the administrator of the contract or "
                               "your branch of the energy supply company.")
        else:
            subject = _("Contract %(number)s: you were given the role %(role)s", **names)
            text["intro"] = _("You were given the role \"%(role)s\" on contract %(number)s (%(counterparty)s).",
                              **names)
            text["footer"] = _("If you did not expect this e-mail, contact the administrator of the contract or "
                               "your branch of the energy supply company.")
        if template == "invitation":
            text["password"] = _("An account was created for this address; your login is %(email)s. Set your "
                                 "password by following this link (it works for %(days)s days):",
                                 email=user.email, days=context["ttl_days"])
        return subject, render_template(f"email/{template}.txt", user=user, text=text, **context)


#: e-mails whose text admins edit (SPEC B7); the invitation keeps its built-in text
_EDITABLE = {"role_granted": "contract.role_granted", "role_revoked": "contract.role_removed"}


def _editable_email(event: str, user: CrmUser, contract: Contract, role, objects=(), portal_url=None,
                    **_context) -> tuple[str, str] | None:
    """Subject and body from the event's template in the recipient's language; None when switched off."""
    locale = message_templates.normalise_locale(user.locale)
    if not message_templates.wants_email(event, locale):
        return None
    with force_locale(locale):
        role_name = str(role_label(role))
    return message_templates.render_message(event, locale, {
        "role": role_name, "contract_number": contract.number, "counterparty": contract.counterparty.short_name,
        "objects": [{"code": obj.code, "name": obj.name} for obj in objects or ()], "portal_url": portal_url})


def _queue(template: str, user: CrmUser, **context) -> None:
    if template in _EDITABLE:
        rendered = _editable_email(_EDITABLE[template], user, **context)
        if rendered is None:
            return
        subject, body = rendered
    else:
        subject, body = _render_email(template, user, **context)
    outbox.queue_email(user.email, subject, body, user_id=user.id, category=f"contract_{template}")
    from workflows.notifications import notify_contract_role  # the same event in the portal's notifications

    notify_contract_role(template, user, context["contract"], context["role"])


def _portal_url() -> str:
    try:
        return url_for("portal.contract_list", _external=True)
    except (BuildError, RuntimeError):
        return ""


def _invitation_link(user: CrmUser) -> str:
    token = codes.issue("password_reset", user_id=user.id, ttl=INVITATION_TTL, link=True)
    try:
        return url_for("portal.reset_password", token=token, _external=True)
    except BuildError:  # the recovery page is not registered (yet): same path, built by hand
        return url_for("portal.index", _external=True).rstrip("/") + f"/password/reset/{token}"


def _invite(email: str) -> CrmUser:
    """A customer account for an unregistered address: random password nobody knows, login = e-mail."""
    sm = current_app.appbuilder.sm
    user = sm.add_user(username=email, first_name="", last_name="", email=email,
                       role=[sm.find_role(CUSTOMER_ROLE)], password=secrets.token_urlsafe(32), commit=False)
    if not user:
        raise ContractAccessError(_("The account could not be created; try again."), field="email")
    return user


def _commit() -> None:
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise ContractAccessError(
            _("The roles of this contract were changed at the same moment; reload the page and try again.")
        ) from None


# --- changing roles ----------------------------------------------------------------------------

def grant_role(contract: Contract, email: str, role, object_ids=(), *, actor,
               by_staff: bool = False) -> ContractAccess:
    """Give the user with `email` a role on the contract (replacing any role they have); an unknown
    address gets a customer account and an invitation to set a password. Commits."""
    email = normalise_email(email)
    role = _role(role, allow_administrator=by_staff)
    objects = [] if role == ContractRole.ADMINISTRATOR else _scope(contract.id, object_ids)
    user = _find_user(email)
    if user is not None:
        if user.is_staff and not user.is_customer:
            raise ContractAccessError(_("This address belongs to a staff account of the energy supply company."),
                                      field="email")
        if user.deleted_at is not None:
            raise ContractAccessError(_("The account with this address was deleted."), field="email")
        if actor is not None and user.id == actor.id and not by_staff:
            raise ContractAccessError(_("You cannot change your own role."), field="email")
    if role == ContractRole.ADMINISTRATOR:
        _check_one_administrator(contract, user.id if user is not None else -1)
    invited = user is None
    if invited:
        user = _invite(email)
    access = db.session.scalars(select(ContractAccess).where(
        ContractAccess.contract_id == contract.id, ContractAccess.user_id == user.id)).first()
    previous = None
    if access is not None:
        previous = access.role
        if previous == ContractRole.ADMINISTRATOR.value and not by_staff:
            raise ContractAccessError(_("Only the energy supply company changes the administrator's role."),
                                      field="email")
    else:
        access = ContractAccess(user_id=user.id, contract_id=contract.id)
        db.session.add(access)
    access.role = role.value
    access.energy_objects = objects
    access.granted_by_id = getattr(actor, "id", None)
    access.granted_at = clock.now()
    access.confirmed_at = access.confirmed_at or clock.now()
    db.session.flush()
    audit.record("contract_role.granted" if previous is None else "contract_role.changed", actor=actor,
                 subject_type="contract", subject_id=contract.id, counterparty_id=contract.counterparty_id,
                 detail={"user_id": user.id, "email": user.email, "role": role.value, "previous_role": previous,
                         "object_ids": sorted(o.id for o in objects), "invited": invited, "by_staff": by_staff})
    context = {"contract": contract, "role": role, "objects": objects, "portal_url": _portal_url()}
    if invited:
        _queue("invitation", user, link=_invitation_link(user), ttl_days=INVITATION_TTL.days, **context)
    else:
        _queue("role_granted", user, **context)
    _commit()
    return access


def change_role(contract: Contract, access_id: int, role, object_ids=(), *, actor,
                by_staff: bool = False) -> ContractAccess:
    """Change the role and object scope of one user of the contract. Commits."""
    access = _access_of(contract, access_id)
    return grant_role(contract, access.user.email, role, object_ids, actor=actor, by_staff=by_staff)


def revoke_role(contract: Contract, access_id: int, *, actor, by_staff: bool = False) -> None:
    """Take a user's role on the contract away (the contract leaves their account). Commits."""
    access = _access_of(contract, access_id)
    if access.role == ContractRole.ADMINISTRATOR.value and not by_staff:
        raise ContractAccessError(_("Only the energy supply company revokes the administrator role."))
    if actor is not None and access.user_id == actor.id and not by_staff:
        raise ContractAccessError(_("To leave the contract yourself, remove it from your account."))
    _delete(contract, access, actor=actor, action="contract_role.revoked", notify=True)
    _commit()


def _access_of(contract: Contract, access_id) -> ContractAccess:
    access = None
    if access_id is not None and str(access_id).isdigit():
        access = db.session.scalars(select(ContractAccess).where(
            ContractAccess.id == int(access_id), ContractAccess.contract_id == contract.id,
            ContractAccess.confirmed_at.is_not(None))).first()
    if access is None:
        raise ContractAccessError(_("This user has no role on the contract."))
    return access


def _delete(contract: Contract, access: ContractAccess, *, actor, action: str, notify: bool) -> None:
    user = access.user
    audit.record(action, actor=actor, subject_type="contract", subject_id=contract.id,
                 counterparty_id=contract.counterparty_id,
                 detail={"user_id": user.id, "email": user.email, "role": access.role})
    if notify and user.email:
        _queue("role_revoked", user, contract=contract, role=ContractRole(access.role), portal_url=_portal_url())
    db.session.delete(access)
    db.session.flush()


def remove_contract_from_account(user: CrmUser, contract: Contract) -> None:
    """The user leaves the contract: their role goes (an administrator leaving leaves none). Commits."""
    access = db.session.scalars(select(ContractAccess).where(
        ContractAccess.contract_id == contract.id, ContractAccess.user_id == user.id)).first()
    if access is None:
        raise ContractAccessError(_("This contract is not in your account."))
    _delete(contract, access, actor=user, action="contract.removed_from_account", notify=False)
    kept = user.selector_contract_ids
    if kept is not None and contract.id in kept:
        user.selector_contract_ids = [cid for cid in kept if cid != contract.id] or None
    _commit()


# --- back office (B5) --------------------------------------------------------------------------

def grant_administrator(contract: Contract, email: str, *, actor) -> ContractAccess:
    """Staff: make the user with `email` the contract's administrator (refused if it has one)."""
    return grant_role(contract, email, ContractRole.ADMINISTRATOR, actor=actor, by_staff=True)


def revoke_administrator(contract: Contract, *, actor) -> None:
    """Staff: take the administrator role away; the contract then has no administrator."""
    access = administrator_of(contract.id)
    if access is None:
        raise ContractAccessError(_("Contract %(number)s has no administrator.", number=contract.number))
    revoke_role(contract, access.id, actor=actor, by_staff=True)


def unblock_account(user: CrmUser, *, actor) -> bool:
    """Staff: let a blocked customer sign in again. Returns False if it was not blocked. Commits."""
    if user.active and not user.blocked_reason:
        return False
    previous = user.blocked_reason
    user.active = True
    user.blocked_reason = None
    audit.record("account.unblocked", actor=actor, subject_type="user", subject_id=user.id,
                 detail={"email": user.email, "blocked_reason": previous})
    db.session.commit()
    return True
