"""Readings-window reminders (SPEC W2, C4 settings) [004 §5, §12].

A user's notification settings say whether to be reminded before a readings window opens
(`remind_open`, `remind_open_days` days before) and before it closes (`remind_close`,
`remind_close_days`), under the master switch `email`. The job runs hourly: for every window opening
or closing within the next 15 days, each customer who may submit readings (SPEC C6) on an active
contract the window covers, and whose own number of days has been reached, gets one e-mail through
the outbox. A `ReadingsReminder` row per user, window and kind makes reruns send nothing twice (and a
run missed while the worker was down is caught up later, as long as the date has not passed).

Which window covers a contract: the window of its branch for that period if there is one, else the
general window (no branch) of that period.

Set-based: four statements whatever the number of users (windows, recipients, reminders already sent,
then the inserts), the e-mails and reminder rows committed together.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app, url_for
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.routing import BuildError

from crm import clock
from crm.access import MATRIX, Capability
from crm.extensions import db
from crm.formatting import format_day, format_period
from crm.models import Contract, ContractAccess, CrmUser, ReadingsReminder, ReadingsWindow
from crm.models.contract import ContractStatus
from crm.services import message_templates, outbox
from crm.services.accounts import NOTIFICATION_DEFAULTS, REMIND_DAYS

OPENS, CLOSES = "opens", "closes"
HORIZON_DAYS = max(REMIND_DAYS)
SUBMIT_ROLES = sorted(role.value for role in MATRIX[Capability.SUBMIT_READINGS])


@dataclass
class _Pending:
    user: CrmUser
    window: ReadingsWindow
    kind: str
    contracts: list[Contract]


def _covering(windows: list[ReadingsWindow]) -> dict[tuple[date, int | None], ReadingsWindow]:
    return {(window.period, window.branch_id): window for window in windows}


def _due(window: ReadingsWindow, kind: str, settings: dict, today: date) -> bool:
    """Whether the user's reminder of `kind` for `window` is due today (its day reached, date not passed)."""
    switch, days_key = ("remind_open", "remind_open_days") if kind == OPENS else ("remind_close", "remind_close_days")
    if not settings.get("email") or not settings.get(switch):
        return False
    try:
        days = int(settings.get(days_key))
    except (TypeError, ValueError):
        days = NOTIFICATION_DEFAULTS[days_key]
    moment = window.opens_on if kind == OPENS else window.closes_on
    return 0 <= (moment - today).days <= days


def due_reminders(today: date | None = None) -> list[_Pending]:
    """Every reminder due today and not yet sent, grouped per user, window and kind (read helper)."""
    today = today or clock.today()
    horizon = today + timedelta(days=HORIZON_DAYS)
    near = list(db.session.scalars(
        select(ReadingsWindow).where(
            ((ReadingsWindow.opens_on >= today) & (ReadingsWindow.opens_on <= horizon))
            | ((ReadingsWindow.closes_on >= today) & (ReadingsWindow.closes_on <= horizon)))
    ))
    if not near:
        return []
    periods = sorted({window.period for window in near})
    # Every window of those periods: a branch's own window overrides the general one for its contracts.
    all_windows = list(db.session.scalars(select(ReadingsWindow).where(ReadingsWindow.period.in_(periods))))
    covering = _covering(all_windows)
    near_ids = {window.id for window in near}

    rows = db.session.execute(
        select(CrmUser, Contract)
        .join(ContractAccess, ContractAccess.user_id == CrmUser.id)
        .join(Contract, ContractAccess.contract_id == Contract.id)
        .where(ContractAccess.confirmed_at.is_not(None), ContractAccess.role.in_(SUBMIT_ROLES),
               Contract.status == ContractStatus.ACTIVE.value, CrmUser.active.is_(True),
               CrmUser.deleted_at.is_(None), CrmUser.email.is_not(None))
        .order_by(CrmUser.id, Contract.number)
    ).all()
    sent = {(row.user_id, row.window_id, row.kind) for row in db.session.execute(
        select(ReadingsReminder.user_id, ReadingsReminder.window_id, ReadingsReminder.kind)
        .where(ReadingsReminder.window_id.in_(sorted(near_ids))))}

    pending: dict[tuple[int, int, str], _Pending] = {}
    for user, contract in rows:
        settings = {**NOTIFICATION_DEFAULTS, **(user.notification_settings or {})}
        for period in periods:
            window = covering.get((period, contract.branch_id)) or covering.get((period, None))
            if window is None or window.id not in near_ids:
                continue
            for kind in (OPENS, CLOSES):
                key = (user.id, window.id, kind)
                if key in sent or not _due(window, kind, settings, today):
                    continue
                if key not in pending:
                    pending[key] = _Pending(user, window, kind, [])
                pending[key].contracts.append(contract)
    return list(pending.values())


def _readings_url(contract: Contract) -> str:
    base = current_app.config.get("PUBLIC_BASE_URL", "").rstrip("/")
    try:
        return base + url_for("portal.readings", contract_id=contract.id)
    except (BuildError, RuntimeError):
        return f"{base}/portal/contracts/{contract.id}/readings"


def render_reminder(item: _Pending) -> tuple[str, str]:
    """Subject and body of one reminder, in the recipient's language (editable template, SPEC B7)."""
    window = item.window
    locale = message_templates.normalise_locale(item.user.locale)
    with force_locale(locale):
        period = format_period(window.period)
    contracts = [{"number": contract.number, "url": _readings_url(contract)} for contract in item.contracts]
    return message_templates.render_message("readings.reminder", locale, {
        "opens": item.kind == OPENS, "period": period, "start": format_day(window.opens_on),
        "end": format_day(window.closes_on), "contracts": contracts})


def send_readings_reminders(today: date | None = None) -> int:
    """Queue every due reminder through the outbox and remember it; returns how many were queued.
    Idempotent: a rerun (or a concurrent run) sends nothing twice. Commits."""
    pending = due_reminders(today)
    if not pending:
        db.session.rollback()
        return 0
    now = clock.now()
    for item in pending:
        if message_templates.wants_email("readings.reminder", item.user.locale):
            subject, body = render_reminder(item)
            outbox.queue_email(item.user.email, subject, body, user_id=item.user.id,
                               category=f"readings_reminder_{item.kind}")
        db.session.add(ReadingsReminder(user_id=item.user.id, window_id=item.window.id, kind=item.kind, sent_at=now))
    try:
        db.session.commit()
    except IntegrityError:      # a concurrent run got there first: its rows stand, ours roll back
        db.session.rollback()
        return 0
    return len(pending)
