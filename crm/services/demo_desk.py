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
    """A billed order, one in progress and a new one, numbered like the portal numbers them (by id); the
    bill is in the shared contract's documents."""
    from crm.models import BillingDocument

    engineer, director = builder.users["engineer@demo.example"], builder.users["director@demo.example"]
    shared = builder.contracts["shared"]
    orders = [
        ServiceOrder(number="demo-1", service=services[0], user=director, contract=shared,
                     contact_name=director.full_name, phone=director.phone or "+7 (482) 255-10-10",
                     status="bill_issued", created_at=builder.days_ago(25), processed_at=builder.days_ago(20),
                     staff_comment="Замена согласована на 28-е число, счёт выставлен.",
                     task="Замена счётчика на складе: прибор не проходит поверку."),
        ServiceOrder(number="demo-2", service=services[3], user=director, contract=shared,
                     contact_name=director.full_name, phone=director.phone or "+7 (482) 255-10-10",
                     status="in_progress", created_at=builder.days_ago(12), processed_at=builder.days_ago(11),
                     staff_comment="Инженер свяжется с вами для согласования даты выезда.",
                     task="Консультация по выбору ценовой категории для нового цеха."),
        ServiceOrder(number="demo-3", service=services[1], user=engineer, contract=shared,
                     contact_name=engineer.full_name, phone=engineer.phone or "+7 (482) 255-10-11", status="new",
                     created_at=builder.days_ago(9),
                     task="Поверка прибора учёта в производственном цехе № 2: срок поверки истекает "
                          "в следующем квартале."),
    ]
    db.session.add_all(orders)
    db.session.flush()
    for order in orders:
        order.number = f"У-{order.created_at:%Y}-{order.id:06d}"
    billed, day = orders[0], builder.days_ago(20).date()
    bill = BillingDocument(contract=shared, doc_type="bill", number=billed.number, doc_date=day,
                           period=day.replace(day=1), amount=Decimal("4500.00"), amount_due=Decimal("4500.00"),
                           due_date=day + timedelta(days=10))
    db.session.add(bill)
    db.session.flush()
    billed.bill_document_id = bill.id


