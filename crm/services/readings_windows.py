"""Readings windows (SPEC C8, seed 004 §5.2): when the readings of a period are accepted.

Staff define a window per period for all branches (`branch_id` NULL) and, where a branch differs, a
window of that branch, which overrides the general one for the contracts of that branch.

- `window_for(contract, period)`: the window that applies to a contract for one period (or None);
- `entry_window(contract, today)`: the period a customer enters readings for on a day and its window
  state (open / not open yet / closed / not set), with the sentence the pages show:
  "Readings for October 2022 are accepted from 1 October to 21 November".

The period a customer enters on a day: the oldest period whose window is open that day (the one that
closes first — readings for October are still taken in November while November's window may already
be open); when none is open, the next window to open; else the last one that closed; else the
current month with no window set. One statement.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from babel.dates import format_date
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import or_, select

from crm import clock
from crm.extensions import db
from crm.models import ReadingsWindow
from crm.services.readings import add_months, month_start

OPEN, NOT_OPEN, CLOSED, NOT_SET = "open", "not_open", "closed", "not_set"
#: how far around today the entry period is looked for (months back, months ahead)
_LOOK_BACK, _LOOK_AHEAD = 3, 2


def _locale() -> str:
    return str(get_locale() or "ru")


def format_month_year(period: date) -> str:
    """"октябрь 2022" / "October 2022": nominative month name (babel's stand-alone "LLLL")."""
    return format_date(period, "LLLL yyyy", locale=_locale())


def format_day_month(day: date) -> str:
    """"1 октября" / "1 October": genitive month name in Russian (babel's "d MMMM")."""
    return format_date(day, "d MMMM", locale=_locale())


@dataclass(frozen=True)
class WindowState:
    """The period readings are entered for and whether its window is open on `today`."""

    period: date
    window: ReadingsWindow | None
    today: date

    @property
    def state(self) -> str:
        if self.window is None:
            return NOT_SET
        if self.today < self.window.opens_on:
            return NOT_OPEN
        if self.today > self.window.closes_on:
            return CLOSED
        return OPEN

    @property
    def is_open(self) -> bool:
        return self.state == OPEN

    def sentence(self) -> str:
        """"Readings for October 2022 are accepted from 1 October to 21 November" (or: no window set)."""
        if self.window is None:
            return _("The window for readings for %(period)s is not set yet.", period=format_month_year(self.period))
        return _("Readings for %(period)s are accepted from %(opens)s to %(closes)s",
                 period=format_month_year(self.period), opens=format_day_month(self.window.opens_on),
                 closes=format_day_month(self.window.closes_on))

    def status_message(self) -> str | None:
        """Why inputs are read-only now (None while the window is open)."""
        state = self.state
        if state == OPEN:
            return None
        if state == NOT_OPEN:
            return _("Readings for %(period)s are not accepted yet: the window opens on %(day)s.",
                     period=format_month_year(self.period), day=_full_day(self.window.opens_on))
        if state == CLOSED:
            return _("Readings for %(period)s are no longer accepted: the window closed on %(day)s.",
                     period=format_month_year(self.period), day=_full_day(self.window.closes_on))
        return _("Readings are not accepted now: the window for %(period)s is not set yet.",
                 period=format_month_year(self.period))


def _full_day(day: date) -> str:
    return format_date(day, "d MMMM yyyy", locale=_locale())


def _windows_query(branch_id: int | None, first: date, last: date):
    branches = [ReadingsWindow.branch_id.is_(None)]
    if branch_id is not None:
        branches.append(ReadingsWindow.branch_id == branch_id)
    return (select(ReadingsWindow)
            .where(ReadingsWindow.period >= first, ReadingsWindow.period <= last, or_(*branches))
            .order_by(ReadingsWindow.period))


def _effective(windows, branch_id: int | None) -> dict[date, ReadingsWindow]:
    """Per period: the branch's own window when it has one, else the general one."""
    chosen: dict[date, ReadingsWindow] = {}
    for window in windows:
        own = branch_id is not None and window.branch_id == branch_id
        if window.period not in chosen or own:
            chosen[window.period] = window
    return chosen


def window_for(contract, period: date) -> ReadingsWindow | None:
    """The window for `period` that applies to `contract` (its branch's own, else the general one)."""
    period = month_start(period)
    windows = db.session.scalars(_windows_query(contract.branch_id, period, period)).all()
    return _effective(windows, contract.branch_id).get(period)


def window_state(contract, period: date, today: date | None = None) -> WindowState:
    """The window state of one given period for `contract` on `today`."""
    return WindowState(month_start(period), window_for(contract, period), today or clock.today())


def entry_window(contract, today: date | None = None) -> WindowState:
    """The period a customer enters readings for on `today`, with its window (see the module docstring)."""
    today = today or clock.today()
    current = month_start(today)
    windows = db.session.scalars(_windows_query(contract.branch_id, add_months(current, -_LOOK_BACK),
                                                add_months(current, _LOOK_AHEAD))).all()
    by_period = _effective(windows, contract.branch_id)
    ordered = [by_period[period] for period in sorted(by_period)]
    open_now = [w for w in ordered if w.opens_on <= today <= w.closes_on]
    if open_now:
        return WindowState(open_now[0].period, open_now[0], today)
    upcoming = sorted((w for w in ordered if w.opens_on > today), key=lambda w: (w.opens_on, w.period))
    if upcoming:
        return WindowState(upcoming[0].period, upcoming[0], today)
    closed = sorted((w for w in ordered if w.closes_on < today), key=lambda w: (w.closes_on, w.period))
    if closed:
        return WindowState(closed[-1].period, closed[-1], today)
    return WindowState(current, None, today)
