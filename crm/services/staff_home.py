"""The back-office home (`/admin/`): a curator's morning dashboard of the work in the branches they serve.

What it counts, and whose rows:
- appeals (the desk's own filters, so every number equals what its link shows): assigned to me and open,
  unassigned, SLA breached, SLA due within 24 h, with an unread customer message — scoped exactly like the
  desk (`appeal_desk.desk_branch_ids` and its filter clauses): Admin and Auditor see every branch, a
  curator the branches they curate and nothing else (not the rare appeal with no branch);
- appeals opened and closed per day over the last 14 days (UTC days, as in the appeals report);
- readings and primary acts awaiting review (the review queue's branch = the contract's branch);
- new service orders and unanswered contact-centre questions: the contract's branch; orders and
  questions with no contract (e.g. asked from the sign-in page) belong to no branch and are everybody's
  work, so every curator counts them (the desks list them for every curator too);
- for Admin only: failed e-mails in the outbox and failed background tasks / RQ jobs.

Cost: a constant number of statements whatever the data holds (2 for Admin, 3 for a curator):
- the curator's branches (skipped for Admin);
- the five appeal tiles AND the chart in ONE pass over the appeals in scope that are open or were closed
  within the chart's window (two ranges of ix_appeal_queue: branch, closed_at) — conditional sums of the
  desk's own filter clauses and of per-day bounds; exact numbers, and the 70 % of long-closed appeals are
  never read (`_appeal_pass`);
- the other figures in ONE statement of scalar subqueries, each stopping at COUNT_CAP + 1 rows like the
  desk's count ("1 000+"), on ix_reading_status_period, ix_contact_question_status and
  ix_email_outbox_status_next (skipped if the user may open none of those lists).
A failed-jobs figure from Redis is read with ZCARD only (no registry clean-up) and only for Admin.
Read helpers never commit.
"""
from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from flask_babel import format_number
from sqlalchemy import and_, case, func, or_, select

from crm import clock
from crm.extensions import db
from crm.models import (
    Appeal,
    Contract,
    EnergyObject,
    IntervalProfile,
    Meter,
    MeteringPoint,
    Reading,
    ReadingStatus,
    Register,
)
from crm.models.catalog import ContactQuestion, ServiceOrder
from crm.models.integration import BackgroundTask, TaskStatus
from crm.models.outbox import EmailOutbox, OutboxStatus
from crm.services import appeal_desk as desk
from crm.services import readings_review

log = logging.getLogger(__name__)

#: every count stops here (the page shows "1000+" beyond), as the desk's queue does
COUNT_CAP = desk.COUNT_CAP
CHART_DAYS = 14
DUE_WITHIN_HOURS = 24
ADMIN_ROLE = "Admin"

def appeal_filters() -> dict[str, desk.QueueFilter]:
    """The desk filter behind each appeal tile (the tile's link carries exactly these arguments)."""
    return {
        "mine": desk.QueueFilter(assignee=desk.MINE),
        "unassigned": desk.QueueFilter(assignee=desk.UNASSIGNED),
        "breached": desk.QueueFilter(sla=desk.BREACHED),
        "due": desk.QueueFilter(sla=desk.DUE, due_hours=DUE_WITHIN_HOURS),
        "unread": desk.QueueFilter(unread=True, sort="last_message"),
    }


@dataclass
class Figure:
    """One number on the dashboard; `capped` means "more than COUNT_CAP" (the count stopped there)."""

    key: str
    count: int
    exact: bool = False          # counted without a cap (the appeal tiles)

    @property
    def capped(self) -> bool:
        return not self.exact and self.count > COUNT_CAP

    @property
    def shown(self) -> str:
        """The number as the page prints it ("1 000+" above the cap), in the user's locale."""
        return f"{format_number(COUNT_CAP)}+" if self.capped else format_number(self.count)


@dataclass
class DayBar:
    day: date
    opened: int
    closed: int