def _notifications(builder) -> None:
    """What the portal's bell, list, modals and banners show (C16): a banner open now and one that ended
    (kept in the list), two modals ("1 of 2" for the shared contract's users), bell messages read and
    unread, a long one with an attachment, a future one not shown yet, and "contract added" events.

    Recipients come from the audience rules of the fan-out (`audience_query`), inserted set-based like it
    does, but inside the demo's one transaction (`fan_out` commits, so it is not called here)."""
    from sqlalchemy import Integer, func, insert, literal, select, update

    from crm.models import NotificationAttachment
    from crm.models.types import UTCDateTime
    from crm.services.demo_appeals import _PDF as SAMPLE_PDF
    from crm.storage import get_storage
    from workflows.notification_audience import audience_query
    from workflows.notifications import notify_user

    admin = builder.users["admin"]
    director, manager = builder.users["director@demo.example"], builder.users["manager@demo.example"]
    engineer = builder.users["engineer@demo.example"]
    shared = builder.contracts["shared"]
    everyone = {"type": "everyone"}
    period = period_text(builder.current)
    long_text = ("С 1 января вступает в силу новая редакция договора энергоснабжения. Основные изменения:\n\n"
                 "1. Срок оплаты за фактически потреблённую энергию — до 18-го числа месяца, следующего за "
                 "расчётным.\n2. Промежуточные платежи: 30 % до 10-го числа и 40 % до последнего числа текущего "
                 "месяца.\n3. Показания приборов учёта передаются в личном кабинете до 21-го числа.\n\n"
                 "Текст дополнительного соглашения — во вложении. Подписанный экземпляр направьте в филиал "
                 "или через раздел «Обращения».")
    # (fields, audience, readers: user ids who read it, hours after sending)
    items = [
        (dict(kind="banner", category="outage", subject="Плановые технические работы",
              body_markdown="В ночь с субботы на воскресенье с 23:00 до 03:00 личный кабинет может быть "
                            "недоступен. Приносим извинения за неудобства.",
              display_from=builder.days_ago(1), display_until=builder.now + timedelta(days=6),
              created_at=builder.days_ago(1)), everyone, set()),
        (dict(kind="banner", category="outage", subject="Перерыв в работе личного кабинета",
              body_markdown="Личный кабинет был недоступен с 02:00 до 04:00 из-за обновления.",
              display_from=builder.days_ago(45), display_until=builder.days_ago(44),
              created_at=builder.days_ago(45)), everyone, set()),
        (dict(kind="modal", category="general", subject="Новые тарифы с 1 июля",
              body_markdown="С 1 июля действуют новые тарифы на электрическую и тепловую энергию. "
                            "Подробности — в разделе **Новости**.",
              confirm_text="Ознакомлен", goto_url="/portal/news", goto_label="Открыть новости",
              display_from=builder.days_ago(20), display_until=builder.now + timedelta(days=40),
              created_at=builder.days_ago(20)), everyone, {director.id}),
        (dict(kind="modal", category="invoices", subject=f"Счета по договору № {shared.number} — в личном кабинете",
              body_markdown="Счета и акты по договору теперь можно скачать в разделе «Документы» сразу после "
                            "выставления. Бумажные экземпляры направляются почтой по запросу.",
              goto_url=f"/portal/contracts/{shared.id}/documents", goto_label="Открыть документы",
              display_from=builder.days_ago(3), display_until=builder.now + timedelta(days=30),
              created_at=builder.days_ago(3)), {"type": "contracts", "ids": [shared.id]}, set()),
        (dict(kind="bell", category="readings", subject=f"Открыт приём показаний за {period}",
              body_markdown="Показания принимаются с 1-го числа месяца по 21-е число следующего месяца. "
                            "Для счётчиков с зонами суток передайте показания по всем зонам.",
              created_at=builder.days_ago(builder.today.day - 1, 6)), everyone, {engineer.id, director.id}),
        (dict(kind="bell", category="general", subject="Новая редакция договора энергоснабжения",
              body_markdown=long_text, created_at=builder.days_ago(6, 11)), everyone, set()),
        (dict(kind="bell", category="general", subject="Изменение режима работы филиалов",
              body_markdown="С 1-го числа следующего месяца клиентские офисы работают до 18:00.",
              display_from=builder.now + timedelta(days=2), created_at=builder.days_ago(0.2)), everyone, set()),
    ]
    dialect = db.session.get_bind().dialect.name
    storage = get_storage()
    for fields, audience, readers in items:
        notification = Notification(audience=audience, author_id=admin.id, sent_at=fields["created_at"], **fields)
        if fields["subject"] == "Новая редакция договора энергоснабжения":
            notification.attachments.append(NotificationAttachment(
                filename="Дополнительное соглашение.pdf", content_type="application/pdf", size=len(SAMPLE_PDF),
                storage_key=storage.put("notifications", SAMPLE_PDF, ".pdf")))
        db.session.add(notification)
        db.session.flush()
        recipients = audience_query(audience).subquery()
        statement = insert(NotificationDelivery.__table__).from_select(
            ["notification_id", "user_id", "delivered_at"],
            select(literal(notification.id, Integer), recipients.c.user_id,
                   literal(notification.created_at, UTCDateTime())))
        db.session.execute(statement.prefix_with("OR IGNORE") if dialect == "sqlite" else statement)
        if readers:
            read_at = notification.created_at + timedelta(hours=3)
            values = {"read_at": read_at, "confirmed_at": read_at} if notification.kind == "modal" \
                else {"read_at": read_at}
            db.session.execute(update(NotificationDelivery).where(
                NotificationDelivery.notification_id == notification.id, NotificationDelivery.user_id.in_(readers))
                .values(**values).execution_options(synchronize_session=False))
        notification.recipients_count = db.session.scalar(select(func.count()).select_from(NotificationDelivery)
                                                          .where(NotificationDelivery.notification_id
                                                                 == notification.id))
    # System events, as role grants leave them ("Contract N was added with role R").
    for user, role, days, read in ((director, "«Администратор»", 380, True), (manager, "«Руководитель»", 200, False)):
        at = builder.days_ago(days, 10)
        event = notify_user(user.id, "contract.role_granted", f"Договор № {shared.number} добавлен с ролью {role}",
                            f"Договор № {shared.number} ({shared.counterparty.short_name}) теперь в вашем личном "
                            f"кабинете с ролью {role}.", goto_url=f"/portal/contracts/{shared.id}/",
                            goto_label="Открыть договор")
        db.session.flush()
        event.created_at = event.sent_at = at
        db.session.execute(update(NotificationDelivery).where(NotificationDelivery.notification_id == event.id)
                           .values(delivered_at=at, read_at=at + timedelta(hours=2) if read else None)
                           .execution_options(synchronize_session=False))
    # The e-mail copies of the role notification, as the outbox keeps them (W1).
    for user, status in ((director, "sent"), (manager, "held")):
        at = builder.days_ago(380 if status == "sent" else 2, 10)
        db.session.add(EmailOutbox(
            to_address=user.email, subject=f"Договор № {shared.number}: доступ в личном кабинете",
            body_text=f"Здравствуйте, {user.first_name}!\n\nВам открыт доступ к договору № {shared.number} "
                      "в личном кабинете.\n\nАО «Тверьэнергосбыт»", status=status, attempts=1 if status == "sent"
            else 0, created_at=at, next_attempt_at=at, sent_at=at if status == "sent" else None, user_id=user.id,
            category="contract.role_granted"))


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
