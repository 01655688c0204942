"""Admin-editable system settings (SystemSetting rows, key → JSON), e.g. the enabled sign-up methods."""
from __future__ import annotations

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from crm.extensions import db
from crm.models.user import SystemSetting
from crm.services import ServiceError, audit

SIGNUP_METHODS_KEY = "signup.methods"

#: The four ways to get an account (SPEC C1), in the order the settings page lists them.
SIGNUP_EMAIL = "email"          # (a) self sign-up with e-mail + password, then bind by contract e-mail
SIGNUP_ACCOUNT = "account"      # (b) account number + partner code
SIGNUP_PAPER = "paper"          # (c) staff create the account from a paper application
SIGNUP_TEMPORARY = "temporary"  # (d) staff issue a temporary password; contracts bind by INN
SIGNUP_METHODS = (SIGNUP_EMAIL, SIGNUP_ACCOUNT, SIGNUP_PAPER, SIGNUP_TEMPORARY)
SIGNUP_METHOD_LABELS = {
    SIGNUP_EMAIL: _l("Self sign-up with e-mail and password, contract bound by its e-mail"),
    SIGNUP_ACCOUNT: _l("Sign-up by account number and partner code"),
    SIGNUP_PAPER: _l("Account created by staff from a paper application (activation link)"),
    SIGNUP_TEMPORARY: _l("Temporary password issued by staff (contracts bound by INN)"),
}


class SettingsError(ServiceError):
    """A setting value was refused."""


def get_setting(key: str, default=None):
    """The stored JSON value of `key`, or `default` when it was never set."""
    row = db.session.get(SystemSetting, key)
    return default if row is None or row.value is None else row.value


def put_setting(key: str, value, *, description: str | None = None) -> SystemSetting:
    """Store `value` under `key` in the caller's transaction."""
    row = db.session.get(SystemSetting, key)
    if row is None:
        row = SystemSetting(key=key)
        db.session.add(row)
    row.value = value
    if description is not None:
        row.description = description
    return row


def enabled_signup_methods() -> list[str]:
    """The sign-up methods the utility has switched on (all four until an admin changes it)."""
    value = get_setting(SIGNUP_METHODS_KEY)
    if not isinstance(value, dict) or not isinstance(value.get("enabled"), list):
        return list(SIGNUP_METHODS)
    return [method for method in SIGNUP_METHODS if method in value["enabled"]]


def is_signup_method_enabled(method: str) -> bool:
    """True when `method` (one of SIGNUP_METHODS) is switched on."""
    return method in enabled_signup_methods()


def set_enabled_signup_methods(methods, *, actor=None) -> list[str]:
    """Switch sign-up methods on and off (Admin); audited; commits."""
    unknown = [method for method in methods if method not in SIGNUP_METHODS]
    if unknown:
        raise SettingsError(gettext("Unknown sign-up method: %(name)s", name=", ".join(unknown)))
    before = enabled_signup_methods()
    enabled = [method for method in SIGNUP_METHODS if method in methods]
    put_setting(SIGNUP_METHODS_KEY, {"enabled": enabled}, description="Enabled sign-up methods (SPEC C1)")
    audit.record("settings.signup_methods", actor=actor, subject_type="system_setting",
                 detail={"before": before, "after": enabled})
    db.session.commit()
    return enabled
