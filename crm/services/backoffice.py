"""Back-office bookkeeping: every add, edit and delete a staff member makes is audited.

FAB commits the edit itself; the view then calls `record_staff_edit()`, which writes one
audit row tied to the counterparty the edited row belongs to (so it shows in customer 360).
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import inspect

from crm.extensions import db
from crm.models.audit import AuditLog

# Columns never copied into the audit trail.
_SECRET_COLUMNS = {"password", "provider_token", "code_hash"}


def _plain(value):
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, (Decimal, date, datetime)):
        return str(value)
    if isinstance(value, (list, tuple, set)):
        return [str(v) for v in value]
    return str(value)


def snapshot(item) -> dict:
    """Column values and many-to-many memberships of `item`, as plain values (secrets masked)."""
    mapper = inspect(item).mapper
    values = {attr.key: ("***" if attr.key in _SECRET_COLUMNS else _plain(getattr(item, attr.key)))
              for attr in mapper.column_attrs}
    for rel in mapper.relationships:
        if rel.secondary is not None:
            values[rel.key] = sorted(str(member) for member in getattr(item, rel.key))
    return values


def diff(before: dict, after: dict) -> dict[str, list]:
    """{name: [old, new]} for every value that changed between two snapshots."""
    return {key: [before.get(key), value] for key, value in after.items() if before.get(key) != value}


def counterparty_id_of(item) -> int | None:
    """The counterparty a row belongs to, following meter → point → object → contract links."""
    for _ in range(6):
        if item is None:
            return None
        if type(item).__name__ == "Counterparty":
            return item.id
        if getattr(item, "counterparty_id", None) is not None:
            return item.counterparty_id
        parent = next((name for name in ("contract", "energy_object", "metering_point", "meter")
                       if hasattr(item, name)), None)
        if parent is None:
            return None
        item = getattr(item, parent)
    return None


def describe(item) -> dict:
    """What the audit row says about `item`; taken before a delete, while its links still load."""
    identity = inspect(item).identity or (getattr(item, "id", None),)
    with db.session.no_autoflush:
        return {
            "subject_type": getattr(item, "__tablename__", type(item).__name__),
            "subject_id": identity[0] if len(identity) == 1 and isinstance(identity[0], int) else None,
            "label": str(item)[:200],
            "counterparty_id": counterparty_id_of(item),
        }


def record_staff_edit(actor, action: str, subject: dict, *, changes: dict | None = None,
                      ip_address: str | None = None, user_agent: str | None = None) -> AuditLog:
    """Write and commit one audit row for a staff add/edit/delete; `subject` comes from describe()."""
    detail: dict = {"label": subject.get("label")}
    if changes:
        detail["changes"] = changes
    row = AuditLog(
        actor_id=getattr(actor, "id", None),
        actor_label=getattr(actor, "username", None),
        action=action,
        subject_type=subject.get("subject_type"),
        subject_id=subject.get("subject_id"),
        counterparty_id=subject.get("counterparty_id"),
        ip_address=ip_address,
        user_agent=(user_agent or "")[:500] or None,
        detail=detail,
    )
    db.session.add(row)
    db.session.commit()
    return row
