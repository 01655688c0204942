"""The curator desk's read side (SPEC B4): who sees which appeals, the queue, one appeal and its files.
The card's other reads and canned replies are in `appeal_desk_card` (`render_canned_reply` is re-exported).

Scope (`desk_branch_ids`): an Admin and an Auditor (read-only oversight) see every appeal; a curator
sees the appeals of the branches they curate (the Curator rows linked to their staff user) and
nothing else — not even an appeal assigned to them in another branch, and not the rare appeal with
no branch (a customer with no contract at all), which the Admin handles. Any other staff user sees
nothing. Every read below goes through `scope_clause`, so a forgotten filter cannot leak a branch.

The queue costs a constant number of statements whatever the page holds (100 000 appeals in the bench):
- a count that stops at COUNT_CAP + 1 rows (an exact count of tens of thousands would cost more than
  the page, and nobody pages that far: above it the page says "more than 1 000" and pages by "next");
- one SELECT of the page's appeal columns from `appeal` alone — the branch filter first, then the
  filters, sorted on an indexed column (`sla_due_at` by default, nulls — paused or no clock — last;
  `last_message_at`; `created_at`), LIMIT/OFFSET — served by `ix_appeal_queue` (branch, closed, due);
- three lookups by id for the page (people, contracts with customers, state labels of the pinned
  workflows) and one query per filter option list. An eight-table join did the same work but took
  longer to plan than to run.
Read helpers never commit.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import false, func, or_, select
from sqlalchemy.orm import joinedload

from crm import clock
from crm.extensions import db
from crm.models import (
    Appeal,
    AppealAttachment,
    AppealTopic,
    Branch,
    Contract,
    Counterparty,
    CrmUser,
    Curator,
    WorkflowDefinition,
    WorkflowState,
)
from crm.services import ServiceError
from crm.services.appeal_desk_card import (  # noqa: F401  (the desk's public API, re-exported)
    PLACEHOLDERS,
    CannedReplyError,
    render_canned_reply,
)

PAGE_SIZE = 25
#: the queue counts matching appeals up to this many ("more than 1 000" beyond)
COUNT_CAP = 1000
_NUMBER_LIKE = re.compile(r"^[\d-]{3,}$")
#: rows due within this time are amber; past due rows are red (the engine's "due soon" uses the same 4 h)
DUE_SOON = timedelta(hours=4)
OPEN, CLOSED, ANY = "open", "closed", "all"
MINE, UNASSIGNED = "mine", "unassigned"
BREACHED, DUE = "breached", "due"
SORTS = ("sla", "last_message", "created")
DEFAULT_DUE_HOURS = 4
MAX_DUE_HOURS = 24 * 30
MAX_SEARCH = 100
SEE_ALL_ROLES = {"Admin", "Auditor"}


class DeskError(ServiceError):
    """A desk request cannot be served as asked; `messages` lists every problem (localised)."""

    def __init__(self, messages: list[str] | str, field: str | None = None):
        messages = [messages] if isinstance(messages, str) else list(messages)
        super().__init__(" ".join(messages), field=field)
        self.messages = messages


# --- scope -----------------------------------------------------------------------------------------

def desk_branch_ids(user) -> set[int] | None:
    """Branches whose appeals the staff user sees: None = all (Admin, Auditor), else the curated ones."""
    if user is None or not getattr(user, "is_authenticated", True):
        return set()
    if {role.name for role in user.roles} & SEE_ALL_ROLES:
        return None
    return set(db.session.scalars(select(Curator.branch_id).where(Curator.user_id == user.id)))


def scope_clause(branch_ids: set[int] | None):
    """The branch restriction of a desk reader (None = every branch); the dashboard counts with it too."""
    if branch_ids is None:
        return None
    if not branch_ids:
        return false()
    return Appeal.branch_id.in_(sorted(branch_ids))


def _scoped(query, user):
    clause = scope_clause(desk_branch_ids(user))
    return query if clause is None else query.where(clause)


# --- the filter ------------------------------------------------------------------------------------

@dataclass
class QueueFilter:
    """What the queue shows: status (open/closed/all/a state code), section, branch, assignee
    ("mine", "unassigned" or a user id), SLA (breached / due within `due_hours`), unread, search."""

    status: str = OPEN
    section_id: int | None = None
    branch_id: int | None = None
    assignee: str | None = None
    sla: str | None = None
    due_hours: int = DEFAULT_DUE_HOURS
    unread: bool = False
    search: str | None = None
    sort: str = "sla"
    page: int = 1

    def as_args(self, **override) -> dict[str, str]:
        """The filter as query-string arguments (for links that keep it)."""
        args = {"status": self.status, "section": self.section_id or "", "branch": self.branch_id or "",
                "assignee": self.assignee or "", "sla": self.sla or "", "hours": self.due_hours,
                "unread": "1" if self.unread else "", "q": self.search or "", "sort": self.sort, "page": self.page}
        args.update(override)
        return {key: str(value) for key, value in args.items() if value not in ("", None)}


def _int_arg(args: Mapping[str, str], name: str, message: str, problems: list[str]) -> int | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    if raw.isdigit() and len(raw) <= 12:
        return int(raw)
    problems.append(message)
    return None


def parse_filter(args: Mapping[str, str]) -> QueueFilter:
    """The filter from a query string; raises DeskError listing every problem (with `.filter` kept sane)."""
    problems: list[str] = []
    chosen = QueueFilter()
    chosen.status = (args.get("status") or OPEN).strip()[:64] or OPEN
    chosen.section_id = _int_arg(args, "section", _("Unknown section: choose one from the list."), problems)
    chosen.branch_id = _int_arg(args, "branch", _("Unknown branch: choose one from the list."), problems)
    assignee = (args.get("assignee") or "").strip()
    if assignee in ("", MINE, UNASSIGNED) or (assignee.isdigit() and len(assignee) <= 12):
        chosen.assignee = assignee or None
    else:
        problems.append(_("Unknown curator: choose one from the list."))
    sla = (args.get("sla") or "").strip()
    if sla in ("", BREACHED, DUE):
        chosen.sla = sla or None
    else:
        problems.append(_("Unknown SLA filter: choose one from the list."))
    hours = (args.get("hours") or "").strip()
    if hours:
        if hours.isdigit() and 1 <= int(hours) <= MAX_DUE_HOURS:
            chosen.due_hours = int(hours)
        else:
            problems.append(_("Hours until the SLA due time: a whole number from 1 to %(max)s.", max=MAX_DUE_HOURS))
    chosen.unread = (args.get("unread") or "") in ("1", "on", "true")
    chosen.search = (args.get("q") or "").strip()[:MAX_SEARCH] or None
    sort = (args.get("sort") or "sla").strip()
    if sort in SORTS:
        chosen.sort = sort
    else:
        problems.append(_("Unknown sort order: choose one from the list."))
    page = (args.get("page") or "1").strip()
    chosen.page = int(page) if page.isdigit() and 0 < len(page) <= 6 and int(page) > 0 else 1
    if problems:
        error = DeskError(problems, field="filter")
        error.filter = chosen
        raise error
    return chosen


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# --- the queue -------------------------------------------------------------------------------------

@dataclass
class QueueRow:
    """One appeal in the queue, with everything the row shows (no lazy loads)."""

    id: int
    number: str
    title: str
    state_code: str
    state_label: str
    closed: bool
    sla_due_at: datetime | None
    sla_paused: bool
    staff_unread: bool
    last_message_at: datetime
    created_at: datetime
    branch_name: str | None
    section_name: str
    assignee_name: str | None
    customer_name: str
    counterparty_id: int | None
    contract_number: str | None
    sla_class: str = ""          # "breached" | "due_soon" | "" (for the highlight)


@dataclass
class QueuePage:
    """One page of the queue. `total` is exact up to COUNT_CAP; above it `total_capped` is True and the
    number of pages is unknown (`pages` None): the pager then offers "next" while rows remain."""

    filter: QueueFilter
    rows: list[QueueRow]
    total: int
    page: int
    pages: int | None
    has_next: bool = False
    total_capped: bool = False
    branches: list[Branch] = field(default_factory=list)
    sections: list[AppealTopic] = field(default_factory=list)
    curators: list[tuple[int, str]] = field(default_factory=list)
    states: list[tuple[str, str]] = field(default_factory=list)


def _person(first, last) -> str:
    return " ".join(part for part in (last, first) if part)


def filter_clauses(user, branch_ids: set[int] | None, chosen: QueueFilter, now: datetime) -> list:
    """The WHERE clauses of a queue filter; the staff home counts its tiles with the same ones."""
    clauses = []
    scope = scope_clause(branch_ids)
    if scope is not None:
        clauses.append(scope)          # the branch filter first: it is what the queue index leads with
    if chosen.branch_id is not None:
        clauses.append(Appeal.branch_id == chosen.branch_id)
    if chosen.status == OPEN:
        clauses.append(Appeal.closed_at.is_(None))
    elif chosen.status == CLOSED:
        clauses.append(Appeal.closed_at.is_not(None))
    elif chosen.status != ANY:
        clauses.append(Appeal.state_code == chosen.status)
    if chosen.section_id is not None:
        clauses.append(or_(Appeal.section_id == chosen.section_id, Appeal.subsection_id == chosen.section_id,
                           Appeal.topic_id == chosen.section_id))
    if chosen.assignee == MINE:
        clauses.append(Appeal.assignee_id == user.id)
    elif chosen.assignee == UNASSIGNED:
        clauses.append(Appeal.assignee_id.is_(None))
    elif chosen.assignee:
        clauses.append(Appeal.assignee_id == int(chosen.assignee))
    if chosen.sla == BREACHED:
        clauses += [Appeal.sla_due_at < now, Appeal.closed_at.is_(None)]
    elif chosen.sla == DUE:
        clauses += [Appeal.sla_due_at >= now, Appeal.sla_due_at <= now + timedelta(hours=chosen.due_hours),
                    Appeal.closed_at.is_(None)]
    if chosen.unread:
        clauses.append(Appeal.staff_unread.is_(True))
    if chosen.search:
        clauses.append(_search_clause(chosen.search))
    return clauses


def _search_clause(search: str):
    """What the search box matches, chosen so that the common cases use an index:
    - digits and dashes (e.g. `0001234` or `0001234-26`): the START of the appeal number; ten digits or more
      without a dash may also be an INN or a contract number, so those prefixes match too;
    - any other text: anywhere in the title or number, the customer's name, the author's name or e-mail.
    Related rows are matched by id subqueries, not joins, so the count stays a one-table query."""
    if _NUMBER_LIKE.match(search):
        prefix = _like(search)[1:]
        clause = Appeal.number.like(prefix, escape="\\")
        if "-" in search or len(search) < 10:
            return clause
        contracts = select(Contract.id).where(or_(
            Contract.number.like(prefix, escape="\\"),
            Contract.counterparty_id.in_(select(Counterparty.id).where(Counterparty.inn.like(prefix, escape="\\")))))
        return or_(clause, Appeal.contract_id.in_(contracts))
    pattern = _like(search)
    contracts = select(Contract.id).join(Counterparty, Counterparty.id == Contract.counterparty_id).where(
        or_(Counterparty.short_name.ilike(pattern, escape="\\"), Counterparty.full_name.ilike(pattern, escape="\\")))
    authors = select(CrmUser.id).where(or_(CrmUser.last_name.ilike(pattern, escape="\\"),
                                           CrmUser.email.ilike(pattern, escape="\\")))
    return or_(Appeal.title.ilike(pattern, escape="\\"), Appeal.number.ilike(pattern, escape="\\"),
               Appeal.contract_id.in_(contracts), Appeal.author_id.in_(authors))


def _order(sort: str):
    if sort == "last_message":
        return [Appeal.last_message_at.desc(), Appeal.id.desc()]
    if sort == "created":
        return [Appeal.created_at.desc(), Appeal.id.desc()]
    return [Appeal.sla_due_at.asc().nulls_last(), Appeal.id.asc()]


def sla_class(due: datetime | None, closed: bool, now: datetime) -> str:
    """"breached" past the due time, "due_soon" within 4 hours, else "" (closed appeals: "")."""
    if closed or due is None:
        return ""
    if due <= now:
        return "breached"
    return "due_soon" if due - now <= DUE_SOON else ""


def queue(user, chosen: QueueFilter | None = None, sort: str | None = None, page: int | None = None) -> QueuePage:
    """One page of the appeals `user` may see that match the filter, and the filter's option lists."""
    chosen = chosen or QueueFilter()
    if sort:
        chosen.sort = sort
    if page:
        chosen.page = page
    now = clock.now()
    branch_ids = desk_branch_ids(user)
    clauses = filter_clauses(user, branch_ids, chosen, now)
    # Counting stops at COUNT_CAP + 1 rows: an exact count of tens of thousands of open appeals would
    # cost more than the page itself, and nobody pages that far.
    limited = select(Appeal.id).where(*clauses).limit(COUNT_CAP + 1).subquery()
    total = db.session.scalar(select(func.count()).select_from(limited)) or 0
    capped = total > COUNT_CAP
    pages = None if capped else max(1, -(-total // PAGE_SIZE))
    if pages is not None:
        chosen.page = min(chosen.page, pages)
    rows = db.session.execute(
        select(Appeal.id, Appeal.number, Appeal.title, Appeal.state_code, Appeal.workflow_id, Appeal.closed_at,
               Appeal.sla_due_at, Appeal.sla_paused_at, Appeal.staff_unread, Appeal.last_message_at,
               Appeal.created_at, Appeal.branch_id, Appeal.section_id, Appeal.assignee_id, Appeal.author_id,
               Appeal.contract_id)
        .where(*clauses).order_by(*_order(chosen.sort))
        .limit(PAGE_SIZE + 1).offset((chosen.page - 1) * PAGE_SIZE)
    ).all()
    result = QueuePage(chosen, [], min(total, COUNT_CAP), chosen.page, pages, has_next=len(rows) > PAGE_SIZE,
                       total_capped=capped)
    _fill_options(result, branch_ids)
    result.rows = _rows(rows[:PAGE_SIZE], result, now)
    return result


def _rows(rows, result: QueuePage, now: datetime) -> list[QueueRow]:
    """The page's rows with names: three small lookups by id (people, contracts, state labels); branches
    and sections come from the filter's option lists. Simple statements plan in microseconds, where one
    eight-table join took longer to plan than to run."""
    people = {row.author_id for row in rows} | {row.assignee_id for row in rows if row.assignee_id}
    names = {uid: (_person(first, last), email) for uid, first, last, email in db.session.execute(
        select(CrmUser.id, CrmUser.first_name, CrmUser.last_name, CrmUser.email)
        .where(CrmUser.id.in_(sorted(people) or [-1])))}
    contracts = {cid: (number, cp_id, cp_name) for cid, number, cp_id, cp_name in db.session.execute(
        select(Contract.id, Contract.number, Counterparty.id, Counterparty.short_name)
        .join(Counterparty, Counterparty.id == Contract.counterparty_id)
        .where(Contract.id.in_(sorted({row.contract_id for row in rows if row.contract_id}) or [-1])))}
    labels = {(wid, code): label for wid, code, label in db.session.execute(
        select(WorkflowState.workflow_id, WorkflowState.code, WorkflowState.staff_label)
        .where(WorkflowState.workflow_id.in_(sorted({row.workflow_id for row in rows}) or [-1])))}
    branches = {branch.id: branch.name for branch in result.branches}
    sections = {topic.id: topic.name for topic in result.sections}
    lines = []
    for row in rows:
        author_name, author_email = names.get(row.author_id, ("", ""))
        number, cp_id, cp_name = contracts.get(row.contract_id, (None, None, None))
        closed = row.closed_at is not None
        label = labels.get((row.workflow_id, row.state_code), row.state_code)
        lines.append(QueueRow(
            row.id, row.number, row.title, row.state_code, label, closed, row.sla_due_at,
            row.sla_paused_at is not None, row.staff_unread, row.last_message_at, row.created_at,
            branches.get(row.branch_id), sections.get(row.section_id, ""),
            names.get(row.assignee_id, (None, None))[0] or None, cp_name or author_name or author_email or "",
            cp_id, number, sla_class(row.sla_due_at, closed, now)))
    return lines


def _fill_options(result: QueuePage, branch_ids: set[int] | None) -> None:
    """The filter's choices, limited to what the user may see (one query each)."""
    branches = select(Branch).order_by(Branch.code)
    curators = (select(CrmUser.id, CrmUser.first_name, CrmUser.last_name).join(Curator, Curator.user_id == CrmUser.id)
                .distinct().order_by(CrmUser.last_name, CrmUser.first_name, CrmUser.id))
    if branch_ids is not None:
        ids = sorted(branch_ids) or [-1]
        branches = branches.where(Branch.id.in_(ids))
        curators = curators.where(Curator.branch_id.in_(ids))
    result.branches = list(db.session.scalars(branches))
    result.curators = [(uid, _person(first, last)) for uid, first, last in db.session.execute(curators)]
    result.sections = list(db.session.scalars(
        select(AppealTopic).where(AppealTopic.level.in_(("topic", "section")))
        .order_by(AppealTopic.level.desc(), AppealTopic.position, AppealTopic.name)))
    seen: dict[str, str] = {}
    for code, label in db.session.execute(
            select(WorkflowState.code, WorkflowState.staff_label)
            .join(WorkflowDefinition, WorkflowDefinition.id == WorkflowState.workflow_id)
            .where(WorkflowDefinition.is_current.is_(True))
            .order_by(WorkflowState.position, WorkflowState.id)):
        seen.setdefault(code, label)
    result.states = list(seen.items())


# --- one appeal ------------------------------------------------------------------------------------

def appeal_for_staff(user, appeal_id) -> Appeal | None:
    """The appeal with what its card shows, or None when it does not exist or is outside the user's scope."""
    if appeal_id is None or not str(appeal_id).isdigit():
        return None
    query = (select(Appeal).where(Appeal.id == int(appeal_id))
             .options(joinedload(Appeal.contract).joinedload(Contract.counterparty),
                      joinedload(Appeal.energy_object), joinedload(Appeal.branch), joinedload(Appeal.author),
                      joinedload(Appeal.assignee), joinedload(Appeal.topic), joinedload(Appeal.section),
                      joinedload(Appeal.subsection), joinedload(Appeal.form)))
    return db.session.scalars(_scoped(query, user)).first()


def attachment_for_staff(user, appeal_id, attachment_id) -> AppealAttachment | None:
    """A file of an appeal the user may see (never a draft's file), or None."""
    if not str(appeal_id).isdigit() or not str(attachment_id).isdigit():
        return None
    query = (select(AppealAttachment).join(Appeal, Appeal.id == AppealAttachment.appeal_id)
             .where(AppealAttachment.id == int(attachment_id), Appeal.id == int(appeal_id)))
    return db.session.scalars(_scoped(query, user)).first()
