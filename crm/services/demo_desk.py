"""The demo's service desk and content: workflow, appeal catalogue, appeals, catalog, news,
notifications and an audit trail. Called by crm/services/demo.py inside its transaction.

The appeal configuration comes from `ensure_appeal_definitions` (created by code only when missing, so
the demo also loads where `flask crm init` or an admin already made it); the appeals from demo_appeals.py.
"""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from crm.extensions import db
from crm.models import (
    AuditLog,
    CannedReply,
    EmailOutbox,
    FaqGroup,
    FaqItem,
    News,
    NewsRead,
    Notification,
    NotificationDelivery,
    Service,
    ServiceOrder,
)
from crm.services import demo_content as content
from crm.services.appeal_definitions import ensure_appeal_definitions
from crm.services.demo_appeals import seed_appeals
from crm.services.demo_billing import period_text


def seed_desk(builder) -> None:
    """Appeals and their configuration, catalog, FAQ, news, notifications, audit log."""
    ensure_appeal_definitions(commit=False)
    db.session.add_all(CannedReply(title=t, body=b) for t, b in content.CANNED_REPLIES)
    seed_appeals(builder)
    _catalog(builder)
    _notifications(builder)
    _audit(builder)


def _catalog(builder) -> None:
    services = [Service(position=n, active=True, **spec) for n, spec in enumerate(content.SERVICES)]
    db.session.add_all(services)
    for position, (name, items) in enumerate(content.FAQ):
        group = FaqGroup(name=name, position=position)
        group.items = [FaqItem(question=q, answer_markdown=a, position=n) for n, (q, a) in enumerate(items)]
        db.session.add(group)
    news = [News(title=title, body_markdown=body, published_at=builder.days_ago(days, 7))
            for (title, body), days in zip(content.NEWS, (140, 35, 4), strict=True)]
    db.session.add_all(news)
    db.session.flush()
    director = builder.users["director@demo.example"]
    db.session.add(NewsRead(news_id=news[0].id, user_id=director.id, read_at=builder.days_ago(139)))
    _service_orders(builder, services)
    from crm.services.help_content import ensure_help_pages

    ensure_help_pages(commit=False)


def _service_orders(builder, services) -> None:
    """A new order, one in progress and one billed (its bill is in the shared contract's documents)."""
    from crm.models import BillingDocument

    engineer, director = builder.users["engineer@demo.example"], builder.users["director@demo.example"]
    shared = builder.contracts["shared"]
    year = builder.today.year
    bill = BillingDocument(contract=shared, doc_type="bill", number=f"У-{year}-000145",
                           doc_date=builder.days_ago(20).date(), period=builder.days_ago(20).date().replace(day=1),
                           amount=Decimal("4500.00"), amount_due=Decimal("4500.00"),
                           due_date=builder.days_ago(10).date())
    db.session.add(bill)
    db.session.flush()
    orders = [
        ServiceOrder(number=f"У-{year}-000145", service=services[0], user=director, contract=shared,
                     contact_name=director.full_name, phone=director.phone or "+7 (482) 255-10-10",
                     status="bill_issued", created_at=builder.days_ago(25), processed_at=builder.days_ago(20),
                     staff_comment="Замена согласована на 28-е число, счёт выставлен.", bill_document_id=bill.id,
                     task="Замена счётчика на складе: прибор не проходит поверку."),
        ServiceOrder(number=f"У-{year}-000146", service=services[3], user=director, contract=shared,
                     contact_name=director.full_name, phone=director.phone or "+7 (482) 255-10-10",
                     status="in_progress", created_at=builder.days_ago(12), processed_at=builder.days_ago(11),
                     staff_comment="Инженер свяжется с вами для согласования даты выезда.",
                     task="Консультация по выбору ценовой категории для нового цеха."),
        ServiceOrder(number=f"У-{year}-000147", service=services[1], user=engineer, contract=shared,
                     contact_name=engineer.full_name, phone=engineer.phone or "+7 (482) 255-10-11", status="new",
                     created_at=builder.days_ago(9),
                     task="Поверка прибора учёта в производственном цехе № 2: срок поверки истекает "
                          "в следующем квартале."),
    ]
    db.session.add_all(orders)


