"""Sign-up and contract binding, the four methods of SPEC C1.

(a) e-mail + password + agreement → e-mail code → "let's get acquainted" → phone → bind a
    contract by number + one of its registered e-mails, confirmed by a link to that e-mail
    (unconfirmed bindings are removed after 24 h) [004 §2.2];
(b) account number + partner code, then e-mail + password; the contract binds once the e-mail
    code is entered [003];
(c) staff create the account from a paper application: login = INN, an activation link valid from
    the next day for 5 days; not activated in time → blocked [002];
(d) staff issue a temporary password; at first sign-in every contract of the user's INN binds and
    the password must be changed [000].

Every function validates first (bad input changes nothing), then writes, audits, queues its
e-mails through the outbox and commits once.
"""
from __future__ import annotations

import secrets
import string
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError, validate_email
from flask import current_app, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import delete, func, or_, select
from werkzeug.security import generate_password_hash

from crm import clock
from crm.extensions import db
from crm.formatting import format_day
from crm.models import Contract, ContractAccess, ContractEmail, Counterparty
from crm.models.access import ContractRole
from crm.models.user import CUSTOMER_ROLE, CrmUser, OneTimeCode
from crm.services import ServiceError, audit, codes, throttle
from crm.services.message_templates import recipient_locale, render_message
from crm.services.outbox import queue_email
from crm.services.passwords import check_password_policy
from crm.services.settings import (
    SIGNUP_ACCOUNT,
    SIGNUP_EMAIL,
    SIGNUP_PAPER,
    SIGNUP_TEMPORARY,
    is_signup_method_enabled,
)
from crm.validators import is_valid_inn

CONFIRM_EMAIL = "confirm_email"
BIND_CONTRACT = "bind_contract"
ACTIVATE = "activate"
CODE_TTL = timedelta(minutes=15)  # shorter than the 30-minute idle session lifetime
BINDING_TTL = timedelta(hours=24)
ACTIVATION_DAYS = 5
TEMPORARY_PASSWORD_LENGTH = 12


class SignupError(ServiceError):
    """A sign-up or binding step was refused; `message` is localised, `field` names the input."""


class MethodDisabledError(SignupError):
    """The sign-up method is switched off in the back office (the portal answers 404)."""

    def __init__(self):
        super().__init__(_("This sign-up method is not available."), status=404)


def _require_method(method: str) -> None:
    if not is_signup_method_enabled(method):
        raise MethodDisabledError()


# --- validation helpers ------------------------------------------------------------------------

def normalise_email(raw: str | None, *, field: str = "email") -> str:
    """A syntactically valid address, lower-cased; SignupError with a specific message otherwise."""
    value = (raw or "").strip()
    if not value:
        raise SignupError(_("Enter an e-mail address."), field=field)
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        raise SignupError(_("%(email)s is not a valid e-mail address.", email=value), field=field) from None
    return result.normalized.lower()


def check_inn(raw: str | None, *, field: str = "inn") -> str:
    """A 10- or 12-digit INN with correct check digits."""
    value = (raw or "").strip()
    if not value.isdigit() or len(value) not in (10, 12):
        raise SignupError(_("An INN has 10 digits (organisation) or 12 digits (person)."), field=field)
    if not is_valid_inn(value):
        raise SignupError(_("INN %(inn)s has a wrong check digit. Check the number.", inn=value), field=field)
    return value


def _login_taken(login: str) -> bool:
    key = login.lower()
    return db.session.scalar(
        select(func.count()).select_from(CrmUser)
        .where(or_(func.lower(CrmUser.username) == key, func.lower(CrmUser.email) == key))
    ) > 0


def _ensure_email_free(email: str) -> None:
    if _login_taken(email):
        raise SignupError(_("An account with the e-mail %(email)s already exists. Sign in or recover the password.",
                            email=email), field="email")


