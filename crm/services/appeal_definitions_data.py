"""The appeal catalogue, forms and workflows a new installation starts with (B7), as plain data.

Texts are Russian, in the words of the seed user guides (004 §8, §13.2.1.3; 001 §11; 000 §3.9): they
are stored in the database as they are and admins edit them there, so they are not msgids.
`crm/services/appeal_definitions.py` writes them; nothing else reads this module.
"""
from __future__ import annotations


def F(name: str, label: str, field_type: str = "text", required: bool = False, **extra) -> dict:  # noqa: N802
    """One form field: name, label, type, required, plus options / regex / help_text / prefill."""
    return dict(name=name, label=label, field_type=field_type, required=required, **extra)


PHONE_RE, PHONE_HELP = r"\+?[0-9\s()-]{6,20}", "номер телефона, например +7 (4822) 33-45-10"
EMAIL_RE, EMAIL_HELP = r"[^@\s]+@[^@\s]+\.[^@\s]+", "адрес вида name@example.ru"
VOLTAGE_LEVELS = ["ВН", "СН-1", "СН-2", "НН"]

# code → (name, [(step title, [fields])])
FORMS: dict[str, tuple[str, list[tuple[str, list[dict]]]]] = {
    "tech_support": ("Техническая поддержка", [
        ("Контактные данные", [
            F("contact_name", "Контактное лицо", required=True, prefill="profile.full_name"),
            F("phone", "Телефон", regex=PHONE_RE, help_text=PHONE_HELP, prefill="profile.phone"),
            F("email", "E-mail для ответа", required=True, regex=EMAIL_RE, help_text=EMAIL_HELP,
              prefill="profile.email"),
        ]),
        ("Информация по обращению", [
            F("text", "Текст обращения", "long_text", True),
            F("files", "Файлы", "file", help_text="Снимки экрана или документы, не более 10 МБ каждый"),
        ]),
    ]),
    "access_rights": ("Запрос роли «Администратор»", [
        ("Информация по обращению", [
            F("full_name", "ФИО", required=True, prefill="profile.full_name"),
            F("position", "Должность", required=True, prefill="profile.position"),
            F("phone", "Контактный телефон", regex=PHONE_RE, help_text=PHONE_HELP, prefill="profile.phone"),
            F("reason", "Основание для предоставления роли", "long_text", True,
              help_text="Например: назначен ответственным за договор приказом № 14-к от 01.03.2026"),
            F("power_of_attorney", "Доверенность / приказ", "file", True,
              help_text="Скан доверенности на представление интересов организации или приказа о назначении"),
        ]),
    ]),
    "energy_supply_contract": ("Договор энергоснабжения", [
        ("Информация", [
            F("org_full_name", "Полное наименование организации", required=True,
              prefill="contract.counterparty.full_name"),
            F("org_short_name", "Краткое наименование организации", required=True,
              prefill="contract.counterparty.short_name"),
            F("not_budget", "Не является бюджетной организацией", "checkbox"),
            F("inn", "ИНН", required=True, regex=r"\d{10}|\d{12}", help_text="10 цифр для организации, 12 — для ИП",
              prefill="contract.counterparty.inn"),
            F("okpo", "ОКПО", regex=r"\d{8}|\d{10}", help_text="8 или 10 цифр", prefill="contract.counterparty.okpo"),
            F("ogrn", "ОГРН / ОГРНИП", required=True, regex=r"\d{13}|\d{15}", help_text="13 или 15 цифр",
              prefill="contract.counterparty.ogrn"),
            F("kpp", "КПП", regex=r"\d{9}", help_text="9 цифр", prefill="contract.counterparty.kpp"),
            F("head_position", "Должность руководителя"),
            F("head_name", "ФИО руководителя"),
            F("legal_address", "Адрес места нахождения", required=True,
              prefill="contract.counterparty.legal_address"),
            F("postal_address", "Почтовый адрес", prefill="contract.counterparty.postal_address"),
            F("postal_same", "Совпадает с местом нахождения", "checkbox"),
        ]),
        ("Отделение", [
            F("branch", "Выберите отделение", "select", True, options=[
                "Центральный филиал, г. Тверь, ул. Советская, д. 7",
                "Ржевский филиал, г. Ржев, ул. Ленина, д. 21",
                "Кимрский филиал, г. Кимры, ул. Кирова, д. 14",
            ]),
        ]),
        ("Банковские реквизиты", [
            F("bank_bik", "БИК банка", required=True, regex=r"\d{9}", help_text="9 цифр",
              prefill="contract.counterparty.bank_bik"),
            F("bank_name", "Наименование банка", required=True, prefill="contract.counterparty.bank_name"),
            F("bank_account", "Номер расчётного счёта", required=True, regex=r"\d{20}", help_text="20 цифр",
              prefill="contract.counterparty.bank_account"),
            F("bank_corr_account", "Корреспондентский счёт", regex=r"\d{20}", help_text="20 цифр",
              prefill="contract.counterparty.bank_corr_account"),
        ]),
        ("Оформление и доставка", [
            F("start_date", "Желаемая дата начала договора", "date", True),
            F("contract_date", "Дата договора", "date"),
            F("delivery", "Способ доставки финансовых документов", "select", True, options=[
                "Электронный документооборот", "Почтой России", "Лично в клиентском офисе", "На e-mail"]),
            F("edo_operator", "Оператор электронного документооборота",
              help_text="Заполните, если выбран электронный документооборот"),
            F("edo_code", "Код продавца (покупателя) в системе оператора ЭДО"),
            F("region", "Регион расположения энергообъекта", required=True),
        ]),
        ("Контактные данные", [
            F("contact_last_name", "Фамилия", required=True, prefill="profile.last_name"),
            F("contact_first_name", "Имя", required=True, prefill="profile.first_name"),
            F("contact_patronymic", "Отчество", prefill="profile.patronymic"),
            F("contact_position", "Должность", prefill="profile.position"),
            F("contact_phone", "Телефон", required=True, regex=PHONE_RE, help_text=PHONE_HELP,
              prefill="profile.phone"),
            F("contact_email", "E-mail", required=True, regex=EMAIL_RE, help_text=EMAIL_HELP,
              prefill="profile.email"),
        ]),
        ("Энергообъект", [
            F("object_name", "Наименование энергообъекта", required=True),
            F("object_address", "Адрес энергообъекта", required=True),
            F("object_purpose", "Назначение объекта", "select", options=[
                "Производственный", "Офисный", "Торговый", "Складской", "Жилой", "Прочее"]),
            F("object_documents", "Документы на объект", "file",
              help_text="Правоустанавливающие документы, акт технологического присоединения"),
        ]),
        ("Точка присоединения", [
            F("connection_name", "Наименование точки присоединения", required=True),
            F("max_power", "Величина максимальной мощности, кВт", "number", True),
            F("balance_boundary", "Место (точка) разграничения балансовой принадлежности электросетей",
              required=True),
            F("grid_company", "Сетевая организация", required=True),
            F("voltage_level", "Уровень напряжения", "select", True, options=VOLTAGE_LEVELS),
            F("price_category", "Ценовая категория", "select", True,
              options=["I", "II", "III", "IV", "V", "VI"]),
            F("contract_type", "Вид договора", "select", True,
              options=["С услугами по передаче", "Без услуг по передаче"]),
            F("tariff_zones", "Группа тарифных зон", "select", True,
              options=["Без тарифных зон", "Две зоны суток", "Три зоны суток"]),
        ]),
        ("Точка учёта и прибор учёта", [
            F("metering_point_name", "Наименование ИК", required=True),
            F("losses_percent", "Потери, %", "number"),
            F("metering_voltage", "Уровень напряжения точки учёта", "select", options=VOLTAGE_LEVELS),
            F("meter_serial", "Заводской номер прибора учёта", required=True, regex=r"[0-9A-Za-zА-Яа-я-]{3,32}",
              help_text="цифры и буквы без пробелов"),
            F("meter_model", "Номинал (тип прибора учёта)", required=True),
            F("meter_made_on", "Год выпуска", "date"),
            F("digits_integer", "Разрядность. Целая часть", "number", True),
            F("digits_fraction", "Разрядность. Дробная часть", "number"),
            F("initial_reading", "Начальные показания", "number", True),
            F("verified_on", "Дата поверки", "date", True),
            F("meter_owner", "Балансовая принадлежность", "select", True,
              options=["Потребитель", "Сетевая организация"]),
        ]),
    ]),
    "readings_question": ("Вопрос по показаниям", [
        ("Вопрос", [
            F("meter_serial", "Заводской номер прибора учёта"),
            F("period", "Расчётный период", help_text="Например, «Октябрь 2026»"),
            F("question", "Суть вопроса", "long_text", True),
            F("photo", "Фото показаний", "file"),
            F("callback", "Перезвоните мне", "checkbox"),
        ]),
    ]),
    "invoice_question": ("Вопрос по счёту", [
        ("Вопрос", [
            F("invoice_number", "Номер счёта"),
            F("invoice_date", "Дата счёта", "date"),
            F("amount", "Сумма, ₽", "number"),
            F("question", "Суть вопроса", "long_text", True),
            F("attachment", "Документ", "file"),
        ]),
    ]),
    "data_change": ("Изменение данных абонента", [
        ("Что изменить", [
            F("subject", "Изменяемые данные", "select", True, options=[
                "ФИО абонента", "Адрес", "Количество проживающих", "Телефон", "Адрес электронной почты",
                "Банковские реквизиты", "Почтовый адрес", "Контактные лица"]),
            F("new_value", "Новые значения", "long_text", True),
            F("effective_from", "Дата вступления в силу", "date"),
            F("document", "Подтверждающий документ", "file",
              help_text="Письмо на бланке организации, выписка или свидетельство"),
        ]),
        ("Контактные данные", [
            F("contact_name", "Контактное лицо", required=True, prefill="profile.full_name"),
            F("contact_phone", "Телефон", required=True, regex=PHONE_RE, help_text=PHONE_HELP,
              prefill="profile.phone"),
        ]),
    ]),
}


