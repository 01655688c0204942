"""Appeals report for managers (SPEC B8): counts by status, section, curator and branch, SLA compliance,
average first-response and resolution times, appeals per day; on screen (with charts) and as xlsx.

The period selects appeals by their creation date. Every figure is one aggregate query (no rows are
loaded into Python), so the report costs the same handful of statements at 100 000 appeals as at ten.

SLA compliance counts an appeal as breached when it was escalated (the escalation job stamps
`escalated_at` once its due time passed) or when it is still open with its due time in the past; the
share is taken over the appeals of the period that had an SLA clock at all.
"""
from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import xlsxwriter
from flask_babel import gettext as _
from sqlalchemy import and_, case, func, or_, select

from crm import clock
from crm.extensions import db
from crm.models import Appeal, AppealTopic, Branch, CrmUser, WorkflowState
from crm.services import ServiceError

#: the longest period one report covers (a year and a day, so "a year" always fits)
MAX_PERIOD_DAYS = 367


class ReportError(ServiceError):
    """The report's filter is not valid; `messages` say why, one per problem."""

    def __init__(self, messages: list[str]):
        super().__init__("; ".join(messages))
        self.messages = messages


@dataclass(frozen=True)
class ReportFilter:
    date_from: date
    date_to: date
    branch_id: int | None = None

    def as_args(self) -> dict[str, str]:
        args = {"from": self.date_from.isoformat(), "to": self.date_to.isoformat()}
        if self.branch_id:
            args["branch"] = str(self.branch_id)
        return args


@dataclass
class Breakdown:
    """One grouping: rows of (label, total, open, closed), largest first."""

    title: str
    rows: list[tuple[str, int, int, int]] = field(default_factory=list)


@dataclass
class AppealReport:
    filter: ReportFilter
    total: int
    open: int
    closed: int
    with_sla: int
    breached: int
    avg_first_response_hours: float | None
    avg_resolution_hours: float | None
    breakdowns: list[Breakdown]
    per_day: list[tuple[date, int]]

    @property
    def sla_compliance(self) -> float | None:
        """Share of appeals with an SLA that were not breached, in per cent (None without any)."""
        if not self.with_sla:
            return None
        return round(100.0 * (self.with_sla - self.breached) / self.with_sla, 1)


def _parse_date(raw: str | None, what: str, problems: list[str]) -> date | None:
    if not raw:
        return None
    for pattern in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(raw.strip(), pattern).date()
        except ValueError:
            continue
    problems.append(_("Enter the %(what)s date as dd.mm.yyyy.", what=what))
    return None


def parse_filter(args: Mapping[str, str], today: date | None = None) -> ReportFilter:
    """The filter from query arguments; the default period is the last 30 days up to today."""
    today = today or clock.today()
    problems: list[str] = []
    date_from = _parse_date(args.get("from"), _("start"), problems)
    date_to = _parse_date(args.get("to"), _("end"), problems)
    branch_id = None
    if args.get("branch"):
        try:
            branch_id = int(args["branch"])
        except ValueError:
            problems.append(_("Choose a branch from the list."))
    date_to = date_to or today
    date_from = date_from or date_to - timedelta(days=29)
    if not problems and date_from > date_to:
        problems.append(_("The start of the period is after its end."))
    if not problems and (date_to - date_from).days >= MAX_PERIOD_DAYS:
        problems.append(_("A report covers at most a year; shorten the period."))
    if problems:
        raise ReportError(problems)
    return ReportFilter(date_from, date_to, branch_id)


def _seconds_between(later, earlier):
    """SQL for `later - earlier` in seconds on PostgreSQL and SQLite."""
    if db.engine.dialect.name == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def _conditions(chosen: ReportFilter, branch_ids: set[int] | None) -> list:
    start = datetime.combine(chosen.date_from, time.min, tzinfo=clock.now().tzinfo)
    end = datetime.combine(chosen.date_to + timedelta(days=1), time.min, tzinfo=clock.now().tzinfo)
    conditions = [Appeal.created_at >= start, Appeal.created_at < end]
    if chosen.branch_id:
        conditions.append(Appeal.branch_id == chosen.branch_id)
    if branch_ids is not None:
        conditions.append(Appeal.branch_id.in_(branch_ids or {-1}))
    return conditions


def _counts(label_column, conditions, *, join=None, outer=True):
    is_open = func.sum(case((Appeal.closed_at.is_(None), 1), else_=0))
    query = select(label_column, func.count(Appeal.id), is_open).select_from(Appeal)
    if join is not None:
        query = query.join(*join, isouter=outer)
    query = query.where(*conditions).group_by(label_column).order_by(func.count(Appeal.id).desc())
    return [(label, int(total), int(opened or 0)) for label, total, opened in db.session.execute(query)]


