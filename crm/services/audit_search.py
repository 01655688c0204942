"""The audit log viewer's search (SPEC B10): actor, action, subject and a date range, newest first.

Filters arrive as query-string text; every problem is collected per field (the page shows them next
to the inputs) and a filter with a problem is not applied, so a typo never shows "nothing found"
as if it were an answer. Paging is by keyset on (created_at, id): the log only grows, and OFFSET on
it would get slower page by page.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import and_, or_, select

from crm import clock
from crm.extensions import db
from crm.models.audit import AuditLog
from crm.services.date_ranges import check_order, parse_date_field

PAGE_SIZE = 50


@dataclass
class AuditFilters:
    actor: str = ""
    action: str = ""
    subject_type: str = ""
    subject_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    errors: dict[str, str] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)


def parse_filters(args) -> AuditFilters:
    """Filters from a request's query string (a MultiDict or a plain dict)."""
    raw = {name: (args.get(name) or "").strip()[:200]
           for name in ("actor", "action", "subject_type", "subject_id", "date_from", "date_to")}
    filters = AuditFilters(actor=raw["actor"], action=raw["action"], subject_type=raw["subject_type"], raw=raw)
    if raw["subject_id"]:
        if raw["subject_id"].isdigit() and len(raw["subject_id"]) <= 18:
            filters.subject_id = int(raw["subject_id"])
        else:
            filters.errors["subject_id"] = _("The subject number must be a whole number.")
    example = clock.now().date()
    for name in ("date_from", "date_to"):
        if raw[name]:
            setattr(filters, name, parse_date_field(raw[name], name, example, filters.errors, example=example))
    if filters.date_from and filters.date_to:
        check_order(filters.date_from, filters.date_to, filters.errors)
        if "date_from" in filters.errors:
            filters.date_from = None
    return filters


def _day_start(day: date) -> datetime:
    """Midnight of `day` in the display time zone (staff think in local days), as an aware datetime."""
    zone = ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Europe/Moscow"))
    return datetime.combine(day, time.min, tzinfo=zone)


def _conditions(filters: AuditFilters) -> list:
    conditions = []
    if filters.actor:
        conditions.append(AuditLog.actor_label.ilike(f"%{_escape(filters.actor)}%", escape="\\"))
    if filters.action:
        # "contract_role" finds contract_role.granted and contract_role.changed
        conditions.append(or_(AuditLog.action == filters.action,
                              AuditLog.action.like(f"{_escape(filters.action)}%", escape="\\")))
    if filters.subject_type:
        conditions.append(AuditLog.subject_type == filters.subject_type)
    if filters.subject_id is not None:
        conditions.append(AuditLog.subject_id == filters.subject_id)
    if filters.date_from:
        conditions.append(AuditLog.created_at >= _day_start(filters.date_from))
    if filters.date_to:
        conditions.append(AuditLog.created_at < _day_start(filters.date_to + timedelta(days=1)))
    return conditions


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass
class AuditPage:
    rows: list[AuditLog]
    next_cursor: str | None


def search(filters: AuditFilters, cursor: str | None = None, page_size: int = PAGE_SIZE) -> AuditPage:
    """One page of matching records, newest first; `cursor` comes from the previous page."""
    query = select(AuditLog).where(*_conditions(filters))
    if cursor:
        try:
            stamp, _sep, last_id = cursor.partition("_")
            after_time, after_id = datetime.fromisoformat(stamp), int(last_id)
        except ValueError:
            after_time = after_id = None
        if after_time is not None:
            query = query.where(or_(AuditLog.created_at < after_time,
                                    and_(AuditLog.created_at == after_time, AuditLog.id < after_id)))
    rows = list(db.session.scalars(query.order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
                                   .limit(page_size + 1)))
    next_cursor = None
    if len(rows) > page_size:
        rows = rows[:page_size]
        last = rows[-1]
        next_cursor = f"{last.created_at.isoformat()}_{last.id}"
    return AuditPage(rows=rows, next_cursor=next_cursor)


def subject_types() -> list[str]:
    """Subject kinds present in the log, for the filter's choices."""
    return [value for value in db.session.scalars(
        select(AuditLog.subject_type).where(AuditLog.subject_type.is_not(None)).distinct()
        .order_by(AuditLog.subject_type)) if value]
