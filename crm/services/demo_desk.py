"""The demo's service desk and content: workflow, appeal catalogue, appeals, catalog, news,
notifications and an audit trail. Called by crm/services/demo.py inside its transaction.

Configuration rows (workflow "default", topics, forms) are looked up by code first, so the demo
also loads on a database where an admin or a migration already created them.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from crm.extensions import db
from crm.models import (
    Appeal,
    AppealDraft,
    AppealEvent,
    AppealMessage,
    AppealTopic,
    AuditLog,
    CannedReply,
    EmailOutbox,
    FaqGroup,
    FaqItem,
    FormDefinition,
    FormField,
    FormStep,
    News,
    NewsRead,
    Notification,
    NotificationDelivery,
    Service,
    ServiceOrder,
    WorkflowDefinition,
    WorkflowState,
    WorkflowTransition,
)
from crm.services import demo_content as content
from crm.services.demo_billing import period_text

PERSON_LETTERS = {"legal": "Ю-Л", "sole_proprietor": "И-П", "individual": "Ф-Л"}

# Appeals in every state: who, where, what, and the dialogue (days ago, from staff?, text, flags).
APPEALS = [
    dict(author="manager@demo.example", contract="shared", section="access_rights", state="closed", days=40,
         title="Предоставление роли «Администратор»",
         form={"full_name": "Лебедева Ольга Александровна", "role": "Администратор",
               "reason": "Назначена ответственной за договор приказом № 14-к"},
         messages=[(40, False, "Прошу предоставить мне роль администратора по договору."),
                   (38, True, "По договору уже назначен администратор — Волков Игорь Николаевич. У договора может "
                              "быть только один администратор; права руководителя, энергетика или бухгалтера вам "
                              "может выдать он.")],
         path=["in_progress", "closed"]),
    dict(author="director@demo.example", contract="technostyle_heat", section="data_change", state="in_progress",
         days=5, title="Изменение банковских реквизитов",
         form={"subject": "Банковские реквизиты", "new_value": "р/с 40702810963000009981 в Тверском отделении "
                                                                "№ 8607 ПАО Сбербанк"},
         messages=[(5, False, "Просим внести в договор новые банковские реквизиты с 1-го числа следующего месяца."),
                   (4, True, "Здравствуйте! Обращение принято в работу. Пришлите, пожалуйста, письмо на бланке "
                             "организации за подписью руководителя."),
                   (4, True, "Сверить реквизиты с выпиской из ЕГРЮЛ.", dict(internal=True)),
                   (3, False, "Письмо направили почтой и продублировали скан во вложении.")],
         path=["in_progress"], staff_unread=True),
    dict(author="engineer@demo.example", contract="shared", object=1, section="readings_question",
         state="waiting_customer", days=6, title="Не принимаются показания по прибору учёта",
         form={"question": "При передаче показаний за прошлый месяц форма выдаёт ошибку.", "callback": True},
         messages=[(6, False, "Не получается передать показания по цеху № 1: после ввода ничего не сохраняется."),
                   (2, True, "Пришлите, пожалуйста, фото табло счётчика со всеми показаниями (день и ночь не "
                             "требуются — счётчик однотарифный) и время съёмки.")],
         path=["in_progress", "waiting_customer"], customer_unread=True),
    dict(author="accountant@demo.example", contract="shared", section="data_change", state="new", days=0.4,
         title="Изменение почтового адреса для корреспонденции",
         form={"subject": "Почтовый адрес", "new_value": "170001, г. Тверь, Петербургское шоссе, д. 45, офис 210"},
         messages=[(0.4, False, "Просим направлять оригиналы документов по новому почтовому адресу.")],
         path=[], staff_unread=True),
    dict(author="other@demo.example", contract="manufaktura", object=0, section="readings_question",
         state="in_progress", days=8, title="Расхождение интегральных и интервальных показаний",
         form={"question": "Расход по почасовому профилю меньше интегрального на 2 %. Откуда разница?"},
         messages=[(8, False, "Расход по почасовому профилю за прошлый месяц меньше интегрального на 2 %."),
                   (7, True, "Проверяем данные АИИС КУЭ, ответим после сверки с сетевой организацией.")],
         path=["in_progress"], sla_breached=True),
    dict(author="household@demo.example", contract="household", section="readings_question", state="closed",
         days=24, title="Перерасчёт за ошибочно переданные показания",
         form={"question": "Ошиблась при вводе показаний ночной зоны, прошу сделать перерасчёт."},
         messages=[(24, False, "Ошиблась при вводе показаний ночной зоны, прошу сделать перерасчёт."),
                   (21, True, "Перерасчёт выполнен, направляем акт. Подтвердите, пожалуйста, согласие с ним.",
                    dict(needs_decision=True, decision="accepted", decision_comment="Согласна, спасибо.")),
                   (20, False, "Спасибо!")],
         path=["in_progress", "closed"]),
    dict(author="director@demo.example", contract="shared", section="readings_question", state="closed", days=62,
         title="Порядок передачи почасовых показаний",
         form={"question": "В какие сроки нужно передавать почасовой профиль по III ценовой категории?"},
         messages=[(62, False, "В какие сроки нужно передавать почасовой профиль?"),
                   (61, True, "Почасовые показания за месяц передаются вместе с интегральными — до 21-го числа "
                              "следующего месяца, файлом .xlsx по каждому прибору учёта.")],
         path=["in_progress", "closed"]),
    dict(author="other@demo.example", contract="manufaktura", section="access_rights", state="new", days=0.1,
         title="Предоставление роли «Администратор»", unassigned=True,
         form={"full_name": "Зайцев Роман Олегович", "role": "Администратор",
               "reason": "Доверенность № 27 от генерального директора"},
         messages=[(0.1, False, "Прошу назначить меня администратором договора, доверенность приложена.")],
         path=[], staff_unread=True),
]


def seed_desk(builder) -> None:
    """Appeals and their configuration, catalog, FAQ, news, notifications, audit log."""
    workflow, states = _workflow()
    topics = _topics()
    forms = _forms()
    db.session.add_all(CannedReply(title=t, body=b) for t, b in content.CANNED_REPLIES)
    _appeals(builder, workflow, states, topics, forms)
    _catalog(builder)
    _notifications(builder)
    _audit(builder)


def _workflow() -> tuple[WorkflowDefinition, dict[str, WorkflowState]]:
    codes = {s["code"] for s in content.WORKFLOW_STATES}
    existing = db.session.scalars(select(WorkflowDefinition).where(
        WorkflowDefinition.code == content.WORKFLOW_CODE, WorkflowDefinition.is_current.is_(True))).first()
    if existing is not None and codes <= {s.code for s in existing.states}:
        return existing, {s.code: s for s in existing.states}
    version = (db.session.scalar(select(func.max(WorkflowDefinition.version)).where(
        WorkflowDefinition.code == content.WORKFLOW_CODE)) or 0) + 1
    if existing is not None:
        existing.is_current = False
    workflow = WorkflowDefinition(code=content.WORKFLOW_CODE, version=version, name=content.WORKFLOW_NAME,
                                  is_current=True)
    states = {}
    for position, spec in enumerate(content.WORKFLOW_STATES):
        state = WorkflowState(position=position, **spec)
        workflow.states.append(state)
        states[state.code] = state
    for source, target, label, role in content.WORKFLOW_TRANSITIONS:
        workflow.transitions.append(WorkflowTransition(from_state=states[source], to_state=states[target],
                                                       label=label, allowed_role=role))
    db.session.add(workflow)
    return workflow, states


def _topic(code: str, **fields) -> AppealTopic:
    topic = db.session.scalar(select(AppealTopic).where(AppealTopic.code == code))
    if topic is None:
        topic = AppealTopic(code=code, **fields)
        db.session.add(topic)
    return topic


def _topics() -> dict[str, AppealTopic]:
    topics = {}
    for position, spec in enumerate(content.TOPICS):
        topic = _topic(spec["code"], level="topic", name=spec["name"], position=position)
        topics[spec["code"]] = topic
        for n, section in enumerate(spec["sections"]):
            topics[section["code"]] = _topic(section["code"], level="section", name=section["name"], position=n,
                                             parent=topic, form_code=section["form"],
                                             workflow_code=content.WORKFLOW_CODE,
                                             requires_contract=section["requires_contract"])
    return topics


def _forms() -> dict[str, FormDefinition]:
    forms = {}
    for code, (name, steps) in content.FORMS.items():
        form = db.session.scalars(select(FormDefinition).where(FormDefinition.code == code,
                                                               FormDefinition.is_current.is_(True))).first()
        if form is None:
            form = FormDefinition(code=code, version=1, name=name, is_current=True)
            for position, (title, fields) in enumerate(steps, start=1):
                step = FormStep(position=position, title=title)
                for n, (field_name, label, field_type, required, extra) in enumerate(fields, start=1):
                    step.fields.append(FormField(position=n, name=field_name, label=label, field_type=field_type,
                                                 required=required, **extra))
                form.steps.append(step)
            db.session.add(form)
        forms[code] = form
    return forms


def _appeals(builder, workflow, states, topics, forms) -> None:
    curator = builder.users["curator"]
    sequence = max(db.session.scalar(select(func.max(Appeal.sequence))) or 0, 60)
    section_topic = {s["code"]: t["code"] for t in content.TOPICS for s in t["sections"]}
    db.session.flush()
    for spec in APPEALS:
        sequence += 1
        author = builder.users[spec["author"]]
        contract = builder.contracts[spec["contract"]]
        created = builder.days_ago(spec["days"])
        obj = builder.objects[spec["contract"]][spec["object"]] if "object" in spec else None
        letters = PERSON_LETTERS[contract.counterparty.person_type]
        appeal = Appeal(
            number=f"{sequence:07d}-{created:%y}-{contract.branch.code}-{letters}", sequence=sequence,
            author=author, contract=contract, energy_object=obj, branch=contract.branch,
            topic=topics[section_topic[spec["section"]]], section=topics[spec["section"]],
            form=forms[topics[spec["section"]].form_code], workflow=workflow, state_code=spec["state"],
            channel="portal", title=spec["title"], form_data=spec["form"], created_at=created,
            assignee=None if spec.get("unassigned") else curator,
            customer_unread=spec.get("customer_unread", False), staff_unread=spec.get("staff_unread", False))
        appeal.events.append(AppealEvent(actor_id=author.id, kind="created", to_state="new", created_at=created))
        # Transitions spread up to an hour after the last message, so the timeline reads naturally.
        end = min(builder.now, max(builder.days_ago(m[0]) for m in spec["messages"]) + timedelta(hours=1))
        moment, previous = created, "new"
        for step, target in enumerate(spec["path"]):
            moment = created + (end - created) * (step + 1) / len(spec["path"])
            if step == 0 and appeal.assignee is not None:
                appeal.events.append(AppealEvent(actor_id=curator.id, kind="assigned", created_at=moment,
                                                 detail={"assignee": curator.username}))
            appeal.events.append(AppealEvent(actor_id=curator.id, kind="transition", from_state=previous,
                                             to_state=target, created_at=moment))
            previous = target
        appeal.state_entered_at = moment
        sla = states[spec["state"]].sla_hours
        appeal.sla_due_at = moment + timedelta(hours=sla) if sla else None
        if spec.get("sla_breached"):
            appeal.sla_due_at = builder.now - timedelta(days=2)
        if spec["state"] == "closed":
            appeal.closed_at = moment
        last = created
        for days, from_staff, body, *extra in spec["messages"]:
            at = builder.days_ago(days)
            appeal.messages.append(AppealMessage(author_id=curator.id if from_staff else author.id,
                                                 from_staff=from_staff, body=body, created_at=at,
                                                 **(extra[0] if extra else {})))
            if not (extra and extra[0].get("internal")):
                last = max(last, at)
        appeal.last_message_at = last
        db.session.add(appeal)
    director = builder.users["director@demo.example"]
    db.session.add(AppealDraft(author_id=director.id, contract=builder.contracts["technostyle_heat"],
                               section=topics["data_change"], form_id=forms["data_change"].id, steps_completed=1,
                               form_data={"subject": "Контактные лица"}, created_at=builder.days_ago(5),
                               updated_at=builder.days_ago(5), expires_at=builder.days_ago(5) + timedelta(days=30)))


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
    engineer = builder.users["engineer@demo.example"]
    db.session.add(ServiceOrder(number=f"З-{builder.today:%y}-000147", service=services[1], user=engineer,
                                contract=builder.contracts["shared"], contact_name=engineer.full_name,
                                phone=engineer.phone, status="new", created_at=builder.days_ago(9),
                                task="Поверка прибора учёта в производственном цехе № 2: срок поверки истекает "
                                     "в следующем квартале."))


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