def build_report(chosen: ReportFilter, branch_ids: set[int] | None = None, now: datetime | None = None) -> AppealReport:
    """The report for the filter; `branch_ids` limits it to a curator's branches (None = every branch)."""
    now = now or clock.now()
    conditions = _conditions(chosen, branch_ids)
    breached = or_(Appeal.escalated_at.is_not(None),
                   and_(Appeal.closed_at.is_(None), Appeal.sla_due_at.is_not(None), Appeal.sla_due_at < now))
    had_sla = or_(Appeal.sla_due_at.is_not(None), Appeal.escalated_at.is_not(None),
                  Appeal.sla_remaining_seconds.is_not(None))
    totals = db.session.execute(
        select(func.count(Appeal.id),
               func.sum(case((Appeal.closed_at.is_(None), 1), else_=0)),
               func.sum(case((had_sla, 1), else_=0)),
               func.sum(case((breached, 1), else_=0)),
               func.avg(_seconds_between(Appeal.first_response_at, Appeal.created_at)),
               func.avg(case((Appeal.closed_at.is_not(None), _seconds_between(Appeal.closed_at, Appeal.created_at)))))
        .where(*conditions)
    ).one()
    total, opened, with_sla, breached_count, first_response, resolution = totals
    total, opened = int(total or 0), int(opened or 0)

    # A state is named by the staff label of the appeal's own (pinned) workflow: the same code may mean
    # different things in different workflows, and the same label in two workflows is one row.
    status = func.coalesce(WorkflowState.staff_label, Appeal.state_code)
    by_status = _counts(status, conditions, join=(WorkflowState, and_(WorkflowState.workflow_id == Appeal.workflow_id,
                                                                      WorkflowState.code == Appeal.state_code)))
    section = AppealTopic.name.label("section")
    by_section = _counts(section, conditions, join=(AppealTopic, AppealTopic.id == Appeal.section_id))
    curator = func.coalesce(CrmUser.last_name + " " + CrmUser.first_name, "")
    by_curator = [(name or _("Not assigned"), count, open_count) for name, count, open_count in
                  _counts(curator, conditions, join=(CrmUser, CrmUser.id == Appeal.assignee_id))]
    by_branch = [(name or _("No branch"), count, open_count) for name, count, open_count in
                 _counts(Branch.name, conditions, join=(Branch, Branch.id == Appeal.branch_id))]

    def breakdown(title, rows):
        return Breakdown(title, [(label, count, open_count, count - open_count) for label, count, open_count in rows])

    day = func.date(Appeal.created_at)
    per_day_rows = db.session.execute(select(day, func.count(Appeal.id)).where(*conditions).group_by(day).order_by(day))
    per_day_counts = {(value if isinstance(value, date) else date.fromisoformat(str(value))): int(count)
                      for value, count in per_day_rows}
    span = (chosen.date_to - chosen.date_from).days + 1
    per_day = [(chosen.date_from + timedelta(days=i), per_day_counts.get(chosen.date_from + timedelta(days=i), 0))
               for i in range(span)]
    return AppealReport(
        filter=chosen, total=total, open=opened, closed=total - opened,
        with_sla=int(with_sla or 0), breached=int(breached_count or 0),
        avg_first_response_hours=None if first_response is None else round(float(first_response) / 3600, 1),
        avg_resolution_hours=None if resolution is None else round(float(resolution) / 3600, 1),
        breakdowns=[breakdown(_("By status"), by_status), breakdown(_("By section"), by_section),
                    breakdown(_("By curator"), by_curator), breakdown(_("By branch"), by_branch)],
        per_day=per_day,
    )


def chart_data(report: AppealReport) -> dict:
    """What the page's charts draw (JSON in a data-* attribute): appeals per day and per section."""
    sections = report.breakdowns[1].rows[:10]
    return {
        "days": {"labels": [d.strftime("%d.%m") for d, _count in report.per_day],
                 "data": [count for _day, count in report.per_day], "label": _("Appeals per day")},
        "sections": {"labels": [row[0] for row in sections], "open": [row[2] for row in sections],
                     "closed": [row[3] for row in sections], "open_label": _("Open"), "closed_label": _("Closed")},
    }


def report_xlsx(report: AppealReport) -> bytes:
    """The report as a workbook: a summary sheet, one sheet per grouping and the appeals per day."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    bold = workbook.add_format({"bold": True})
    header = workbook.add_format({"bold": True, "bg_color": "#E8EEF7", "border": 1})
    summary = workbook.add_worksheet(_("Summary")[:31])
    summary.set_column(0, 0, 48)
    summary.set_column(1, 1, 18)
    chosen = report.filter
    rows = [
        (_("Period"), f"{chosen.date_from:%d.%m.%Y} – {chosen.date_to:%d.%m.%Y}"),
        (_("Appeals"), report.total),
        (_("Open"), report.open),
        (_("Closed"), report.closed),
        (_("With an SLA"), report.with_sla),
        (_("SLA breached"), report.breached),
        (_("SLA compliance, %"), report.sla_compliance if report.sla_compliance is not None else "—"),
        (_("Average first response, hours"),
         report.avg_first_response_hours if report.avg_first_response_hours is not None else "—"),
        (_("Average resolution, hours"),
         report.avg_resolution_hours if report.avg_resolution_hours is not None else "—"),
    ]
    summary.write(0, 0, _("Appeals report"), bold)
    for index, (name, value) in enumerate(rows, start=2):
        summary.write(index, 0, name)
        summary.write(index, 1, value)
    for part in report.breakdowns:
        sheet = workbook.add_worksheet(part.title[:31])
        sheet.set_column(0, 0, 48)
        sheet.set_column(1, 3, 14)
        for column, title in enumerate((part.title, _("Total"), _("Open"), _("Closed"))):
            sheet.write(0, column, title, header)
        for index, row in enumerate(part.rows, start=1):
            sheet.write_row(index, 0, row)
        sheet.autofilter(0, 0, max(len(part.rows), 1), 3)
    days = workbook.add_worksheet(_("Per day")[:31])
    days.set_column(0, 1, 14)
    date_format = workbook.add_format({"num_format": "dd.mm.yyyy"})
    days.write_row(0, 0, (_("Date"), _("Appeals")), header)
    for index, (day, count) in enumerate(report.per_day, start=1):
        days.write_datetime(index, 0, datetime.combine(day, time.min), date_format)
        days.write(index, 1, count)
    workbook.close()
    return buffer.getvalue()
