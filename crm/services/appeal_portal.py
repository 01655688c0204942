"""The portal's read side of appeals (SPEC C13): which appeals a customer sees, the tabs, the card.

Visibility rule (one SQL predicate, `visible_clause`, used by every query here):

- a customer sees the appeals they authored on a contract while they hold any confirmed role on
  that contract, and their appeals without a contract always (those concern the person, e.g.
  technical support of their account);
- plus every appeal of a contract on which their role is administrator or manager
  (`Capability.VIEW_CONTRACT_APPEALS`): those roles act for the whole contract. An object scope on
  such a role limits it to appeals of the objects in scope (and appeals naming no object);
- never an appeal of a contract they hold no role on, nor of another counterparty.

When a user loses every role on a contract, its appeals disappear from their portal, their own
included: the usual reason is an employee who left the customer, and the correspondence (bank
details, documents, the supplier's answers) belongs to the contract's holder, not to the person.
The exception is appeals without a contract, which stay with their author.

Drafts are private to their author. Internal staff notes and their files are never returned.
Read helpers never commit.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import get_timezone
from sqlalchemy import and_, case, exists, func, literal, or_, select, union_all
from sqlalchemy.orm import aliased, joinedload

from crm import clock
from crm.access import MATRIX, Capability
from crm.extensions import db
from crm.models import (
    Appeal,
    AppealAttachment,
    AppealDraft,
    AppealMessage,
    AppealTopic,
    Contract,
    EnergyObject,
    FormDefinition,
    FormStep,
    WorkflowState,
)
from crm.models.access import ContractAccess, contract_access_object

TABS = ("open", "drafts", "closed")
PER_PAGE = 20


def _broad_roles() -> list[str]:
    return sorted(str(role) for role in MATRIX[Capability.VIEW_CONTRACT_APPEALS])


def _visible_union(user_id: int, columns=lambda appeal: (appeal.id,), where=lambda appeal: ()):
    """`SELECT columns(appeal) ... UNION ALL ...` over the appeals `user_id` may see (module docstring)
    that also match `where(appeal)`.

    Each branch is driven by the user's own rows: their appeals without a contract through
    `ix_appeal_author_closed`; their confirmed roles through `uq_contract_access_user_contract`, then
    the appeals of those contracts through `ix_appeal_contract_id`. The branches are disjoint (no
    contract / a contract; one access row per user and contract), hence UNION ALL. An `OR EXISTS (...)`
    per appeal made PostgreSQL read every appeal of every customer instead (a full scan of 100 000
    appeals on every portal page at scale 1)."""
    inner = aliased(Appeal)
    access = aliased(ContractAccess)
    without_contract = select(*columns(inner)).where(inner.author_id == user_id, inner.contract_id.is_(None),
                                                     *where(inner))
    # An object scope on the (only) access row limits a broad role to the appeals of the objects in
    # scope and to those naming no object.
    scoped = exists().where(contract_access_object.c.access_id == access.id) \
        .correlate_except(contract_access_object)
    in_scope = exists().where(contract_access_object.c.access_id == access.id,
                              contract_access_object.c.energy_object_id == inner.energy_object_id) \
        .correlate_except(contract_access_object)
    on_contracts = (
        select(*columns(inner)).join(access, access.contract_id == inner.contract_id)
        .where(access.user_id == user_id, access.confirmed_at.is_not(None),
               or_(inner.author_id == user_id,
                   and_(access.role.in_(_broad_roles()),
                        or_(~scoped, inner.energy_object_id.is_(None), in_scope))),
               *where(inner))
    )
    return union_all(without_contract, on_contracts)


def visible_clause(user_id: int):
    """SQL predicate on `Appeal`: the appeals the customer `user_id` may see (module docstring), as
    `appeal.id IN (<the visible ids>)` (`_visible_union`: indexed, no scan of every appeal)."""
    return Appeal.id.in_(_visible_union(user_id))


def unread_appeals_query(user_id: int):
    """SELECT of how many visible appeals have a reply the customer has not read (the menu badge); the
    portal's layout folds it into the bell's statement (crm/services/inbox.py `bell_counts`). Counted
    inside the visible set (no second visit of each appeal: this runs on every portal page)."""
    unread = _visible_union(user_id, where=lambda appeal: (appeal.customer_unread.is_(True),)).subquery()
    return select(func.count()).select_from(unread)


def unread_appeals_count(user) -> int:
    """How many visible appeals have a reply the customer has not read (ONE query)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return 0
    return db.session.scalar(unread_appeals_query(user.id)) or 0


