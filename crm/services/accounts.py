"""Accounts (SPEC C2, C4): sign-in, password recovery and change, e-mail confirmation and change,
personal data, notification settings, second factor, deletion.

Passwords are checked by FAB's security manager (`auth_user_db`), so the portal and the back office
share one hashing scheme, one "active" flag and FAB's failed-login counters. Every refusal to sign
in reads the same ("Wrong login or password.") so nobody learns which accounts exist, and every
guessable action is throttled per account and per address (crm.services.throttle).
"""
from __future__ import annotations

import re
from datetime import timedelta

from flask import current_app, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from werkzeug.security import check_password_hash

from crm import clock
from crm.extensions import db
from crm.models.user import CrmUser, OneTimeCode
from crm.services import ServiceError, audit, codes, message_templates, outbox, sessions, throttle
from crm.services.passwords import check_password_policy

RECOVERY_TTL = timedelta(hours=1)
CODE_TTL = timedelta(minutes=15)
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TOMBSTONE_DOMAIN = "deleted.invalid"

#: notification settings (C4) and their defaults; the notifications issue honours them
NOTIFICATION_DEFAULTS = {
    "email": True,
    "marketing": False,
    "remind_open": True,
    "remind_open_days": 3,
    "remind_close": True,
    "remind_close_days": 2,
    "debt_emails": True,
    "bill_emails": True,
    "contracts": {},  # contract id (str) → {"invoices": bool, "payments": bool}
}
REMIND_DAYS = range(1, 16)


class AccountError(ServiceError):
    """A refused account action; `message` is localised, `field` names the form field."""


class SignInError(AccountError):
    """Wrong login or password (or an account that may not sign in): always the same message."""

    def __init__(self):
        super().__init__(_("Wrong login or password."))


class ValidationError(AccountError):
    """Several problems at once (`problems`: field → messages)."""

    def __init__(self, problems: dict[str, list[str]]):
        super().__init__(" ".join(m for ms in problems.values() for m in ms))
        self.problems = problems


# --- finding and authenticating users --------------------------------------------------------------

def find_user_for_login(login: str) -> CrmUser | None:
    """The one user whose login (username), e-mail or INN is `login`, ignoring case; None if ambiguous."""
    key = (login or "").strip().lower()
    if not key:
        return None
    conditions = [func.lower(CrmUser.username) == key, func.lower(CrmUser.email) == key]
    if key.isdigit() and len(key) in (10, 12):
        conditions.append(CrmUser.inn == key)
    candidates = db.session.scalars(select(CrmUser).where(or_(*conditions)).limit(5)).all()
    for attribute in ("username", "email", "inn"):
        matches = [user for user in candidates if (getattr(user, attribute) or "").lower() == key]
        if len(matches) == 1:
            return matches[0]
        if matches:
            return None
    return None


def may_sign_in(user: CrmUser | None) -> bool:
    return user is not None and user.deleted_at is None and bool(user.active) and not user.blocked_reason


def authenticate(login: str, password: str) -> CrmUser:
    """The active, not blocked, not deleted user with this login and password; SignInError otherwise.

    Throttled per login and per address (TooManyAttemptsError, 429); both outcomes are audited."""
    throttle.hit("signin", login)
    user = find_user_for_login(login)
    if not may_sign_in(user):
        # Spend the time a real check takes, so timing does not tell which accounts exist.
        check_password_hash(current_app.config["AUTH_DB_FAKE_PASSWORD_HASH_CHECK"], password or "")
        _signin_failed(login, user)
    # FAB compares the hash and records the attempt (last login, failed-login count).
    checked = current_app.appbuilder.sm.auth_user_db(user.username, password)
    if checked is None:
        _signin_failed(login, user)
    throttle.reset("signin", login)
    return checked


def _signin_failed(login: str, user: CrmUser | None):
    db.session.rollback()
    audit.record("signin.failure", actor=user if user is not None else False, subject_type="user",
                 subject_id=getattr(user, "id", None), detail={"login": (login or "")[:320]})
    db.session.commit()
    raise SignInError()


