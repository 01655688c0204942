"""The demo's appeals and drafts, filed under the seeded catalogue (crm/services/appeal_definitions.py)
and pinned to the current form and workflow versions, in every state of both workflows.

Called by crm/services/demo_desk.py inside the demo's transaction; form data is what the portal's form
would have stored (checked by tests/integration/test_demo.py against the pinned forms).
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from crm.extensions import db
from crm.models import (
    Appeal,
    AppealAttachment,
    AppealDraft,
    AppealEvent,
    AppealMessage,
    AppealTopic,
    CannedReply,
    Curator,
)
from crm.services.appeal_forms import current_form, current_workflow
from crm.storage import get_storage

PERSON_LETTERS = {"legal": "Ю-Л", "sole_proprietor": "И-П", "individual": "Ф-Л"}

# A one-page PDF, the scan every demo attachment stands for.
_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")

ENERGY_CONTRACT_FORM = {
    "org_full_name": "ОБЩЕСТВО С ОГРАНИЧЕННОЙ ОТВЕТСТВЕННОСТЬЮ «ТЕХНОСТИЛЬ»", "org_short_name": "ООО «Техностиль»",
    "not_budget": True, "inn": "6950123456", "okpo": "12345678", "ogrn": "1126952004321", "kpp": "695001001",
    "head_position": "Генеральный директор", "head_name": "Волков Игорь Николаевич",
    "legal_address": "170100, Тверская обл., г. Тверь, ул. Советская, д. 45",
    "postal_address": "170100, Тверская обл., г. Тверь, ул. Советская, д. 45", "postal_same": True,
    "branch": "Центральный филиал, г. Тверь, ул. Советская, д. 7",
    "bank_bik": "042809679", "bank_name": "Тверское отделение № 8607 ПАО Сбербанк",
    "bank_account": "40702810963000001234", "bank_corr_account": "30101810700000000679",
    "start_date": "2027-01-01", "contract_date": None, "delivery": "Электронный документооборот",
    "edo_operator": "АО «ПФ «СКБ Контур»", "edo_code": "2BM-6950123456-695001001-201511250000000",
    "region": "Тверская область",
    "contact_last_name": "Морозов", "contact_first_name": "Павел", "contact_patronymic": "Викторович",
    "contact_position": "Главный энергетик", "contact_phone": "+7 (910) 530-12-47",
    "contact_email": "engineer@demo.example",
    "object_name": "Склад готовой продукции № 3", "object_address": "170039, г. Тверь, Сахаровское шоссе, д. 16",
    "object_purpose": "Складской",
    "connection_name": "ТП-1147, РУ-0,4 кВ, ф. 5", "max_power": "150",
    "balance_boundary": "Наконечники кабельной линии в РУ-0,4 кВ ТП-1147", "grid_company": "Тверьэнерго",
    "voltage_level": "НН", "price_category": "III", "contract_type": "С услугами по передаче",
    "tariff_zones": "Без тарифных зон",
    "metering_point_name": "ИК-001", "losses_percent": "2.5", "metering_voltage": "НН",
    "meter_serial": "011355089412367", "meter_model": "Меркурий 234 ARTM-03 PB.G", "meter_made_on": "2025-03-01",
    "digits_integer": "6", "digits_fraction": "2", "initial_reading": "94.44", "verified_on": "2025-04-15",
    "meter_owner": "Потребитель",
}

# Canned replies of the curator desk: title, body with placeholders, section code (None: every section).
CANNED_REPLIES = [
    ("Принято в работу", "Здравствуйте, {{ customer_name }}! Ваше обращение № {{ appeal_number }} принято в работу. "
                         "Ответ будет направлен в течение трёх рабочих дней.\n\n{{ curator_name }}, "
                         "{{ curator_phone }}", None),
    ("Нужна доверенность", "Здравствуйте, {{ customer_name }}! Для предоставления роли «Администратор» по договору "
                           "№ {{ contract_number }} приложите, пожалуйста, доверенность на представление интересов "
                           "организации или приказ о назначении.", "access_rights"),
    ("Роль предоставлена", "Здравствуйте, {{ customer_name }}! Полномочия подтверждены, вам предоставлена роль "
                           "«Администратор» по договору № {{ contract_number }}. Назначить роли коллегам можно в "
                           "разделе «Пользователи договора».", "access_rights"),
    ("Показания приняты", "Показания приняты к расчёту. Начисление будет отражено в счёте за текущий период.",
     "readings_question"),
    ("Пришлите фото счётчика", "Здравствуйте, {{ customer_name }}! Пришлите, пожалуйста, фото табло прибора учёта "
                               "со всеми показаниями и время съёмки — ответим в обращении {{ appeal_number }}.",
     "readings_question"),
]

# Who, where, what, the dialogue (days ago, from staff?, text, flags) and the path of states after "new".
APPEALS = [
    dict(author="manager@demo.example", contract="shared", section="access_rights", state="rejected", days=40,
         title="Предоставление роли «Администратор»",
         form={"full_name": "Лебедева Ольга Александровна",
               "position": "Начальник административно-хозяйственного отдела", "phone": "+7 (910) 530-12-45",
               "reason": "Назначена ответственной за договор приказом № 14-к от 03.02.2026",
               "power_of_attorney": ["Приказ_14-к.pdf"]},
         messages=[(40, False, "Прошу предоставить мне роль администратора по договору."),
                   (38, True, "По договору уже назначен администратор — Волков Игорь Николаевич. У договора может "
                              "быть только один администратор; права руководителя, энергетика или бухгалтера вам "
                              "может выдать он.")],
         path=["in_progress", "rejected"]),
    dict(author="director@demo.example", contract="technostyle_heat", section="access_rights", state="granted",
         days=390, title="Предоставление роли «Администратор»",
         form={"full_name": "Волков Игорь Николаевич", "position": "Генеральный директор",
               "phone": "+7 (910) 530-12-41", "reason": "Руководитель организации, действует без доверенности",
               "power_of_attorney": ["Выписка_ЕГРЮЛ.pdf"]},
         messages=[(390, False, "Прошу назначить меня администратором договора теплоснабжения."),
                   (389, True, "Полномочия подтверждены выпиской из ЕГРЮЛ, роль «Администратор» предоставлена.")],
         path=["in_progress", "granted"]),
    dict(author="director@demo.example", contract="technostyle_heat", section="data_change", state="in_progress",
         days=5, title="Изменение банковских реквизитов",
         form={"subject": "Банковские реквизиты", "new_value": "р/с 40702810963000009981 в Тверском отделении "
                                                                "№ 8607 ПАО Сбербанк, БИК 042809679",
               "contact_name": "Волков Игорь Николаевич", "contact_phone": "+7 (910) 530-12-41"},
         messages=[(5, False, "Просим внести в договор новые банковские реквизиты с 1-го числа следующего месяца."),
                   (4, True, "Здравствуйте! Обращение принято в работу. Пришлите, пожалуйста, письмо на бланке "
                             "организации за подписью руководителя."),
                   (4, True, "Сверить реквизиты с выпиской из ЕГРЮЛ.", dict(internal=True)),
                   (3, False, "Письмо направили почтой и продублировали скан во вложении.")],
         path=["in_progress"], staff_unread=True),
    dict(author="engineer@demo.example", contract="shared", object=1, section="readings_question",
         state="waiting_customer", days=6, title="Не принимаются показания по прибору учёта",
         form={"meter_serial": "011355089412367", "period": "Октябрь 2026",
               "question": "При передаче показаний за прошлый месяц форма выдаёт ошибку.", "callback": True},
         messages=[(6, False, "Не получается передать показания по цеху № 1: после ввода ничего не сохраняется."),
                   (2, True, "Пришлите, пожалуйста, фото табло счётчика со всеми показаниями (день и ночь не "
                             "требуются — счётчик однотарифный) и время съёмки.")],
         path=["in_progress", "waiting_customer"], customer_unread=True),
    dict(author="accountant@demo.example", contract="shared", section="data_change", state="new", days=0.4,
         title="Изменение почтового адреса для корреспонденции",
         form={"subject": "Почтовый адрес", "new_value": "170001, г. Тверь, Петербургское шоссе, д. 45, офис 210",
               "effective_from": None, "contact_name": "Егорова Наталья Сергеевна",
               "contact_phone": "+7 (910) 530-12-44"},
         messages=[(0.4, False, "Просим направлять оригиналы документов по новому почтовому адресу.")],
         path=[], staff_unread=True),
    dict(author="other@demo.example", contract="manufaktura", object=0, section="readings_question",
         state="in_progress", days=8, title="Расхождение интегральных и интервальных показаний",
         form={"question": "Расход по почасовому профилю меньше интегрального на 2 %. Откуда разница?"},
         messages=[(8, False, "Расход по почасовому профилю за прошлый месяц меньше интегрального на 2 %."),
                   (7, True, "Проверяем данные АИИС КУЭ, ответим после сверки с сетевой организацией.")],
         path=["in_progress"], sla_breached=True),
    dict(author="household@demo.example", contract="household", section="readings_question", state="resolved",
         days=24, title="Перерасчёт за ошибочно переданные показания",
         form={"question": "Ошиблась при вводе показаний ночной зоны, прошу сделать перерасчёт.",
               "period": "Сентябрь 2026"},
         messages=[(24, False, "Ошиблась при вводе показаний ночной зоны, прошу сделать перерасчёт."),
                   (21, True, "Перерасчёт выполнен, направляем акт. Подтвердите, пожалуйста, согласие с ним.",
                    dict(needs_decision=True, decision="accepted", decision_comment="Согласна, спасибо.")),
                   (20, False, "Спасибо!")],
         path=["in_progress", "resolved"], rating=5, rating_comment="Быстро и понятно, спасибо."),
    dict(author="director@demo.example", contract="shared", section="readings_question", state="resolved", days=62,
         title="Порядок передачи почасовых показаний",
         form={"question": "В какие сроки нужно передавать почасовой профиль по III ценовой категории?"},
         messages=[(62, False, "В какие сроки нужно передавать почасовой профиль?"),
                   (61, True, "Почасовые показания за месяц передаются вместе с интегральными — до 21-го числа "
                              "следующего месяца, файлом .xlsx по каждому прибору учёта.")],
         path=["in_progress", "resolved"]),
    dict(author="accountant@demo.example", contract="shared", section="invoice_question", state="closed", days=15,
         title="Сумма счёта больше обычной",
         form={"invoice_number": "69/10-2026", "amount": "1116218.00",
               "question": "Сумма счёта за октябрь почти вдвое больше сентябрьской. Просим пояснить начисление."},
         messages=[(15, False, "Сумма счёта за октябрь почти вдвое больше сентябрьской. Просим пояснить."),
                   (15, False, "Разобрались сами: в счёт вошла корректировка за август. Вопрос снят.")],
         path=["closed"], actor="author"),
    dict(author="engineer@demo.example", contract="shared", section="support_portal", state="rejected", days=11,
         title="Не открывается график показаний",
         form={"contact_name": "Морозов Павел Викторович", "phone": "+7 (910) 530-12-47",
               "email": "engineer@demo.example", "text": "Дублирует обращение о передаче показаний."},
         messages=[(11, False, "График показаний на странице прибора учёта не отображается."),
                   (10, True, "Вопрос решается в вашем обращении о передаче показаний, это обращение закрываем "
                              "как дубль.")],
         path=["rejected"]),
    dict(author="director@demo.example", contract="shared", section="object_inclusion", state="in_progress",
         days=3, title="Включение объекта в действующий договор", form=ENERGY_CONTRACT_FORM,
         files={"object_documents": ["Выписка_ЕГРН_склад_3.pdf", "Акт_ТП_1147.pdf"]},
         messages=[(3, False, "Просим включить в договор склад готовой продукции № 3."),
                   (2, True, "Заявка принята. Направили запрос в сетевую организацию для проверки акта "
                             "технологического присоединения.")],
         path=["in_progress"]),
    dict(author="other@demo.example", contract="manufaktura", section="access_rights", state="new", days=0.1,
         title="Предоставление роли «Администратор»", unassigned=True,
         form={"full_name": "Зайцев Роман Олегович", "position": "Заместитель директора по производству",
               "phone": "+7 (920) 171-45-12", "reason": "Доверенность № 27 от генерального директора",
               "power_of_attorney": ["Доверенность_27.pdf"]},
         messages=[(0.1, False, "Прошу назначить меня администратором договора, доверенность приложена.")],
         path=[], staff_unread=True),
]


def _section(code: str) -> AppealTopic:
    return db.session.scalar(select(AppealTopic).where(AppealTopic.code == code))


def _top(section: AppealTopic) -> AppealTopic:
    node = section
    while node.parent is not None:
        node = node.parent
    return node


def _attach(owner: dict, field_name: str, names: list[str], author_id: int, at) -> list[AppealAttachment]:
    storage = get_storage()
    return [AppealAttachment(field_name=field_name, filename=name, content_type="application/pdf", size=len(_PDF),
                             storage_key=storage.put("appeals", _PDF, ".pdf"), uploaded_by_id=author_id,
                             created_at=at, **owner) for name in names]


def seed_appeals(builder) -> None:
    """Canned replies, the demo's appeals (every state of the default workflow) and two drafts."""
    db.session.add_all(CannedReply(title=title, body=body, section=_section(code) if code else None, active=True)
                       for title, body, code in CANNED_REPLIES)
    curator = builder.users["curator"]
    # The demo curator works in their own branches only (the desk scopes by them): appeals of other
    # branches wait for their branch's curators, unassigned.
    curated = set(db.session.scalars(select(Curator.branch_id).where(Curator.user_id == curator.id)))
    sequence = max(db.session.scalar(select(func.max(Appeal.sequence))) or 0, 60)
    for spec in APPEALS:
        sequence += 1
        author = builder.users[spec["author"]]
        contract = builder.contracts[spec["contract"]]
        section = _section(spec["section"])
        workflow, form = current_workflow(section), current_form(section)
        states = {state.code: state for state in workflow.states}
        created = builder.days_ago(spec["days"])
        obj = builder.objects[spec["contract"]][spec["object"]] if "object" in spec else None
        letters = PERSON_LETTERS[contract.counterparty.person_type]
        form_data = {key: value for key, value in spec["form"].items() if value is not None}
        files = spec.get("files") or {k: v for k, v in form_data.items() if isinstance(v, list)}
        form_data.update(files)
        appeal = Appeal(
            number=f"{sequence:07d}-{created:%y}-{contract.branch.code}-{letters}", sequence=sequence,
            person_type=letters, author=author, contract=contract, energy_object=obj, branch=contract.branch,
            topic=_top(section), section=section, form=form, workflow=workflow,
            state_code=spec["state"], channel="portal", title=spec["title"], form_data=form_data,
            created_at=created,
            assignee=None if spec.get("unassigned") or contract.branch_id not in curated else curator,
            customer_unread=spec.get("customer_unread", False), staff_unread=spec.get("staff_unread", False))
        initial = next(state.code for state in workflow.states if state.is_initial)
        appeal.events.append(AppealEvent(actor_id=author.id, kind="created", to_state=initial, created_at=created))
        # Transitions spread up to an hour after the last message, so the timeline reads naturally.
        end = min(builder.now, max(builder.days_ago(m[0]) for m in spec["messages"]) + timedelta(hours=1))
        actor = author if spec.get("actor") == "author" else curator
        moment, previous = created, initial
        for step, target in enumerate(spec["path"]):
            moment = created + (end - created) * (step + 1) / len(spec["path"])
            if step == 0 and appeal.assignee is not None:
                appeal.events.append(AppealEvent(actor_id=curator.id, kind="assigned", created_at=moment,
                                                 detail={"from": None, "to": curator.id}))
            appeal.events.append(AppealEvent(actor_id=actor.id, kind="transition", from_state=previous,
                                             to_state=target, created_at=moment))
            previous = target
        appeal.state_entered_at = moment
        state = states[spec["state"]]
        appeal.sla_due_at = moment + timedelta(hours=state.sla_hours) if state.sla_hours else None
        if spec.get("sla_breached"):
            appeal.sla_due_at = builder.now - timedelta(days=2)
        if state.is_closing:
            appeal.closed_at = moment
        if spec.get("rating"):
            appeal.rating, appeal.rating_comment = spec["rating"], spec["rating_comment"]
            appeal.rated_at = moment + timedelta(hours=2)
        last, first_response = created, None
        for days, from_staff, body, *extra in spec["messages"]:
            at = builder.days_ago(days)
            appeal.messages.append(AppealMessage(author_id=curator.id if from_staff else author.id,
                                                 from_staff=from_staff, body=body, created_at=at,
                                                 **(extra[0] if extra else {})))
            if not (extra and extra[0].get("internal")):
                last = max(last, at)
                if from_staff and first_response is None:
                    first_response = at
        appeal.last_message_at, appeal.first_response_at = last, first_response
        db.session.add(appeal)
        db.session.flush()
        for field_name, names in files.items():
            db.session.add_all(_attach(dict(appeal_id=appeal.id), field_name, names, author.id, created))
    _drafts(builder)


