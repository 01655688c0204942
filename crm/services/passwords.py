"""Password policy (SPEC C2, seed 004): Latin letters and digits, at least 8 characters, upper and
lower case and a digit, no spaces, and not one of the passwords attackers try first."""
from __future__ import annotations

import gzip
import re
from functools import lru_cache
from pathlib import Path

from flask_babel import gettext as _

from crm.services import ServiceError

COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt.gz"
MIN_LENGTH = 8
_ALLOWED = re.compile(r"^[A-Za-z0-9!-/:-@\[-`{-~]+$")  # Latin letters, digits, ASCII punctuation


class WeakPasswordError(ServiceError):
    """The password does not meet the policy; `problems` lists every reason."""

    def __init__(self, problems: list[str]):
        super().__init__(" ".join(problems), field="password")
        self.problems = problems


@lru_cache(maxsize=1)
def _common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as handle:
        return frozenset(line.strip().lower() for line in handle if line.strip())


def password_problems(password: str, *, login: str | None = None) -> list[str]:
    """Every rule the password breaks, as localised sentences (empty list = acceptable)."""
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append(_("The password must be at least %(n)d characters long.", n=MIN_LENGTH))
    if any(ch.isspace() for ch in password):
        problems.append(_("The password must not contain spaces."))
    elif not _ALLOWED.match(password or "x"):
        problems.append(_("The password may contain only Latin letters, digits and punctuation."))
    if not re.search(r"[A-Z]", password):
        problems.append(_("The password must contain an upper-case Latin letter."))
    if not re.search(r"[a-z]", password):
        problems.append(_("The password must contain a lower-case Latin letter."))
    if not re.search(r"\d", password):
        problems.append(_("The password must contain a digit."))
    lowered = password.lower()
    if lowered in _common_passwords():
        problems.append(_("This password is too common: it is among the first ones attackers try."))
    elif login and len(login.split("@")[0]) >= 4 and login.lower().split("@")[0] in lowered:
        problems.append(_("The password must not contain your login."))
    return problems


def check_password_policy(password: str, *, login: str | None = None) -> None:
    """Raise WeakPasswordError listing every broken rule."""
    problems = password_problems(password, login=login)
    if problems:
        raise WeakPasswordError(problems)