@dataclass
class StaffHome:
    """Everything the home page shows. Sections the user may not open are None / empty."""

    branch_ids: set[int] | None                      # None = every branch
    appeals: dict[str, Figure] = field(default_factory=dict)
    filters: dict[str, desk.QueueFilter] = field(default_factory=dict)
    days: list[DayBar] = field(default_factory=list)
    work: dict[str, Figure] = field(default_factory=dict)        # readings, acts, orders, questions
    operations: dict[str, Figure] = field(default_factory=dict)  # Admin: outbox_failed, tasks_failed, jobs_failed
    jobs_available: bool = True                                  # False: Redis did not answer

    @property
    def single_branch(self) -> int | None:
        """The one branch of a single-branch curator (links to branch-filtered lists use it)."""
        return next(iter(self.branch_ids)) if self.branch_ids is not None and len(self.branch_ids) == 1 else None

    @property
    def chart_max(self) -> int:
        return max([1] + [max(bar.opened, bar.closed) for bar in self.days])

    @property
    def has_appeal_work(self) -> bool:
        return any(figure.count for figure in self.appeals.values())


def _capped(query):
    """COUNT of at most COUNT_CAP + 1 rows of `query` (a SELECT of one column), as a scalar subquery."""
    return select(func.count()).select_from(query.limit(COUNT_CAP + 1).subquery()).scalar_subquery()


def _contract_scope(column, branch_ids: set[int] | None):
    """Rows whose contract is in one of the branches — or that have no contract (nobody's branch)."""
    if branch_ids is None:
        return None
    in_branches = column.in_(select(Contract.id).where(Contract.branch_id.in_(sorted(branch_ids) or [-1])))
    return or_(column.is_(None), in_branches)


def _readings_query(branch_ids: set[int] | None):
    query = select(Reading.id).where(Reading.status == ReadingStatus.SUBMITTED.value)
    if branch_ids is not None:
        query = (query.join(Register, Register.id == Reading.register_id).join(Meter, Meter.id == Register.meter_id)
                 .join(MeteringPoint, MeteringPoint.id == Meter.metering_point_id)
                 .join(EnergyObject, EnergyObject.id == MeteringPoint.energy_object_id)
                 .join(Contract, Contract.id == EnergyObject.contract_id)
                 .where(Contract.branch_id.in_(sorted(branch_ids) or [-1])))
    return query


def _acts_query(branch_ids: set[int] | None):
    pending = readings_review.ACT_STATUS[ReadingStatus.SUBMITTED.value]   # what the review queue lists
    query = select(IntervalProfile.id).where(IntervalProfile.act_status == pending)
    if branch_ids is not None:
        query = (query.join(Meter, Meter.id == IntervalProfile.meter_id)
                 .join(MeteringPoint, MeteringPoint.id == Meter.metering_point_id)
                 .join(EnergyObject, EnergyObject.id == MeteringPoint.energy_object_id)
                 .join(Contract, Contract.id == EnergyObject.contract_id)
                 .where(Contract.branch_id.in_(sorted(branch_ids) or [-1])))
    return query


def _scoped(query, clause):
    return query if clause is None else query.where(clause)