def _drafts(builder) -> None:
    director = builder.users["director@demo.example"]
    data_change, conclusion = _section("data_change"), _section("contract_conclusion")
    saved = builder.days_ago(5)
    db.session.add(AppealDraft(
        author_id=director.id, contract=builder.contracts["technostyle_heat"], topic_id=_top(data_change).id,
        section_id=data_change.id, form_id=current_form(data_change).id, steps_completed=1,
        form_data={"subject": "Контактные лица", "new_value": "Ответственный за теплоснабжение — Морозов Павел "
                                                             "Викторович, +7 (910) 530-12-47"},
        created_at=saved, updated_at=saved, expires_at=saved + timedelta(days=30)))
    # Four of the eight steps of a new contract done: "Шаг 5 из 8" when resumed.
    done = ("org_full_name", "org_short_name", "not_budget", "inn", "okpo", "ogrn", "kpp", "head_position",
            "head_name", "legal_address", "postal_address", "postal_same", "branch", "bank_bik", "bank_name",
            "bank_account", "bank_corr_account", "delivery", "edo_operator", "edo_code", "region")
    saved = builder.days_ago(2)
    legal = _section("contract_conclusion_legal")
    db.session.add(AppealDraft(
        author_id=director.id, topic_id=_top(conclusion).id, section_id=conclusion.id, subsection_id=legal.id,
        form_id=current_form(conclusion).id, steps_completed=4,
        form_data={**{key: ENERGY_CONTRACT_FORM[key] for key in done}, "start_date": "2027-01-01"},
        created_at=saved, updated_at=saved, expires_at=saved + timedelta(days=30)))