def _hash_password(password: str) -> str:
    config = current_app.config
    return generate_password_hash(password, method=config.get("FAB_PASSWORD_HASH_METHOD", "scrypt"),
                                  salt_length=config.get("FAB_PASSWORD_HASH_SALT_LENGTH", 16))


def _customer_role():
    return current_app.appbuilder.sm.find_role(CUSTOMER_ROLE)


def _new_customer(*, username: str, email: str, password: str | None, **fields) -> CrmUser:
    # A staff-created account gets an unusable random password until its owner sets one.
    user = CrmUser(username=username, email=email, first_name=fields.pop("first_name", "") or "",
                   last_name=fields.pop("last_name", "") or "", active=True,
                   password=_hash_password(password or secrets.token_urlsafe(32)), **fields)
    user.roles = [_customer_role()]
    db.session.add(user)
    db.session.flush()
    return user


def _render_mail(name: str, **context) -> str:
    return render_template(f"email/signup_{name}.txt", **context)


def _queue_code(user: CrmUser, email: str, code: str) -> None:
    """The e-mail confirmation code, from its editable template (SPEC B7)."""
    subject, body = render_message("signup.code", recipient_locale(user),
                                   {"code": code, "minutes": int(CODE_TTL.total_seconds() // 60)})
    queue_email(email, subject, body, user_id=user.id, category="signup")


def _public_url(endpoint: str, **values) -> str:
    base = current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/")
    return f"{base}{url_for(endpoint, **values)}"


def _fail(error: ServiceError):
    db.session.rollback()
    raise error


# --- (a) and (b): self sign-up ----------------------------------------------------------------

def _check_new_account(email: str, password: str, password_repeat: str | None, agreement: bool) -> str:
    email = normalise_email(email)
    throttle.hit("signup", email)
    _ensure_email_free(email)
    if password_repeat is not None and password != password_repeat:
        raise SignupError(_("The passwords do not match."), field="password_repeat")
    check_password_policy(password or "", login=email)
    if not agreement:
        raise SignupError(_("Accept the user agreement to sign up."), field="agreement")
    return email


def _create_self_signup(email: str, password: str, marketing: bool, payload: dict | None, method: str,
                        username: str | None = None) -> CrmUser:
    now = clock.now()
    user = _new_customer(username=username or email, email=email, password=password, agreement_accepted_at=now,
                         marketing_consent=bool(marketing))
    code = codes.issue(CONFIRM_EMAIL, user_id=user.id, ttl=CODE_TTL, target=email, payload=payload)
    _queue_code(user, email, code)
    audit.record("signup.create", actor=user, subject_type="user", subject_id=user.id,
                 detail={"method": method, "email": email, "marketing_consent": bool(marketing)})
    db.session.commit()
    return user


def register_by_email(email: str, password: str, password_repeat: str | None, *, agreement: bool,
                      marketing: bool = False) -> CrmUser:
    """Method (a): create the account and mail a 6-digit code confirming the address."""
    try:
        _require_method(SIGNUP_EMAIL)
        email = _check_new_account(email, password, password_repeat, agreement)
        return _create_self_signup(email, password, marketing, None, SIGNUP_EMAIL)
    except ServiceError as error:
        _fail(error)


def find_contract_by_account(account_number: str, partner_code: str) -> Contract:
    """The contract of `account_number` if it belongs to `partner_code`, with the exact messages of [003]."""
    account_number = (account_number or "").strip()
    partner_code = (partner_code or "").strip()
    if not partner_code:
        raise SignupError(_("Enter the partner code."), field="partner_code")
    if not account_number:
        raise SignupError(_("Enter the account number."), field="account_number")
    counterparty = db.session.scalar(select(Counterparty).where(Counterparty.partner_code == partner_code))
    if counterparty is None:
        raise SignupError(_("Partner code %(code)s not found.", code=partner_code), field="partner_code")
    contract = db.session.scalar(select(Contract).where(Contract.account_number == account_number))
    if contract is None:
        raise SignupError(_("Account %(account)s not found.", account=account_number), field="account_number")
    if contract.counterparty_id != counterparty.id:
        raise SignupError(_("Account %(account)s does not belong to partner code %(code)s.",
                            account=account_number, code=partner_code), field="account_number")
    return contract


def register_by_account(account_number: str, partner_code: str, email: str, password: str,
                        password_repeat: str | None, *, agreement: bool, marketing: bool = False) -> CrmUser:
    """Method (b): check account + partner code, create the account; the contract binds (as
    manager) when the e-mail code is entered."""
    try:
        _require_method(SIGNUP_ACCOUNT)
        throttle.hit("signup", (account_number or "").strip() or None)
        contract = find_contract_by_account(account_number, partner_code)
        email = _check_new_account(email, password, password_repeat, agreement)
        # Seed 003: the login is the account number given at registration (e-mail works too),
        # unless another account already took that login.
        login = contract.account_number
        taken = db.session.scalar(select(CrmUser.id).where(func.lower(CrmUser.username) == login.lower()))
        return _create_self_signup(email, password, marketing, {"bind_contract_id": contract.id}, SIGNUP_ACCOUNT,
                                   username=None if taken else login)
    except ServiceError as error:
        _fail(error)


def seconds_until_resend(user: CrmUser) -> int:
    """Seconds before another confirmation code may be sent (0 = now)."""
    return codes.seconds_until_resend(CONFIRM_EMAIL, user.id)


def resend_confirmation_code(user: CrmUser) -> None:
    """Send a new e-mail code (at most one a minute); the previous code stops working."""
    wait = seconds_until_resend(user)
    if wait:
        raise SignupError(_("A new code can be sent in %(seconds)d s.", seconds=wait), status=429)
    if user.email_confirmed_at is not None:
        raise SignupError(_("Your e-mail is already confirmed."))
    previous = db.session.scalar(
        select(OneTimeCode).where(OneTimeCode.user_id == user.id, OneTimeCode.purpose == CONFIRM_EMAIL)
        .order_by(OneTimeCode.created_at.desc()).limit(1))
    code = codes.issue(CONFIRM_EMAIL, user_id=user.id, ttl=CODE_TTL, target=user.email,
                       payload=previous.payload if previous is not None else None)
    _queue_code(user, user.email, code)
    db.session.commit()


def confirm_email(user: CrmUser, code: str) -> list[ContractAccess]:
    """Accept the e-mail code; binds the contract of a sign-up by account (b). Returns new bindings."""
    try:
        throttle.hit("code", user.email)
        code = (code or "").strip()
        if not (len(code) == 6 and code.isdigit()):
            raise SignupError(_("The code is 6 digits from the e-mail."), field="code")
        row = codes.consume(CONFIRM_EMAIL, code, user_id=user.id)
    except ServiceError as error:
        if error.field is None:
            error.field = "code"
        _fail(error)
    user.email_confirmed_at = clock.now()
    bound = []
    contract_id = (row.payload or {}).get("bind_contract_id")
    if contract_id:
        contract = db.session.get(Contract, contract_id)
        if contract is not None:
            bound.append(_bind(user, contract, confirmed=True, how="account_number"))
    audit.record("signup.email_confirmed", actor=user, subject_type="user", subject_id=user.id)
    db.session.commit()
    return bound


def save_acquaintance(user: CrmUser, *, last_name: str, first_name: str, patronymic: str | None = None,
                      organisation: str | None = None, position: str | None = None,
                      address: str | None = None) -> None:
    """The "let's get acquainted" step: names, organisation, position, address [004 fig. 4]."""
    last_name, first_name = (last_name or "").strip(), (first_name or "").strip()
    if not last_name:
        _fail(SignupError(_("Enter your last name."), field="last_name"))
    if not first_name:
        _fail(SignupError(_("Enter your first name."), field="first_name"))
    user.last_name, user.first_name = last_name[:64], first_name[:64]
    user.patronymic = (patronymic or "").strip()[:64] or None
    user.organisation = (organisation or "").strip()[:255] or None
    user.position = (position or "").strip()[:255] or None
    user.address = (address or "").strip()[:500] or None
    audit.record("profile.acquaintance", actor=user, subject_type="user", subject_id=user.id)
    db.session.commit()


def normalise_phone(raw: str | None) -> str:
    """A phone number as typed, if it has 10 to 15 digits and only phone punctuation."""
    value = (raw or "").strip()
    digits = [ch for ch in value if ch.isdigit()]
    if not value:
        raise SignupError(_("Enter a phone number."), field="phone")
    if any(not (ch.isdigit() or ch in "+-() ") for ch in value) or not 10 <= len(digits) <= 15:
        raise SignupError(_("Enter the phone number with its area code, e.g. +7 912 345-67-89."), field="phone")
    return value


def save_phone(user: CrmUser, phone: str) -> None:
    """The phone step of sign-up (a)."""
    try:
        user.phone = normalise_phone(phone)
    except ServiceError as error:
        _fail(error)
    audit.record("profile.phone", actor=user, subject_type="user", subject_id=user.id)
    db.session.commit()


def signup_next_step(user: CrmUser) -> str | None:
    """The sign-up step a self-registered user must still complete: "about", "phone" or None.

    Only users who accepted the agreement on the sign-up form are held to it; staff-created
    accounts are not."""
    if user is None or user.agreement_accepted_at is None or user.is_staff:
        return None
    if not (user.last_name and user.first_name):
        return "about"
    if not user.phone:
        return "phone"
    return None


# --- binding a contract by its e-mail (a) -------------------------------------------------------

def _bind(user: CrmUser, contract: Contract, *, confirmed: bool, how: str, actor=None) -> ContractAccess:
    now = clock.now()
    access = ContractAccess(user_id=user.id, contract_id=contract.id, role=ContractRole.MANAGER.value,
                            granted_at=now, confirmed_at=now if confirmed else None,
                            granted_by_id=getattr(actor, "id", None))
    db.session.add(access)
    db.session.flush()
    audit.record("binding.confirmed" if confirmed else "binding.requested", actor=actor or user,
                 subject_type="contract_access", subject_id=access.id, counterparty_id=contract.counterparty_id,
                 detail={"contract": contract.number, "user": user.email, "role": access.role, "how": how})
    if confirmed:
        from workflows.notifications import notify_contract_role  # "Contract N was added with role R"

        notify_contract_role("role_granted", user, contract, access.role)
    return access


def request_contract_binding(user: CrmUser, contract_number: str, contract_email: str) -> ContractAccess:
    """Bind a contract by its number and one of its registered e-mails: an unconfirmed "manager"
    binding is created and a confirmation link (valid 24 h) goes to that contract e-mail."""
    try:
        throttle.hit("signup", user.email)
        if user.email_confirmed_at is None:
            raise SignupError(_("Confirm your e-mail before binding a contract."))
        number = (contract_number or "").strip()
        if not (number.isdigit() and len(number) == 14):
            raise SignupError(_("A contract number has exactly 14 digits."), field="contract_number")
        email = normalise_email(contract_email, field="contract_email")
        contract = db.session.scalar(select(Contract).where(Contract.number == number))
        registered = contract is not None and db.session.scalar(
            select(func.count()).select_from(ContractEmail)
            .where(ContractEmail.contract_id == contract.id, func.lower(ContractEmail.email) == email)) > 0
        if not registered:
            # One message for both cases: the form must not reveal which e-mails a contract has.
            raise SignupError(_("Contract %(number)s with the e-mail %(email)s was not found. Check both or "
                                "ask your curator which e-mail is registered on the contract.",
                                number=number, email=email), field="contract_number")
        existing = db.session.scalar(select(ContractAccess).where(ContractAccess.user_id == user.id,
                                                                  ContractAccess.contract_id == contract.id))
        if existing is not None and existing.confirmed_at is not None:
            raise SignupError(_("Contract %(number)s is already in your account.", number=number),
                              field="contract_number")
    except ServiceError as error:
        _fail(error)
    if existing is not None:  # asked again: a fresh link and a fresh 24 hours
        existing.granted_at = clock.now()
        access = existing
    else:
        access = _bind(user, contract, confirmed=False, how="contract_email")
    token = codes.issue(BIND_CONTRACT, user_id=user.id, ttl=BINDING_TTL, target=email, link=True,
                        payload={"access_id": access.id})
    link = _public_url("portal.confirm_binding", token=token)
    subject, body = render_message("binding.confirm", recipient_locale(user), {
        "requester_name": user.full_name or user.email, "requester_email": user.email,
        "contract_number": contract.number, "link": link, "hours": int(BINDING_TTL.total_seconds() // 3600)})
    queue_email(email, subject, body, user_id=user.id, category="signup")
    db.session.commit()
    return access


def confirm_contract_binding(token: str) -> ContractAccess:
    """Follow the link mailed to the contract e-mail: the binding becomes confirmed."""
    try:
        throttle.hit("code", None)
        row = codes.consume(BIND_CONTRACT, token or "")
        access = db.session.get(ContractAccess, (row.payload or {}).get("access_id"))
        if access is None:
            raise SignupError(_("The binding request has expired. Bind the contract again."))
    except ServiceError as error:
        _fail(error)
    access.confirmed_at = clock.now()
    audit.record("binding.confirmed", actor=access.user, subject_type="contract_access", subject_id=access.id,
                 counterparty_id=access.contract.counterparty_id,
                 detail={"contract": access.contract.number, "user": access.user.email, "role": access.role,
                         "how": "contract_email", "confirmed_by": row.target})
    from workflows.notifications import notify_contract_role

    notify_contract_role("role_granted", access.user, access.contract, access.role)
    db.session.commit()
    return access


def remove_expired_bindings() -> int:
    """Delete self-made contract bindings left unconfirmed for 24 h (periodic job); returns how many."""
    cutoff = clock.now() - BINDING_TTL
    expired = db.session.scalars(
        select(ContractAccess).where(ContractAccess.confirmed_at.is_(None), ContractAccess.granted_by_id.is_(None),
                                     ContractAccess.granted_at <= cutoff)).all()
    for access in expired:
        audit.record("binding.expired", subject_type="contract_access", subject_id=access.id,
                     counterparty_id=access.contract.counterparty_id,
                     detail={"contract": access.contract.number, "user_id": access.user_id})
    if expired:
        db.session.execute(delete(ContractAccess).where(ContractAccess.id.in_([a.id for a in expired])))
    db.session.commit()
    return len(expired)


# --- (c) paper application ---------------------------------------------------------------------

def _display_tz() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Europe/Moscow"))


def activation_window(now: datetime | None = None) -> tuple[datetime, datetime]:
    """From the start of the next local day, for 5 days [002]."""
    local = (now or clock.now()).astimezone(_display_tz())
    start = datetime.combine(local.date() + timedelta(days=1), time.min, tzinfo=local.tzinfo)
    return start.astimezone(clock.now().tzinfo), (start + timedelta(days=ACTIVATION_DAYS)).astimezone(
        clock.now().tzinfo)


def _contracts_for_application(inn: str, numbers) -> list[Contract]:
    found = []
    for raw in numbers or []:
        number = (raw or "").strip()
        if not number:
            continue
        contract = db.session.scalar(select(Contract).where(Contract.number == number))
        if contract is None:
            raise SignupError(_("Contract %(number)s not found.", number=number), field="contracts")
        if contract.counterparty.inn != inn:
            raise SignupError(_("Contract %(number)s does not belong to INN %(inn)s.", number=number, inn=inn),
                              field="contracts")
        found.append(contract)
    return found


def create_account_from_application(*, actor, inn: str, organisation: str, email: str, last_name: str = "",
                                    first_name: str = "", patronymic: str | None = None, phone: str | None = None,
                                    contract_numbers=()) -> CrmUser:
    """Method (c): staff enter a signed paper application; login = INN; an activation link valid
    from the next day for 5 days is mailed; the application's contracts bind on activation."""
    try:
        _require_method(SIGNUP_PAPER)
        inn = check_inn(inn)
        email = normalise_email(email)
        if _login_taken(inn):
            raise SignupError(_("An account with the login %(inn)s already exists.", inn=inn), field="inn")
        _ensure_email_free(email)
        if not (organisation or "").strip():
            raise SignupError(_("Enter the organisation name."), field="organisation")
        phone = normalise_phone(phone) if (phone or "").strip() else None
        contracts = _contracts_for_application(inn, contract_numbers)
    except ServiceError as error:
        _fail(error)
    not_before, deadline = activation_window()
    user = _new_customer(username=inn, email=email, password=None, inn=inn, organisation=organisation.strip(),
                         last_name=(last_name or "").strip(), first_name=(first_name or "").strip(),
                         patronymic=(patronymic or "").strip() or None, phone=phone,
                         activation_not_before=not_before, activation_deadline=deadline)
    token = codes.issue(ACTIVATE, user_id=user.id, ttl=deadline - clock.now(), target=email, link=True,
                        not_before=not_before, payload={"contract_ids": [c.id for c in contracts]})
    queue_email(email, _("Activate your customer portal account"),
                _render_mail("activation", link=_public_url("portal.activate", token=token), user=user,
                             valid_from=format_day(not_before),
                             valid_until=format_day(deadline - timedelta(seconds=1)), days=ACTIVATION_DAYS),
                user_id=user.id, category="signup")
    audit.record("signup.paper_application", actor=actor, subject_type="user", subject_id=user.id,
                 counterparty_id=contracts[0].counterparty_id if contracts else None,
                 detail={"method": SIGNUP_PAPER, "login": inn, "email": email,
                         "contracts": [c.number for c in contracts]})
    db.session.commit()
    return user


def find_activation(token: str) -> tuple[OneTimeCode, CrmUser]:
    """Look an activation link up without using it; SignupError says why it cannot be used now."""
    _require_method(SIGNUP_PAPER)
    row = codes.peek(ACTIVATE, token)
    if row is None:
        raise SignupError(_("The link is invalid."), status=404)
    user = db.session.get(CrmUser, row.user_id)
    now = clock.now()
    if row.used_at is not None:
        raise SignupError(_("The account is already activated. Sign in with your login and password."))
    if user is None or not user.active:
        raise SignupError(_("The account is blocked. Contact your branch to register again."))
    if row.expires_at <= now:
        raise SignupError(_("The activation link has expired. Contact your branch to register again."))
    if row.not_before is not None and now < row.not_before:
        raise SignupError(_("The link is not valid yet. Use it from %(day)s.", day=format_day(row.not_before)),
                          field="not_yet")
    return row, user


def activate_account(token: str, password: str, password_repeat: str | None) -> CrmUser:
    """Set the password through the activation link; binds the application's contracts."""
    try:
        row, user = find_activation(token)
        if password_repeat is not None and password != password_repeat:
            raise SignupError(_("The passwords do not match."), field="password_repeat")
        check_password_policy(password or "", login=user.username)
        codes.consume(ACTIVATE, token)
    except ServiceError as error:
        _fail(error)
    now = clock.now()
    user.password = _hash_password(password)
    user.email_confirmed_at = now
    user.activation_not_before = user.activation_deadline = None
    for contract_id in (row.payload or {}).get("contract_ids", []):
        contract = db.session.get(Contract, contract_id)
        if contract is not None and not _has_access(user, contract):
            _bind(user, contract, confirmed=True, how="paper_application")
    audit.record("signup.activated", actor=user, subject_type="user", subject_id=user.id)
    db.session.commit()
    return user


def block_unactivated_accounts() -> int:
    """Block accounts whose activation window closed without activation (periodic job)."""
    now = clock.now()
    users = db.session.scalars(select(CrmUser).where(CrmUser.activation_deadline.is_not(None),
                                                     CrmUser.activation_deadline <= now,
                                                     CrmUser.active.is_(True))).all()
    for user in users:
        user.active = False
        user.blocked_reason = "not_activated"
        audit.record("account.blocked", subject_type="user", subject_id=user.id,
                     detail={"reason": f"not activated within {ACTIVATION_DAYS} days", "login": user.username})
    db.session.commit()
    return len(users)


# --- (d) temporary password ---------------------------------------------------------------------

def generate_temporary_password() -> str:
    """A random password that meets the policy (upper, lower, digits, Latin only)."""
    alphabet = string.ascii_letters + string.digits
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(TEMPORARY_PASSWORD_LENGTH))
        if any(c.isupper() for c in value) and any(c.islower() for c in value) and any(c.isdigit() for c in value):
            return value


def issue_temporary_password(*, actor, inn: str, email: str, last_name: str = "", first_name: str = "",
                             organisation: str | None = None, send_email: bool = True) -> tuple[CrmUser, str]:
    """Method (d): create the account (or reset an existing customer's password) with a temporary
    password that must be changed at first sign-in. Returns the user and the password, shown once."""
    try:
        _require_method(SIGNUP_TEMPORARY)
        inn = check_inn(inn)
        email = normalise_email(email)
        user = db.session.scalar(select(CrmUser).where(func.lower(CrmUser.email) == email))
        if user is not None and (user.is_staff or (user.inn and user.inn != inn)):
            raise SignupError(_("The e-mail %(email)s belongs to another account.", email=email), field="email")
    except ServiceError as error:
        _fail(error)
    password = generate_temporary_password()
    if user is None:
        user = _new_customer(username=email, email=email, password=password, inn=inn,
                             last_name=(last_name or "").strip(), first_name=(first_name or "").strip(),
                             organisation=(organisation or "").strip() or None)
        action = "signup.temporary_password"
    else:
        user.password = _hash_password(password)
        user.inn = inn
        user.active, user.blocked_reason = True, None
        action = "account.temporary_password"
    user.must_change_password = True
    if send_email:
        queue_email(email, _("Your temporary password for the customer portal"),
                    _render_mail("temporary", user=user, password=password,
                                 login_url=_public_url("portal.login")),
                    user_id=user.id, category="signup")
    audit.record(action, actor=actor, subject_type="user", subject_id=user.id,
                 detail={"method": SIGNUP_TEMPORARY, "email": email, "inn": inn, "mailed": bool(send_email)})
    db.session.commit()
    return user, password


def _has_access(user: CrmUser, contract: Contract) -> bool:
    return db.session.scalar(select(func.count()).select_from(ContractAccess).where(
        ContractAccess.user_id == user.id, ContractAccess.contract_id == contract.id)) > 0


def bind_contracts_by_inn(user: CrmUser, *, commit: bool = True) -> list[ContractAccess]:
    """Bind (as manager, confirmed) every contract whose counterparty has the user's INN [000]."""
    if not user.inn:
        return []
    contracts = db.session.scalars(select(Contract).join(Counterparty).where(Counterparty.inn == user.inn)
                                   .order_by(Contract.number)).all()
    bound = [_bind(user, contract, confirmed=True, how="inn") for contract in contracts
             if not _has_access(user, contract)]
    if commit:
        db.session.commit()
    return bound


def complete_first_sign_in(user: CrmUser) -> list[ContractAccess]:
    """Call after a successful sign-in: a user holding a temporary password gets every contract of
    their INN bound (idempotent). The caller then sends users with `must_change_password` to the
    password change page."""
    if not (user.must_change_password and user.inn):
        return []
    return bind_contracts_by_inn(user)