def complete_sign_in(user: CrmUser, *, remember: bool) -> None:
    """After the password (and second factor) passed and `login_user()`: run first-sign-in work
    and audit. The caller started the session record (`sessions.start`) before `login_user()`."""
    try:
        from crm.services.signup import complete_first_sign_in
    except ImportError:  # sign-up (issue 3, part A) not installed
        complete_first_sign_in = None
    if complete_first_sign_in is not None:
        complete_first_sign_in(user)
    audit.record("signin.success", actor=user, subject_type="user", subject_id=user.id,
                 detail={"remember": remember})
    db.session.commit()


def record_sign_out(user) -> None:
    """End this browser's session row and audit the sign-out."""
    sessions.end_current()
    audit.record("signout", actor=user, subject_type="user", subject_id=user.id)
    db.session.commit()


# --- second factor -----------------------------------------------------------------------------------

def needs_second_factor(user: CrmUser, device: str) -> bool:
    """2FA is on and this browser has not signed in to this account before."""
    return bool(user.second_factor_enabled) and not sessions.is_known_device(user.id, device)


def send_two_factor_code(user: CrmUser) -> None:
    """Mail a sign-in code (at most one a minute)."""
    wait = codes.seconds_until_resend("two_factor", user.id)
    if wait:
        raise AccountError(_("A new code can be sent in %(seconds)d s.", seconds=wait))
    code = codes.issue("two_factor", user_id=user.id, ttl=CODE_TTL)
    _mail(user.email, _("Sign-in code"), "email/two_factor.txt", user=user, code=code, category="two_factor")
    db.session.commit()


def verify_two_factor(user: CrmUser, code: str) -> None:
    throttle.hit("code", f"user:{user.id}")
    codes.consume("two_factor", code, user_id=user.id)
    audit.record("signin.second_factor", actor=user, subject_type="user", subject_id=user.id)


def set_second_factor(user: CrmUser, enabled: bool) -> None:
    if bool(user.second_factor_enabled) != bool(enabled):
        user.second_factor_enabled = bool(enabled)
        audit.record("profile.second_factor", actor=user, subject_type="user", subject_id=user.id,
                     detail={"enabled": bool(enabled)})
    db.session.commit()


# --- password recovery and change ----------------------------------------------------------------------