def S(code: str, staff: str, customer: str, sla: int | None = None, **flags) -> dict:  # noqa: N802
    """One workflow state: code, staff and customer labels, SLA hours, flags."""
    return dict(code=code, staff_label=staff, customer_label=customer, sla_hours=sla, **flags)


# code → (name, states, [(from, to, label, allowed role)]); role "customer" = the author in the portal.
WORKFLOWS: dict[str, tuple[str, list[dict], list[tuple[str, str, str, str]]]] = {
    "default": ("Обращение (стандартный порядок)", [
        S("new", "Новое", "Принято", 24, is_initial=True),
        S("in_progress", "В работе", "Решается", 72),
        S("waiting_customer", "Ожидает ответа клиента", "Ожидает вашего ответа", sla_paused=True),
        S("resolved", "Решено", "Решено", is_closing=True, dialogue_allowed=False),
        S("rejected", "Отклонено", "Отклонено", is_closing=True, dialogue_allowed=False),
        S("closed", "Закрыто", "Закрыто", is_closing=True, dialogue_allowed=False),
    ], [
        ("new", "in_progress", "Взять в работу", "Curator"),
        ("new", "rejected", "Отклонить", "Curator"),
        ("in_progress", "waiting_customer", "Запросить информацию у клиента", "Curator"),
        ("waiting_customer", "in_progress", "Вернуть в работу", "Curator"),
        ("in_progress", "resolved", "Решено", "Curator"),
        ("waiting_customer", "resolved", "Решено", "Curator"),
        ("in_progress", "rejected", "Отклонить", "Curator"),
        ("waiting_customer", "closed", "Закрыть без ответа клиента", "Curator"),
        ("resolved", "in_progress", "Вернуть в работу", "Curator"),
        ("new", "closed", "Отозвать обращение", "customer"),
        ("in_progress", "closed", "Отозвать обращение", "customer"),
    ]),
    "access_rights": ("Запрос роли «Администратор»", [
        S("new", "Новый запрос", "Принято", 24, is_initial=True),
        S("in_progress", "Проверка полномочий", "На рассмотрении", 48),
        S("waiting_customer", "Запрошены документы", "Ожидает документов", sla_paused=True),
        S("granted", "Роль предоставлена", "Роль «Администратор» предоставлена", is_closing=True,
          dialogue_allowed=False),
        S("rejected", "Отказано", "Отказано", is_closing=True, dialogue_allowed=False),
        S("closed", "Отозвано клиентом", "Отозвано", is_closing=True, dialogue_allowed=False),
    ], [
        ("new", "in_progress", "Взять в работу", "Curator"),
        ("new", "granted", "Предоставить роль", "Curator"),
        ("in_progress", "granted", "Предоставить роль", "Curator"),
        ("in_progress", "waiting_customer", "Запросить документы", "Curator"),
        ("waiting_customer", "in_progress", "Документы получены", "Curator"),
        ("in_progress", "rejected", "Отказать", "Curator"),
        ("waiting_customer", "rejected", "Отказать", "Curator"),
        ("new", "closed", "Отозвать запрос", "customer"),
        ("in_progress", "closed", "Отозвать запрос", "customer"),
        ("waiting_customer", "closed", "Отозвать запрос", "customer"),
    ]),
}

