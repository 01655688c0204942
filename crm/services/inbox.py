"""The customer's side of notifications and news (SPEC C16, seed 004 §12, seed 002): the bell, the list,
modal notifications, top banners and the customer's actions on their own deliveries.

Rules decided here:
- a delivery is *listed* once its notification's display window has started (no start = at once) and stays
  listed after the window ends — an expired banner is "kept in the list" (seed 004 §12.3);
- modals and banners are *shown on top* only while the window is open, until confirmed / dismissed;
- kind "email" is an e-mail only: its delivery row records the copy, it is never listed;
- the bell counts the unread listed deliveries plus the unread news, in one statement;
- every query is scoped to the user's own deliveries, so another user's id answers "not found".

Read helpers never commit; the actions commit their own transaction.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from markupsafe import Markup
from sqlalchemy import and_, bindparam, case, exists, func, or_, select, true, update

from crm import clock
from crm.extensions import db
from crm.models import (
    Contract,
    ContractAccess,
    News,
    NewsRead,
    Notification,
    NotificationAttachment,
    NotificationDelivery,
)

PER_PAGE = 20
NEWS_PER_PAGE = 20
#: bodies longer than this (characters of Markdown) or with more lines are folded behind "more"
FOLD_CHARACTERS = 280
FOLD_LINES = 4
LISTED_KINDS = ("bell", "modal", "banner")


@lru_cache(maxsize=256)
def _markdown_html(text: str) -> Markup:
    """Rendered and sanitised Markdown of a notification body (modals and banners are on every page; the
    rendering is a pure function of the text)."""
    from crm.services.markdown_render import render_markdown

    return render_markdown(text)


class InboxError(Exception):
    """Base of the inbox's refusals."""


class NotFoundError(InboxError):
    """No such delivery, attachment or news item for this user (another user's ids look the same)."""


class WrongKindError(InboxError):
    """Confirming a notification that is not a modal, or closing one that is not a banner."""


def _started(now: datetime):
    return or_(Notification.display_from.is_(None), Notification.display_from <= now)


def _not_ended(now: datetime):
    return or_(Notification.display_until.is_(None), Notification.display_until > now)


def _shown_at():
    """When the item appeared for the user: delivery, or the display start if that came later."""
    return case((Notification.display_from > NotificationDelivery.delivered_at, Notification.display_from),
                else_=NotificationDelivery.delivered_at)


def _listed(user_id: int, now: datetime):
    return and_(NotificationDelivery.user_id == user_id, Notification.kind.in_(LISTED_KINDS), _started(now))


def _user_branches(user_id: int):
    """Branch ids of the contracts the user holds a confirmed role on (news of a branch go to them)."""
    return (select(Contract.branch_id).join(ContractAccess, ContractAccess.contract_id == Contract.id)
            .where(ContractAccess.user_id == user_id, ContractAccess.confirmed_at.is_not(None),
                   Contract.branch_id.is_not(None)))


def _visible_news(user_id: int, now: datetime):
    return and_(News.published_at <= now,
                or_(News.branch_id.is_(None), News.branch_id.in_(_user_branches(user_id))))


def _news_unread(user_id: int):
    return ~exists().where(NewsRead.news_id == News.id, NewsRead.user_id == user_id)


# --- The bell ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BellCounts:
    """What the header of every portal page shows: the bell, the appeals badge, and whether any modal or
    banner waits (only then does the layout load them)."""

    notifications: int
    news: int
    appeals: int = 0
    top_of_page: int = 0

    @property
    def total(self) -> int:
        return self.notifications + self.news


def bell_counts(user) -> BellCounts:
    """Unread listed notifications and news, appeals with an unread reply, and the number of modals and
    banners waiting, of `user`, in ONE statement (it runs on every page)."""
    from crm.services.appeal_portal import unread_appeals_query

    now = clock.now()
    unread_notifications = (select(func.count(NotificationDelivery.id))
                            .join(Notification, Notification.id == NotificationDelivery.notification_id)
                            .where(_listed(user.id, now), NotificationDelivery.read_at.is_(None))
                            .scalar_subquery())
    unread_news = (select(func.count(News.id)).where(_visible_news(user.id, now), _news_unread(user.id))
                   .scalar_subquery())
    waiting = (select(func.count(NotificationDelivery.id))
               .join(Notification, Notification.id == NotificationDelivery.notification_id)
               .where(*_top_of_page_clauses(user.id, now)).scalar_subquery())
    row = db.session.execute(select(unread_notifications, unread_news,
                                    unread_appeals_query(user.id).scalar_subquery(), waiting)).one()
    return BellCounts(*(int(value or 0) for value in row))