def _notifications(builder) -> None:
    """A banner, a modal, two bell messages (one of them an event), each delivered to every customer."""
    admin = builder.users["admin"]
    director = builder.users["director@demo.example"]
    customers = [user for login, user in builder.users.items() if "@" in login]
    shared = builder.contracts["shared"]
    everyone = {"type": "everyone"}
    items = [
        (Notification(kind="banner", subject="Плановые технические работы",
                      body_markdown="В ночь с субботы на воскресенье с 23:00 до 03:00 личный кабинет может быть "
                                    "недоступен. Приносим извинения за неудобства.",
                      display_from=builder.days_ago(1), display_until=builder.now + timedelta(days=6),
                      audience=everyone, author_id=admin.id, created_at=builder.days_ago(1),
                      sent_at=builder.days_ago(1)), customers, set()),
        (Notification(kind="modal", subject="Новые тарифы с 1 июля",
                      body_markdown="С 1 июля действуют новые тарифы на электрическую и тепловую энергию. "
                                    "Подробности — в разделе **Тарифы**.",
                      confirm_text="Ознакомлен", goto_url="/portal/", goto_label="Перейти в личный кабинет",
                      display_from=builder.days_ago(20), display_until=builder.now + timedelta(days=40),
                      audience=everyone, author_id=admin.id, created_at=builder.days_ago(20),
                      sent_at=builder.days_ago(20)), customers, {director.id}),
        (Notification(kind="bell", subject=f"Открыт приём показаний за {period_text(builder.current)}",
                      body_markdown="Показания принимаются с 1-го числа месяца по 21-е число следующего месяца. "
                                    "Для счётчиков с зонами суток передайте показания по всем зонам.",
                      audience=everyone, author_id=admin.id, created_at=builder.days_ago(builder.today.day - 1, 6),
                      sent_at=builder.days_ago(builder.today.day - 1, 6)), customers,
         {builder.users["engineer@demo.example"].id, director.id}),
        (Notification(kind="bell", subject=f"Договор № {shared.number} добавлен с ролью «Администратор»",
                      body_markdown=f"Вам предоставлена роль «Администратор» по договору № {shared.number}.",
                      audience={"type": "user", "ids": [director.id]}, event="contract.role_granted",
                      created_at=builder.days_ago(380, 10), sent_at=builder.days_ago(380, 10)),
         [director], {director.id}),
    ]
    # The e-mail copies of the role notification, as the outbox keeps them (W1).
    for user, status in ((director, "sent"), (builder.users["manager@demo.example"], "held")):
        at = builder.days_ago(380 if status == "sent" else 2, 10)
        db.session.add(EmailOutbox(
            to_address=user.email, subject=f"Договор № {shared.number}: доступ в личном кабинете",
            body_text=f"Здравствуйте, {user.first_name}!\n\nВам открыт доступ к договору № {shared.number} "
                      "в личном кабинете.\n\nАО «Тверьэнергосбыт»", status=status, attempts=1 if status == "sent"
            else 0, created_at=at, next_attempt_at=at, sent_at=at if status == "sent" else None, user_id=user.id,
            category="contract.role_granted"))
    for notification, recipients, readers in items:
        db.session.add(notification)
        db.session.flush()
        for user in recipients:
            read = notification.created_at + timedelta(hours=3) if user.id in readers else None
            db.session.add(NotificationDelivery(
                notification_id=notification.id, user_id=user.id, delivered_at=notification.created_at,
                read_at=read, confirmed_at=read if notification.kind == "modal" else None))


def _audit(builder) -> None:
    """A short trail: role grants, a binding, a staff edit, an import from billing."""
    rows = []
    for access in builder.accesses:
        granted_by = access.granted_by
        action = "contract_access.grant" if granted_by is not None else "contract.bind"
        rows.append(AuditLog(created_at=access.granted_at, actor_id=(granted_by or access.user).id,
                             actor_label=(granted_by or access.user).username, action=action,
                             subject_type="contract_access", subject_id=access.id,
                             counterparty_id=access.contract.counterparty_id, ip_address="10.20.1.15",
                             detail={"contract": access.contract.number, "user": access.user.username,
                                     "role": access.role}))
    curator = builder.users["curator"]
    shared = builder.contracts["shared"]
    rows.append(AuditLog(created_at=builder.days_ago(30, 11), actor_id=curator.id, actor_label=curator.username,
                         action="contract.update", subject_type="contract", subject_id=shared.id,
                         counterparty_id=shared.counterparty_id, ip_address="10.20.4.31",
                         detail={"field": "emails", "added": ["buh@technostyle.example"]}))
    rows.append(AuditLog(created_at=builder.days_ago(builder.today.day, 4), actor_label="billing",
                         action="import.readings", subject_type="reading", detail={"accepted": len(builder.contracts),
                                                                                   "source": "billing"}))
    db.session.add_all(rows)
