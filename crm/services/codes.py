"""One-time codes and links sent by e-mail: confirm an address, recover a password, second factor,
activate an account, confirm a contract binding.

Only a keyed hash is stored. A code is single-use, expires, allows a few wrong attempts and can be
re-sent at most once a minute (SPEC C1, C2, C3).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update

from crm import clock
from crm.extensions import db
from crm.models.user import OneTimeCode
from crm.services import ServiceError

MAX_ATTEMPTS = 5
RESEND_INTERVAL = timedelta(minutes=1)


class CodeError(ServiceError):
    """A code or link was not accepted; the message says why."""


def _hash(secret: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, secret.strip().encode(), hashlib.sha256).hexdigest()


def issue(purpose: str, *, user_id: int | None, ttl: timedelta, target: str | None = None,
          payload: dict | None = None, link: bool = False, not_before: datetime | None = None) -> str:
    """Create a code (6 digits) or a link token (`link=True`) in the caller's transaction; returns it.

    Earlier unused codes of the same purpose for the same user and target stop working.
    """
    secret = secrets.token_urlsafe(32) if link else f"{secrets.randbelow(10 ** 6):06d}"
    now = clock.now()
    if user_id is not None:
        db.session.execute(
            update(OneTimeCode)
            .where(OneTimeCode.user_id == user_id, OneTimeCode.purpose == purpose,
                   OneTimeCode.used_at.is_(None),
                   (OneTimeCode.target == target) if target is not None else OneTimeCode.target.is_(None))
            .values(used_at=now)
        )
    db.session.add(OneTimeCode(user_id=user_id, purpose=purpose, code_hash=_hash(secret), target=target,
                               payload=payload, created_at=now, not_before=not_before, expires_at=now + ttl))
    return secret


def seconds_until_resend(purpose: str, user_id: int) -> int:
    """0 when a new code may be sent, else the seconds to wait (at most one code a minute)."""
    last = db.session.scalar(
        select(OneTimeCode.created_at).where(OneTimeCode.user_id == user_id, OneTimeCode.purpose == purpose)
        .order_by(OneTimeCode.created_at.desc()).limit(1)
    )
    if last is None:
        return 0
    wait = (last + RESEND_INTERVAL - clock.now()).total_seconds()
    return max(0, int(wait + 0.999))


def peek(purpose: str, token: str) -> OneTimeCode | None:
    """The link row for `token` without using it up (to show a form before the link is consumed)."""
    return db.session.scalars(
        select(OneTimeCode).where(OneTimeCode.purpose == purpose, OneTimeCode.code_hash == _hash(token or ""))
    ).first()


def consume(purpose: str, secret: str, *, user_id: int | None = None) -> OneTimeCode:
    """Accept a code once: checks purpose, owner, window and attempts; marks it used.

    With `user_id` (typed codes) a wrong code counts against that user's latest code; links are
    looked up by their token alone.
    """
    now = clock.now()
    query = select(OneTimeCode).where(OneTimeCode.purpose == purpose)
    if user_id is not None:
        query = query.where(OneTimeCode.user_id == user_id)
        latest = db.session.scalars(query.order_by(OneTimeCode.created_at.desc()).limit(1).with_for_update()).first()
        if latest is None:
            raise CodeError(_("No code was sent. Request a new one."))
        if latest.used_at is not None:
            raise CodeError(_("This code has already been used or replaced. Request a new one."))
        if latest.expires_at <= now:
            raise CodeError(_("The code has expired. Request a new one."))
        if latest.attempts >= MAX_ATTEMPTS:
            raise CodeError(_("Too many wrong attempts. Request a new code."))
        if not hmac.compare_digest(latest.code_hash, _hash(secret or "")):
            latest.attempts += 1
            db.session.commit()  # the failed attempt must count even though the caller fails
            raise CodeError(_("Wrong code. Check the e-mail and try again."))
        row = latest
    else:
        row = db.session.scalars(query.where(OneTimeCode.code_hash == _hash(secret or "")).with_for_update()).first()
        if row is None:
            raise CodeError(_("The link is invalid."))
        if row.used_at is not None:
            raise CodeError(_("The link has already been used."))
        if row.expires_at <= now:
            raise CodeError(_("The link has expired."))
        if row.not_before is not None and now < row.not_before:
            from crm.formatting import format_day

            raise CodeError(_("The link is not valid yet. Use it from %(day)s.", day=format_day(row.not_before)))
    row.used_at = now
    return row