def request_recovery(email: str) -> None:
    """Mail a single-use recovery link if the address belongs to an account that may sign in.

    The caller answers the same whatever happens here, so nobody learns which addresses exist."""
    email = (email or "").strip().lower()
    throttle.hit("recovery", email)
    if not EMAIL_RE.match(email):
        return
    users = db.session.scalars(select(CrmUser).where(func.lower(CrmUser.email) == email).limit(2)).all()
    if len(users) != 1 or not may_sign_in(users[0]):
        audit.record("password.recovery_unknown", actor=False, detail={"email": email[:320]})
        db.session.commit()
        return
    user = users[0]
    token = codes.issue("password_reset", user_id=user.id, ttl=RECOVERY_TTL, link=True)
    link = _absolute(url_for("portal.reset_password", token=token))
    subject, body = message_templates.render_message("password.recovery", message_templates.recipient_locale(user), {
        "name": user.first_name or user.username, "link": link, "hours": int(RECOVERY_TTL.total_seconds() // 3600)})
    outbox.queue_email(user.email, subject, body, user_id=user.id, category="password_reset")
    audit.record("password.recovery_requested", actor=user, subject_type="user", subject_id=user.id)
    db.session.commit()


def _link_row(token: str) -> OneTimeCode | None:
    return codes.peek("password_reset", token)


def check_reset_link(token: str) -> CrmUser:
    """The user a recovery or invitation link is for, without using it; CodeError if it cannot be used."""
    row = _link_row(token)
    if row is None:
        raise codes.CodeError(_("The link is invalid."))
    if row.used_at is not None:
        raise codes.CodeError(_("The link has already been used."))
    now = clock.now()
    if row.expires_at <= now:
        raise codes.CodeError(_("The link has expired."))
    if row.not_before is not None and now < row.not_before:
        raise codes.CodeError(_("The link is not valid yet. Use it from %(day)s.",
                                day=row.not_before.strftime("%d.%m.%Y")))
    user = db.session.get(CrmUser, row.user_id) if row.user_id else None
    if user is None or user.deleted_at is not None:
        raise codes.CodeError(_("The link is invalid."))
    return user


def reset_password(token: str, password: str, confirm: str) -> CrmUser:
    """Set a new password through a recovery or invitation link (single use); confirms the e-mail,
    whose owner the link proves, and ends every session of the account."""
    user = check_reset_link(token)
    _check_new_password(user, password, confirm)
    codes.consume("password_reset", token)
    _set_password(user, password)
    if user.email_confirmed_at is None:
        user.email_confirmed_at = clock.now()
    sessions.end_all(user.id, sessions.PASSWORD_CHANGED, actor=user, commit=False)
    audit.record("password.reset", actor=user, subject_type="user", subject_id=user.id)
    db.session.commit()
    if user.email:
        _mail(user.email, _("Your password was changed"), "email/password_changed.txt", user=user,
              category="password_changed")
        db.session.commit()
    return user


def _check_new_password(user: CrmUser, password: str, confirm: str) -> None:
    problems: dict[str, list[str]] = {}
    from crm.services.passwords import WeakPasswordError

    # passwords.py compares the login's local part but checks the length of the whole login:
    # a short local part ("s@…") would forbid every password containing that letter.
    login = user.username or ""
    if len(login.split("@")[0]) < 4:
        login = None
    try:
        check_password_policy(password or "", login=login)
    except WeakPasswordError as exc:
        problems["new_password"] = exc.problems
    if (password or "") != (confirm or ""):
        problems["confirm"] = [_("The passwords do not match.")]
    if problems:
        raise ValidationError(problems)


def _set_password(user: CrmUser, password: str) -> None:
    from werkzeug.security import generate_password_hash

    method = current_app.config.get("FAB_PASSWORD_HASH_METHOD", "scrypt")
    user.password = generate_password_hash(password, method=method)
    user.must_change_password = False
    user.changed_on = clock.now().replace(tzinfo=None)


def change_password(user: CrmUser, old: str, new: str, confirm: str, *, end_others: bool = True) -> int:
    """Change the password (the old one required); returns how many other sessions were ended."""
    throttle.hit("signin", user.username)
    problems: dict[str, list[str]] = {}
    if not check_password_hash(user.password or "", old or ""):
        problems["old_password"] = [_("The current password is wrong.")]
    try:
        _check_new_password(user, new, confirm)
    except ValidationError as exc:
        problems.update(exc.problems)
    if old and old == new:
        problems.setdefault("new_password", []).append(_("The new password must differ from the current one."))
    if problems:
        raise ValidationError(problems)
    _set_password(user, new)
    ended = 0
    if end_others:
        ended = sessions.end_all(user.id, sessions.PASSWORD_CHANGED, except_token=sessions.current_token(),
                                 actor=user, commit=False)
    audit.record("password.change", actor=user, subject_type="user", subject_id=user.id,
                 detail={"ended_sessions": ended})
    if user.email:
        _mail(user.email, _("Your password was changed"), "email/password_changed.txt", user=user,
              category="password_changed")
    db.session.commit()
    return ended


# --- e-mail confirmation and change --------------------------------------------------------------------

def send_email_confirmation(user: CrmUser) -> None:
    """Mail a code that confirms the account's current address (at most one a minute)."""
    if user.email_confirmed_at is not None:
        raise AccountError(_("Your e-mail address is already confirmed."))
    wait = codes.seconds_until_resend("confirm_email", user.id)
    if wait:
        raise AccountError(_("A new code can be sent in %(seconds)d s.", seconds=wait))
    code = codes.issue("confirm_email", user_id=user.id, ttl=CODE_TTL, target=user.email.lower())
    _mail(user.email, _("Confirm your e-mail address"), "email/email_change.txt", user=user, code=code,
          confirm_only=True, category="confirm_email")
    db.session.commit()


def confirm_email(user: CrmUser, code: str) -> None:
    throttle.hit("code", f"user:{user.id}")
    row = codes.consume("confirm_email", code, user_id=user.id)
    if (row.target or "") != (user.email or "").lower():
        db.session.rollback()
        raise codes.CodeError(_("This code was sent to another address. Request a new one."))
    user.email_confirmed_at = clock.now()
    audit.record("profile.email_confirmed", actor=user, subject_type="user", subject_id=user.id)
    db.session.commit()


def normalise_email(value: str) -> str:
    email = (value or "").strip().lower()
    if len(email) > 254 or not EMAIL_RE.match(email):
        raise ValidationError({"email": [_("Enter a valid e-mail address, e.g. name@example.com.")]})
    return email


def _email_taken(email: str, user_id: int) -> bool:
    return db.session.scalar(select(CrmUser.id).where(
        or_(func.lower(CrmUser.email) == email, func.lower(CrmUser.username) == email),
        CrmUser.id != user_id).limit(1)) is not None


def start_email_change(user: CrmUser, new_email: str) -> str:
    """Mail a code to the new address; the address changes only when the code comes back."""
    email = normalise_email(new_email)
    if email == (user.email or "").lower():
        raise ValidationError({"email": [_("This is already your e-mail address.")]})
    if _email_taken(email, user.id):
        raise ValidationError({"email": [_("This e-mail address is used by another account.")]})
    wait = codes.seconds_until_resend("email_change", user.id)
    if wait:
        raise AccountError(_("A new code can be sent in %(seconds)d s.", seconds=wait))
    # One pending change at a time: an earlier code for another address stops working.
    db.session.execute(OneTimeCode.__table__.update().where(
        OneTimeCode.user_id == user.id, OneTimeCode.purpose == "email_change", OneTimeCode.used_at.is_(None)
    ).values(used_at=clock.now()))
    code = codes.issue("email_change", user_id=user.id, ttl=CODE_TTL, target=email)
    _mail(email, _("Confirm your new e-mail address"), "email/email_change.txt", user=user, code=code,
          confirm_only=False, category="email_change")
    audit.record("profile.email_change_requested", actor=user, subject_type="user", subject_id=user.id,
                 detail={"new_email": email})
    db.session.commit()
    return email


def pending_email_change(user: CrmUser) -> str | None:
    """The new address awaiting its code, if any."""
    row = db.session.scalar(select(OneTimeCode).where(
        OneTimeCode.user_id == user.id, OneTimeCode.purpose == "email_change", OneTimeCode.used_at.is_(None),
        OneTimeCode.expires_at > clock.now()).order_by(OneTimeCode.created_at.desc()).limit(1))
    return row.target if row is not None else None


def confirm_email_change(user: CrmUser, code: str) -> str:
    """Apply the pending e-mail change when the code sent to the new address is right."""
    throttle.hit("code", f"user:{user.id}")
    row = codes.consume("email_change", code, user_id=user.id)
    email = row.target
    if not email or _email_taken(email, user.id):
        db.session.rollback()
        raise ValidationError({"email": [_("This e-mail address is used by another account.")]})
    old = user.email
    if (user.username or "").lower() == (old or "").lower():
        user.username = email
    user.email = email
    user.email_confirmed_at = clock.now()
    audit.record("profile.email_change", actor=user, subject_type="user", subject_id=user.id,
                 detail={"old": old, "new": email})
    db.session.commit()
    return email


def cancel_email_change(user: CrmUser) -> None:
    db.session.execute(OneTimeCode.__table__.update().where(
        OneTimeCode.user_id == user.id, OneTimeCode.purpose == "email_change", OneTimeCode.used_at.is_(None)
    ).values(used_at=clock.now()))
    db.session.commit()


# --- personal data, phone, notification settings ----------------------------------------------------

PERSONAL_FIELDS = ("last_name", "first_name", "patronymic", "position", "organisation")


def update_personal(user: CrmUser, data: dict) -> None:
    """Save name, position and organisation (first and last name required)."""
    values = {key: (data.get(key) or "").strip() for key in PERSONAL_FIELDS}
    problems: dict[str, list[str]] = {}
    for key in ("last_name", "first_name"):
        if not values[key]:
            problems[key] = [_("This field is required.")]
    if problems:
        raise ValidationError(problems)
    changes = {key: value for key, value in values.items() if (getattr(user, key) or "") != value}
    for key, value in changes.items():
        setattr(user, key, value or None)
    if changes:
        audit.record("profile.update", actor=user, subject_type="user", subject_id=user.id,
                     detail={"fields": sorted(changes)})
    db.session.commit()


def normalise_phone(value: str) -> str:
    """A Russian phone number, normalised to +7 (495) 123-45-67; ValidationError if it is not one."""
    digits = re.sub(r"\D", "", value or "")
    if re.fullmatch(r"[78]\d{10}", digits):
        digits = digits[1:]
    if not re.fullmatch(r"\d{10}", digits or "") or re.search(r"[^\d\s()+\-]", value or ""):
        raise ValidationError({"phone": [_("Enter a Russian phone number, e.g. +7 (912) 345-67-89.")]})
    return f"+7 ({digits[:3]}) {digits[3:6]}-{digits[6:8]}-{digits[8:]}"


def update_phone(user: CrmUser, value: str) -> str:
    phone = normalise_phone(value)
    if phone != user.phone:
        user.phone = phone
        audit.record("profile.phone", actor=user, subject_type="user", subject_id=user.id)
    db.session.commit()
    return phone


def notification_settings(user: CrmUser) -> dict:
    """The user's settings over the defaults."""
    settings = {**NOTIFICATION_DEFAULTS, **(user.notification_settings or {})}
    settings["contracts"] = dict((user.notification_settings or {}).get("contracts") or {})
    return settings


def update_notifications(user: CrmUser, values: dict, contract_ids: list[int]) -> dict:
    """Validate and store the notification settings; `contract_ids` are the user's contracts."""
    problems: dict[str, list[str]] = {}
    settings = {key: bool(values.get(key)) for key in
                ("email", "marketing", "remind_open", "remind_close", "debt_emails", "bill_emails")}
    for key in ("remind_open_days", "remind_close_days"):
        try:
            days = int(values.get(key))
        except (TypeError, ValueError):
            days = None
        if days not in REMIND_DAYS:
            problems[key] = [_("Choose from 1 to 15 days.")]
        settings[key] = days
    if problems:
        raise ValidationError(problems)
    per_contract = values.get("contracts") or {}
    settings["contracts"] = {str(cid): {"invoices": bool(per_contract.get(str(cid), {}).get("invoices")),
                                        "payments": bool(per_contract.get(str(cid), {}).get("payments"))}
                             for cid in contract_ids}
    user.notification_settings = settings
    audit.record("profile.notifications", actor=user, subject_type="user", subject_id=user.id)
    db.session.commit()
    return settings


# --- deletion and blocking -------------------------------------------------------------------------

def delete_account(user: CrmUser, password: str) -> None:
    """Soft-delete the account after checking the password: frees the e-mail and login for a new
    registration, ends every session, keeps the row for the audit trail."""
    throttle.hit("signin", user.username)
    if not check_password_hash(user.password or "", password or ""):
        raise ValidationError({"password": [_("The password is wrong.")]})
    old_email, old_username = user.email, user.username
    now = clock.now()
    user.deleted_at = now
    user.active = False
    tombstone = f"deleted-{user.id}-{int(now.timestamp())}@{TOMBSTONE_DOMAIN}"
    user.email = tombstone
    user.username = tombstone
    user.second_factor_enabled = False
    sessions.end_all(user.id, sessions.ACCOUNT_DELETED, actor=user, commit=False)
    audit.record("account.delete", actor=user, subject_type="user", subject_id=user.id,
                 detail={"email": old_email, "username": old_username})
    db.session.commit()


def end_sessions_of_blocked(user_id: int, reason: str | None = None) -> int:
    """For blocking (C, A): end every session of the account in the caller's transaction."""
    return sessions.end_all(user_id, sessions.ACCOUNT_BLOCKED, commit=False,
                            actor=None if reason is None else None)


# --- mail ------------------------------------------------------------------------------------------------

def _absolute(path: str) -> str:
    return current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/") + path


def _mail(to: str, subject: str, template: str, *, category: str, **context) -> None:
    body = render_template(template, **context)
    outbox.queue_email(to, subject, body, user_id=getattr(context.get("user"), "id", None), category=category)
