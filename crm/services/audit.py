"""The audit log (append-only for the app): who did what, when, from where.

`record()` adds the row to the caller's transaction, so an audited change and its audit row
commit or roll back together.
"""
from __future__ import annotations

from flask import has_request_context, request
from flask_login import current_user

from crm.extensions import db
from crm.models.audit import AuditLog


def _current_actor():
    if has_request_context() and getattr(current_user, "is_authenticated", False):
        return current_user
    return None


def record(action: str, *, actor=None, subject_type: str | None = None, subject_id: int | None = None,
           counterparty_id: int | None = None, detail: dict | None = None) -> AuditLog:
    """Add one audit row; actor defaults to the signed-in user, address and agent to the request's."""
    actor = actor if actor is not None else _current_actor()
    ip_address = user_agent = None
    if has_request_context():
        ip_address = request.remote_addr
        user_agent = (request.user_agent.string or "")[:500] or None
    row = AuditLog(
        action=action,
        actor_id=getattr(actor, "id", None),
        actor_label=(getattr(actor, "email", None) or getattr(actor, "username", None)),
        subject_type=subject_type,
        subject_id=subject_id,
        counterparty_id=counterparty_id,
        ip_address=ip_address,
        user_agent=user_agent,
        detail=detail,
    )
    db.session.add(row)
    return row