@dataclass
class AppealRow:
    """One line of the Open or Closed tab."""

    id: int
    number: str
    title: str
    section: str
    subsection: str | None
    contract_number: str | None
    object_name: str | None
    object_address: str | None
    status: str
    unread: bool
    created_at: datetime
    last_message_at: datetime


@dataclass
class DraftRow:
    """One line of the Drafts tab."""

    id: int
    section: str
    topic: str | None
    subsection: str | None
    contract_number: str | None
    object_name: str | None
    object_address: str | None
    steps_completed: int
    updated_at: datetime
    expires_at: datetime


@dataclass
class DayGroup:
    day: date
    rows: list = field(default_factory=list)


@dataclass
class AppealPage:
    tab: str
    groups: list[DayGroup]
    counts: dict[str, int]
    page: int
    page_count: int
    total: int


def tab_counts(user) -> dict[str, int]:
    """Open, closed and draft counts for the tab labels (two queries)."""
    visible = _visible_union(user.id, columns=lambda appeal: (appeal.closed_at,)).subquery()
    open_count, closed_count = db.session.execute(
        select(func.count(case((visible.c.closed_at.is_(None), literal(1)))),
               func.count(case((visible.c.closed_at.is_not(None), literal(1)))))
    ).one()
    drafts = db.session.scalar(select(func.count(AppealDraft.id)).where(_draft_clause(user.id))) or 0
    return {"open": open_count or 0, "drafts": drafts, "closed": closed_count or 0}


def _draft_clause(user_id: int):
    return and_(AppealDraft.author_id == user_id, AppealDraft.expires_at > clock.now())


def _local_day(value: datetime) -> date:
    """The calendar day of `value` in the display time zone (the one the dates are shown in)."""
    try:
        tz = get_timezone()
    except (RuntimeError, KeyError, AttributeError):
        tz = None
    return (value.astimezone(tz) if tz is not None and value.tzinfo is not None else value).date()


def local_today() -> date:
    """Today in the display time zone (for the "Today" heading)."""
    return _local_day(clock.now())


def _group(rows, key) -> list[DayGroup]:
    groups: list[DayGroup] = []
    for row in rows:
        day = _local_day(key(row))
        if not groups or groups[-1].day != day:
            groups.append(DayGroup(day))
        groups[-1].rows.append(row)
    return groups