# Catalogue: topic → sections (→ subsections). A subsection inherits its section's form and workflow.
TOPICS = [
    dict(code="lkk", name="Личный кабинет клиента", sections=[
        dict(code="access_rights", name="Права доступа", form="access_rights", workflow="access_rights",
             requires_contract=True),
        dict(code="data_change", name="Изменение данных абонента", form="data_change", requires_contract=True),
    ]),
    dict(code="tech_support", name="Техническая поддержка", sections=[
        dict(code="support_signin", name="Вход и регистрация в личном кабинете", form="tech_support"),
        dict(code="support_portal", name="Работа личного кабинета", form="tech_support"),
        dict(code="support_other", name="Другой вопрос", form="tech_support"),
    ]),
    dict(code="supply_contract", name="Договор энергоснабжения", sections=[
        dict(code="contract_conclusion", name="Заключение договора энергоснабжения", form="energy_supply_contract",
             subsections=[dict(code="contract_conclusion_legal", name="Юридическое лицо"),
                          dict(code="contract_conclusion_sole", name="Индивидуальный предприниматель")]),
        dict(code="object_inclusion", name="Включение объекта в действующий договор",
             form="energy_supply_contract", requires_contract=True),
    ]),
    dict(code="readings", name="Показания", sections=[
        dict(code="readings_question", name="Вопрос по показаниям", form="readings_question",
             requires_contract=True),
    ]),
    dict(code="billing", name="Счета и оплата", sections=[
        dict(code="invoice_question", name="Вопрос по счёту", form="invoice_question", requires_contract=True),
    ]),
]