def bell_count(user) -> int:
    """The number on the bell: unread notifications plus unread news."""
    return bell_counts(user).total


# --- The list ---------------------------------------------------------------------------------------


@dataclass
class InboxItem:
    delivery: NotificationDelivery
    notification: Notification
    attachments: list[NotificationAttachment] = field(default_factory=list)

    @property
    def is_read(self) -> bool:
        return self.delivery.read_at is not None

    @property
    def shown_at(self) -> datetime:
        """When it appeared for the user (the list's time and order)."""
        start = self.notification.display_from
        return start if start is not None and start > self.delivery.delivered_at else self.delivery.delivered_at

    @property
    def folded(self) -> bool:
        """Long text is shown folded with "more" / "hide" (seed 004 §12.1)."""
        body = self.notification.body_markdown or ""
        return len(body) > FOLD_CHARACTERS or body.count("\n") >= FOLD_LINES

    @property
    def body_html(self) -> Markup:
        return _markdown_html(self.notification.body_markdown or "")


@dataclass(frozen=True)
class InboxPage:
    items: list[InboxItem]
    page: int
    page_count: int
    total: int
    unread: int


def inbox(user, page: int = 1, per_page: int = PER_PAGE) -> InboxPage:
    """A page of the user's notifications: unread first, then read, each newest first, with attachments.

    Three statements whatever the page holds: the counts, the page, the page's attachments.
    """
    now = clock.now()
    listed = _listed(user.id, now)
    total, unread = db.session.execute(
        select(func.count(NotificationDelivery.id),
               func.coalesce(func.sum(case((NotificationDelivery.read_at.is_(None), 1), else_=0)), 0))
        .join(Notification, Notification.id == NotificationDelivery.notification_id).where(listed)).one()
    page_count = max(1, -(-int(total) // per_page))
    page = min(max(1, page), page_count)
    rows = db.session.execute(
        select(NotificationDelivery, Notification)
        .join(Notification, Notification.id == NotificationDelivery.notification_id)
        .where(listed)
        .order_by(case((NotificationDelivery.read_at.is_(None), 0), else_=1),
                  _shown_at().desc(), NotificationDelivery.id.desc())
        .limit(per_page).offset((page - 1) * per_page)).all()
    items = [InboxItem(delivery, notification) for delivery, notification in rows]
    _attach(items)
    return InboxPage(items, page, page_count, int(total), int(unread or 0))


def _attach(items: list[InboxItem]) -> None:
    """Fill each item's attachments with one query for the whole page (no N+1)."""
    by_notification: dict[int, list[InboxItem]] = {}
    for item in items:
        by_notification.setdefault(item.notification.id, []).append(item)
    if not by_notification:
        return
    attachments = db.session.scalars(
        select(NotificationAttachment).where(NotificationAttachment.notification_id.in_(by_notification))
        .order_by(NotificationAttachment.id)).all()
    for attachment in attachments:
        for item in by_notification[attachment.notification_id]:
            item.attachments.append(attachment)


# --- Modals and banners -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TopOfPage:
    modals: list[InboxItem]
    banners: list[InboxItem]


def _top_of_page_clauses(user_id: int, now: datetime) -> tuple:
    return (NotificationDelivery.user_id == user_id, _started(now), _not_ended(now),
            or_(and_(Notification.kind == "modal", NotificationDelivery.confirmed_at.is_(None)),
                and_(Notification.kind == "banner", NotificationDelivery.dismissed_at.is_(None))))


def top_of_page(user) -> TopOfPage:
    """Modals not yet confirmed and banners not yet closed whose window is open, oldest first, in one
    statement (the layout shows them on every page)."""
    now = clock.now()
    rows = db.session.execute(
        select(NotificationDelivery, Notification)
        .join(Notification, Notification.id == NotificationDelivery.notification_id)
        .where(*_top_of_page_clauses(user.id, now))
        .order_by(NotificationDelivery.delivered_at, NotificationDelivery.id)).all()
    items = [InboxItem(delivery, notification) for delivery, notification in rows]
    return TopOfPage(modals=[item for item in items if item.notification.kind == "modal"],
                     banners=[item for item in items if item.notification.kind == "banner"])


def pending_modals(user) -> list[InboxItem]:
    """Modal notifications to show after sign-in (and on later pages) until confirmed, in order."""
    return top_of_page(user).modals


def active_banners(user) -> list[InboxItem]:
    """Top banners to show until closed or expired."""
    return top_of_page(user).banners


_LAYOUT_STATEMENT = None


def _layout_statement():
    """The statement of `layout_inbox`, built once per process with the user and the time as bound
    parameters: building this SQL expression took more CPU than running it (SQLAlchemy then reuses
    its compiled form from the cache)."""
    global _LAYOUT_STATEMENT
    if _LAYOUT_STATEMENT is None:
        from crm.services.appeal_portal import unread_appeals_query

        user_id, now = bindparam("layout_user_id"), bindparam("layout_now")
        unread_notifications = (select(func.count(NotificationDelivery.id))
                                .join(Notification, Notification.id == NotificationDelivery.notification_id)
                                .where(_listed(user_id, now), NotificationDelivery.read_at.is_(None))
                                .scalar_subquery())
        unread_news = (select(func.count(News.id)).where(_visible_news(user_id, now), _news_unread(user_id))
                       .scalar_subquery())
        counts = select(unread_notifications.label("notifications"), unread_news.label("news"),
                        unread_appeals_query(user_id).scalar_subquery().label("appeals")).subquery("bell")
        waiting = (select(NotificationDelivery.id.label("delivery_id"))
                   .join(Notification, Notification.id == NotificationDelivery.notification_id)
                   .where(*_top_of_page_clauses(user_id, now)).subquery("waiting"))
        _LAYOUT_STATEMENT = (
            select(counts.c.notifications, counts.c.news, counts.c.appeals, NotificationDelivery, Notification)
            .select_from(counts)
            .outerjoin(waiting, true())
            .outerjoin(NotificationDelivery, NotificationDelivery.id == waiting.c.delivery_id)
            .outerjoin(Notification, Notification.id == NotificationDelivery.notification_id)
            .order_by(NotificationDelivery.delivered_at, NotificationDelivery.id))
    return _LAYOUT_STATEMENT


def layout_inbox(user) -> tuple[BellCounts, TopOfPage]:
    """`bell_counts` and `top_of_page` together in ONE statement, for the layout of every portal page:
    the one-row counts outer-joined to the waiting modals and banners (no waiting item = one row of
    counts with no delivery)."""
    rows = db.session.execute(_layout_statement(), {"layout_user_id": user.id, "layout_now": clock.now()}).all()
    items = [InboxItem(delivery, notification) for *_, delivery, notification in rows if delivery is not None]
    first = rows[0]
    counts_row = BellCounts(int(first[0] or 0), int(first[1] or 0), int(first[2] or 0), len(items))
    return counts_row, TopOfPage(modals=[item for item in items if item.notification.kind == "modal"],
                                 banners=[item for item in items if item.notification.kind == "banner"])


# --- The customer's actions -------------------------------------------------------------------------


def _own_delivery(user, delivery_id: int) -> tuple[NotificationDelivery, Notification]:
    row = db.session.execute(
        select(NotificationDelivery, Notification)
        .join(Notification, Notification.id == NotificationDelivery.notification_id)
        .where(NotificationDelivery.id == delivery_id, NotificationDelivery.user_id == user.id,
               Notification.kind.in_(LISTED_KINDS), _started(clock.now()))).first()
    if row is None:
        raise NotFoundError(delivery_id)
    return row[0], row[1]


def mark_read(user, delivery_id: int) -> NotificationDelivery:
    """Mark one of the user's notifications read; reading it again keeps the first time."""
    delivery, _ = _own_delivery(user, delivery_id)
    if delivery.read_at is None:
        delivery.read_at = clock.now()
    db.session.commit()
    return delivery


def mark_all_read(user) -> int:
    """Mark every listed unread notification of the user read; returns how many changed."""
    now = clock.now()
    listed_ids = (select(NotificationDelivery.id)
                  .join(Notification, Notification.id == NotificationDelivery.notification_id)
                  .where(_listed(user.id, now), NotificationDelivery.read_at.is_(None)))
    result = db.session.execute(update(NotificationDelivery).where(NotificationDelivery.id.in_(listed_ids))
                                .values(read_at=now).execution_options(synchronize_session=False))
    db.session.commit()
    return result.rowcount or 0


def confirm_modal(user, delivery_id: int) -> Notification:
    """Confirm a modal notification (it stops showing and counts as read); idempotent."""
    return _acknowledge(user, delivery_id, "modal", "confirmed_at")


def dismiss_banner(user, delivery_id: int) -> Notification:
    """Close a top banner (it stays in the list, read); idempotent."""
    return _acknowledge(user, delivery_id, "banner", "dismissed_at")


def _acknowledge(user, delivery_id: int, kind: str, stamp: str) -> Notification:
    """Set the delivery's `stamp` time (kept if already set) and mark it read; only for a `kind` notification."""
    delivery, notification = _own_delivery(user, delivery_id)
    if notification.kind != kind:
        raise WrongKindError(delivery_id)
    now = clock.now()
    setattr(delivery, stamp, getattr(delivery, stamp) or now)
    delivery.read_at = delivery.read_at or now
    db.session.commit()
    return notification


def attachment_for(user, attachment_id: int) -> NotificationAttachment:
    """An attachment the user may download: they hold a listed delivery of its notification."""
    now = clock.now()
    attachment = db.session.scalars(
        select(NotificationAttachment)
        .join(Notification, Notification.id == NotificationAttachment.notification_id)
        .join(NotificationDelivery, NotificationDelivery.notification_id == Notification.id)
        .where(NotificationAttachment.id == attachment_id, _listed(user.id, now))).first()
    if attachment is None:
        raise NotFoundError(attachment_id)
    return attachment


# --- News -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewsEntry:
    news: News
    is_read: bool


@dataclass(frozen=True)
class NewsPage:
    entries: list[NewsEntry]
    page: int
    page_count: int
    total: int


def news_list(user, page: int = 1, per_page: int = NEWS_PER_PAGE) -> NewsPage:
    """Published news for the user (everyone's and their branches'), newest first, with the unread mark."""
    now = clock.now()
    visible = _visible_news(user.id, now)
    total = db.session.scalar(select(func.count(News.id)).where(visible)) or 0
    page_count = max(1, -(-int(total) // per_page))
    page = min(max(1, page), page_count)
    read = (select(NewsRead.news_id).where(NewsRead.user_id == user.id, NewsRead.news_id == News.id)
            .exists())
    rows = db.session.execute(select(News, read).where(visible)
                              .order_by(News.published_at.desc(), News.id.desc())
                              .limit(per_page).offset((page - 1) * per_page)).all()
    return NewsPage([NewsEntry(news, bool(is_read)) for news, is_read in rows], page, page_count, int(total))


def news_item(user, news_id: int) -> News:
    """One published news item the user may read."""
    news = db.session.scalars(select(News).where(News.id == news_id, _visible_news(user.id, clock.now()))).first()
    if news is None:
        raise NotFoundError(news_id)
    return news


def mark_news_read(user, news_id: int) -> News:
    """Opening a news item marks it read (its unread dot goes); idempotent."""
    news = news_item(user, news_id)
    already = db.session.scalar(select(NewsRead.news_id).where(NewsRead.news_id == news_id,
                                                               NewsRead.user_id == user.id))
    if already is None:
        db.session.add(NewsRead(news_id=news_id, user_id=user.id, read_at=clock.now()))
    db.session.commit()
    return news