def visible_appeals(user, tab: str, page: int = 1) -> AppealPage:
    """One page of a tab, newest last message first, grouped by the day of the last message."""
    tab = tab if tab in TABS else "open"
    counts = tab_counts(user)
    total = counts[tab]
    page_count = max(1, -(-total // PER_PAGE))
    page = min(max(1, page), page_count)
    if tab == "drafts":
        rows = _draft_rows(user, page)
        groups = _group(rows, lambda row: row.updated_at)
    else:
        rows = _appeal_rows(user, closed=tab == "closed", page=page)
        groups = _group(rows, lambda row: row.last_message_at)
    return AppealPage(tab, groups, counts, page, page_count, total)


def _appeal_rows(user, *, closed: bool, page: int) -> list[AppealRow]:
    section = aliased(AppealTopic)
    subsection = aliased(AppealTopic)
    statement = (
        select(Appeal.id, Appeal.number, Appeal.title, section.name, subsection.name, Contract.number,
               EnergyObject.name, EnergyObject.address, WorkflowState.customer_label, Appeal.state_code,
               Appeal.customer_unread, Appeal.created_at, Appeal.last_message_at)
        .join(section, section.id == Appeal.section_id)
        .outerjoin(subsection, subsection.id == Appeal.subsection_id)
        .outerjoin(Contract, Contract.id == Appeal.contract_id)
        .outerjoin(EnergyObject, EnergyObject.id == Appeal.energy_object_id)
        .outerjoin(WorkflowState, and_(WorkflowState.workflow_id == Appeal.workflow_id,
                                       WorkflowState.code == Appeal.state_code))
        .where(visible_clause(user.id),
               Appeal.closed_at.is_not(None) if closed else Appeal.closed_at.is_(None))
        .order_by(Appeal.last_message_at.desc(), Appeal.id.desc())
        .limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    )
    return [AppealRow(id=r[0], number=r[1], title=r[2], section=r[3], subsection=r[4], contract_number=r[5],
                      object_name=r[6], object_address=r[7], status=r[8] or r[9], unread=bool(r[10]),
                      created_at=r[11], last_message_at=r[12])
            for r in db.session.execute(statement)]


def _draft_rows(user, page: int) -> list[DraftRow]:
    section = aliased(AppealTopic)
    topic = aliased(AppealTopic)
    subsection = aliased(AppealTopic)
    statement = (
        select(AppealDraft.id, section.name, topic.name, subsection.name, Contract.number, EnergyObject.name,
               EnergyObject.address, AppealDraft.steps_completed, AppealDraft.updated_at, AppealDraft.expires_at)
        .join(section, section.id == AppealDraft.section_id)
        .outerjoin(topic, topic.id == AppealDraft.topic_id)
        .outerjoin(subsection, subsection.id == AppealDraft.subsection_id)
        .outerjoin(Contract, Contract.id == AppealDraft.contract_id)
        .outerjoin(EnergyObject, EnergyObject.id == AppealDraft.energy_object_id)
        .where(_draft_clause(user.id))
        .order_by(AppealDraft.updated_at.desc(), AppealDraft.id.desc())
        .limit(PER_PAGE).offset((page - 1) * PER_PAGE)
    )
    return [DraftRow(*row) for row in db.session.execute(statement)]


# --- one appeal ---------------------------------------------------------------------------------

def appeal_for_customer(user, appeal_id: int) -> Appeal | None:
    """The appeal if `user` may see it, else None (the route answers 404: existence is not revealed)."""
    return db.session.scalars(
        # The many-to-ones joined into the appeal's own statement; the form's steps with their fields
        # in a second (the card's summary walks them), whatever the number of steps.
        select(Appeal).where(Appeal.id == appeal_id, visible_clause(user.id)).options(
            joinedload(Appeal.section), joinedload(Appeal.topic), joinedload(Appeal.subsection),
            joinedload(Appeal.contract).joinedload(Contract.counterparty),
            joinedload(Appeal.energy_object),
            joinedload(Appeal.form).selectinload(FormDefinition.steps).joinedload(FormStep.fields))
    ).unique().first()


def draft_for_author(user, draft_id: int) -> AppealDraft | None:
    """The user's own unexpired draft, else None."""
    return db.session.scalars(
        select(AppealDraft).where(AppealDraft.id == draft_id, _draft_clause(user.id))
        .options(joinedload(AppealDraft.attachments))
    ).unique().first()


def pinned_state(appeal: Appeal) -> WorkflowState | None:
    """The appeal's current state in the workflow version it was created with."""
    return db.session.scalars(select(WorkflowState).where(
        WorkflowState.workflow_id == appeal.workflow_id, WorkflowState.code == appeal.state_code)).first()


def public_messages(appeal: Appeal) -> list[AppealMessage]:
    """The dialogue as the customer sees it: public messages only, oldest first, with their files."""
    return list(db.session.scalars(
        select(AppealMessage).where(AppealMessage.appeal_id == appeal.id, AppealMessage.internal.is_(False))
        .order_by(AppealMessage.created_at, AppealMessage.id)
        .options(joinedload(AppealMessage.attachments), joinedload(AppealMessage.author))).unique())


def appeal_files(appeal: Appeal) -> list[AppealAttachment]:
    """Files of the appeal itself (form fields and extra attachments), not those of messages."""
    return list(db.session.scalars(
        select(AppealAttachment).where(AppealAttachment.appeal_id == appeal.id,
                                       AppealAttachment.message_id.is_(None))
        .order_by(AppealAttachment.id)))


def attachment_for_customer(user, attachment_id: int) -> AppealAttachment | None:
    """A file the customer may download: of a visible appeal (never of an internal note) or of their
    own draft; None otherwise."""
    attachment = db.session.get(AppealAttachment, attachment_id)
    if attachment is None:
        return None
    if attachment.appeal_id is not None:
        if attachment.message_id is not None:
            message = db.session.get(AppealMessage, attachment.message_id)
            if message is None or message.internal or message.appeal_id != attachment.appeal_id:
                return None
        visible = db.session.scalar(select(Appeal.id).where(Appeal.id == attachment.appeal_id,
                                                            visible_clause(user.id)))
        return attachment if visible is not None else None
    if attachment.draft_id is not None and draft_for_author(user, attachment.draft_id) is not None:
        return attachment
    return None


def section_id_by_code(code: str) -> int | None:
    """The id of an active catalogue section by its code (e.g. "access_rights"), else None."""
    return db.session.scalar(select(AppealTopic.id).where(AppealTopic.code == code, AppealTopic.active.is_(True)))


def contracts_without_administrator(contract_ids) -> set[int]:
    """Which of the contracts have no administrator (one query): "Request access" is offered
    only there (seed 004 §13.2.1.3)."""
    ids = set(contract_ids)
    if not ids:
        return set()
    with_admin = set(db.session.scalars(select(ContractAccess.contract_id).where(
        # A pending (unconfirmed) administrator counts: the one-administrator index already holds the place.
        ContractAccess.contract_id.in_(ids), ContractAccess.role == "administrator")))
    return ids - with_admin
