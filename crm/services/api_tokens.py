"""Billing-integration tokens (SPEC B9): issue, authenticate, revoke.

The secret is `crm_` + 40 URL-safe characters, shown once; only its SHA-256 is stored, so a leaked
database does not leak working tokens. A token carries scopes: `readings` (export submitted readings,
import accepted ones) and `billing` (upsert contracts, objects, meters, documents, payments, tariffs).
"""
from __future__ import annotations

import hashlib
import secrets

from flask_babel import gettext as _
from sqlalchemy import select

from crm import clock
from crm.extensions import db
from crm.models import ApiToken
from crm.services import ServiceError, audit

SCOPES: tuple[str, ...] = ("readings", "billing")
PREFIX = "crm_"


class ApiTokenError(ServiceError):
    """A token cannot be issued as asked."""


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def issue_token(name: str, scopes: list[str] | tuple[str, ...],
                created_by_id: int | None = None) -> tuple[ApiToken, str]:
    """A new token and its secret (the only time the secret exists in clear). Commits."""
    name = (name or "").strip()
    if not name or len(name) > 128:
        raise ApiTokenError(_("Give the token a name of 1 to 128 characters."), field="name")
    unknown = sorted(set(scopes) - set(SCOPES))
    if not scopes or unknown:
        raise ApiTokenError(_("Choose the token's scopes from: %(scopes)s.", scopes=", ".join(SCOPES)), field="scopes")
    secret = PREFIX + secrets.token_urlsafe(30)
    token = ApiToken(name=name, token_hash=hash_secret(secret), prefix=secret[:10],
                     scopes=sorted(set(scopes)), created_by_id=created_by_id)
    db.session.add(token)
    db.session.flush()
    audit.record("api_token.issued", subject_type="api_token", subject_id=token.id,
                 detail={"name": token.name, "prefix": token.prefix, "scopes": token.scopes})
    db.session.commit()
    return token, secret


def authenticate(secret: str | None) -> ApiToken | None:
    """The live (not revoked) token with this secret, or None. Marks it used (in the caller's transaction)."""
    if not secret or not secret.startswith(PREFIX) or len(secret) > 100:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_secret(secret)))
    if token is None or token.revoked_at is not None:
        return None
    token.last_used_at = clock.now()
    return token


def revoke_token(token_id: int) -> ApiToken:
    """Revoke a token for good (idempotent). Commits."""
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise ApiTokenError(_("No such token."))
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        audit.record("api_token.revoked", subject_type="api_token", subject_id=token.id,
                     detail={"name": token.name, "prefix": token.prefix})
        db.session.commit()
    return token