def _appeal_pass(user, branch_ids: set[int] | None, filters: dict[str, desk.QueueFilter],
                 now: datetime) -> tuple[dict[str, Figure], list[DayBar]]:
    """The appeal tiles AND the 14-day chart from ONE pass over the appeals in scope that are open or were
    closed within the chart's window — two ranges of ix_appeal_queue (branch, closed_at). Every appeal opened
    within the window is among them (it is open, or closed after it was opened), so no other row is read:
    the closed 70 % of the bench stay untouched.
    - each tile is a conditional sum of the desk's own filter clauses (so it equals the count its link
      shows; all of them are open-appeal filters);
    - each chart bar is a conditional sum over a UTC day, its bounds computed here (no SQL date functions)."""
    first = now.astimezone(UTC).date() - timedelta(days=CHART_DAYS - 1)
    bounds = [datetime.combine(first + timedelta(days=i), time.min, tzinfo=UTC) for i in range(CHART_DAYS + 1)]

    def count(*conditions):
        return func.coalesce(func.sum(case((and_(*conditions), 1), else_=0)), 0)

    columns = []
    for chosen in filters.values():
        assert chosen.status == desk.OPEN  # the pass below reads the open appeals, not every closed one
        columns.append(count(*desk.filter_clauses(user, branch_ids, chosen, now)))
    for low, high in itertools.pairwise(bounds):
        columns.append(count(Appeal.created_at >= low, Appeal.created_at < high))
        columns.append(count(Appeal.closed_at >= low, Appeal.closed_at < high))
    query = _scoped(select(*columns).select_from(Appeal).where(
        or_(Appeal.closed_at.is_(None), Appeal.closed_at >= bounds[0])), desk.scope_clause(branch_ids))
    values = [int(value) for value in db.session.execute(query).one()]
    figures = {key: Figure(key, value, exact=True) for key, value in zip(filters, values, strict=False)}
    per_day = values[len(filters):]
    days = [DayBar(bounds[i].date(), per_day[2 * i], per_day[2 * i + 1]) for i in range(CHART_DAYS)]
    return figures, days


def _failed_rq_jobs() -> tuple[int, bool]:
    """Jobs in RQ's failed registries (ZCARD only: no clean-up writes), and whether Redis answered."""
    from workflows.queue import get_rq_queue

    queue = get_rq_queue()
    if queue is None:  # in-process mode: there is no RQ
        return 0, True
    try:
        from redis.exceptions import RedisError
        from rq import Queue
    except ImportError:  # pragma: no cover - rq is a dependency
        return 0, False
    try:
        connection = queue.connection
        queues = Queue.all(connection=connection) or [queue]
        return sum(int(connection.zcard(q.failed_job_registry.key)) for q in queues), True
    except (RedisError, OSError) as exc:
        log.warning("staff home: Redis unavailable (%s)", exc.__class__.__name__)
        return 0, False


def staff_home(user, *, appeals: bool = True, readings: bool = True, content: bool = True,
               operations: bool | None = None) -> StaffHome:
    """The dashboard of `user`. The flags say which sections the user may open (the view asks FAB);
    `operations` defaults to "the user is an Admin"."""
    now = clock.now()
    branch_ids = desk.desk_branch_ids(user)
    if operations is None:
        operations = any(role.name == ADMIN_ROLE for role in user.roles)
    home = StaffHome(branch_ids)
    columns: dict[str, object] = {}
    if appeals:
        home.filters = appeal_filters()
        home.appeals, home.days = _appeal_pass(user, branch_ids, home.filters, now)
    if readings:
        columns["work:readings"] = _capped(_readings_query(branch_ids))
        columns["work:acts"] = _capped(_acts_query(branch_ids))
    if content:
        columns["work:orders"] = _capped(_scoped(select(ServiceOrder.id).where(ServiceOrder.status == "new"),
                                                 _contract_scope(ServiceOrder.contract_id, branch_ids)))
        columns["work:questions"] = _capped(_scoped(select(ContactQuestion.id).where(ContactQuestion.status == "new"),
                                                    _contract_scope(ContactQuestion.contract_id, branch_ids)))
    if operations:
        columns["operations:outbox_failed"] = _capped(
            select(EmailOutbox.id).where(EmailOutbox.status == OutboxStatus.FAILED.value))
        columns["operations:tasks_failed"] = _capped(
            select(BackgroundTask.id).where(BackgroundTask.status == TaskStatus.FAILED.value))
    if columns:
        # One statement for every count: each capped subquery is an index range scan that stops early.
        values = db.session.execute(select(*(column.label(f"c{i}") for i, column in enumerate(columns.values()))))
        for name, value in zip(columns, values.one(), strict=True):
            section, key = name.split(":", 1)
            getattr(home, section)[key] = Figure(key, int(value or 0))
    if operations:
        jobs, home.jobs_available = _failed_rq_jobs()
        home.operations["jobs_failed"] = Figure("jobs_failed", jobs)
    return home
