"""Default texts of the help pages (C15), in Russian and English; staff edit them in the back office.

`ensure_help_pages()` (crm/services/help_content.py) adds each missing (slug, locale) once and never
overwrites an edited page. The ways-to-pay text follows seed 001 §13: one subsection per way.
"""
from __future__ import annotations

GUIDE_RU = """\
Личный кабинет — это договоры, объекты и приборы учёта, показания, расчёты, документы, оплата и обращения
в одном месте.

## С чего начать

1. **Договоры.** В разделе «Договоры» выберите договор в переключателе в шапке страницы — все разделы
   покажут данные выбранного договора. Чтобы добавить договор, нажмите «Добавить договор».
2. **Показания.** В разделе «Передать показания» введите показания по каждому прибору учёта или загрузите
   заполненный шаблон Excel. Показания принимаются в окно приёма, указанное на странице.
3. **Расчёты и документы.** «Взаиморасчёты» показывают задолженность или переплату, «Документы» — счета,
   счета-фактуры и акты, которые можно скачать или отправить на e-mail.
4. **Оплата.** Кнопка «Оплатить» открывает оплату задолженности, отдельного документа или аванса картой.
5. **Обращения.** Вопросы и заявки отправляйте через раздел «Обращения»: ответ придёт туда же и на e-mail.
6. **Профиль.** Укажите телефон, подтвердите e-mail и настройте уведомления в профиле.

## Роли по договору

Администратор договора назначает роли другим пользователям: менеджер, энергетик, бухгалтер.
От роли зависит, какие разделы доступны.

## Помощь

Ответы на частые вопросы — в разделе «Помощь», там же контакты вашего отделения и куратора договора.
Если ответа нет, нажмите «Задать вопрос».
"""

GUIDE_EN = """\
The customer portal brings contracts, objects and meters, readings, settlements, documents, payments and
appeals together.

## Getting started

1. **Contracts.** Choose a contract in the selector in the page header: every section then shows that
   contract. To add a contract, press "Add a contract".
2. **Readings.** In "Submit readings" enter a value per meter or upload the filled Excel template.
   Readings are accepted during the window shown on the page.
3. **Settlements and documents.** "Settlements" shows the debt or overpayment, "Documents" the bills,
   invoices and acts to download or send by e-mail.
4. **Payments.** "Pay" opens a card payment of the debt, of one document or an advance.
5. **Appeals.** Send questions and requests in "Appeals": the answer arrives there and by e-mail.
6. **Profile.** Add your phone number, confirm your e-mail and choose your notifications in the profile.

## Roles on a contract

The contract's administrator gives other users roles: manager, power engineer, accountant. The role
decides which sections are available.

## Help

Frequently asked questions are in "Help", with the contacts of your branch and your contract's curator.
If there is no answer, press "Ask a question".
"""

AGREEMENT_RU = """\
## 1. Общие положения

1.1. Настоящее соглашение определяет условия использования личного кабинета потребителя (далее — ЛК).

1.2. Регистрируясь в ЛК, пользователь подтверждает, что ознакомился с соглашением и принимает его условия.

## 2. Учётная запись

2.1. Пользователь обязуется не передавать пароль третьим лицам и несёт ответственность за действия,
совершённые с использованием его учётной записи.

2.2. Доступ к данным договора предоставляется в соответствии с ролью, назначенной администратором
договора или сотрудником энергосбытовой компании.

## 3. Персональные данные

3.1. Пользователь даёт согласие на обработку персональных данных, указанных при регистрации и в профиле,
в целях исполнения договора энергоснабжения в соответствии с Федеральным законом № 152-ФЗ.

## 4. Юридическая значимость

4.1. Показания, переданные через ЛК, принимаются к расчёту наравне с переданными иными способами.

4.2. Информация об услугах носит справочный характер и не является публичной офертой.
"""

AGREEMENT_EN = """\
## 1. General

1.1. This agreement sets the terms of use of the customer portal (the portal).

1.2. By signing up, the user confirms having read the agreement and accepts its terms.

## 2. Account

2.1. The user keeps the password secret and is responsible for what is done with the account.

2.2. Access to a contract's data follows the role given by the contract's administrator or by the
energy supply company's staff.

## 3. Personal data

3.1. The user agrees to the processing of the personal data given at sign-up and in the profile for
the performance of the supply contract, as Federal Law No. 152-FZ provides.

## 4. Legal effect

4.1. Readings submitted in the portal are billed like readings submitted any other way.

4.2. Information about services is for reference only and is not a public offer.
"""

WAYS_TO_PAY_RU = """\
Оплатить электроэнергию и услуги можно любым удобным способом. Комиссия при оплате в личном кабинете
не взимается.

## Банковской картой в личном кабинете

Откройте «Взаиморасчёты» или «Документы» и нажмите «Оплатить»: можно оплатить всю задолженность,
отдельный документ или внести аванс. Принимаются карты «Мир», Visa, Mastercard. Квитанция придёт на e-mail.

## По реквизитам через банк

Оплатите счёт платёжным поручением по реквизитам, указанным в счёте. В назначении платежа укажите
номер договора и номер счёта — так платёж будет разнесён быстрее.

## В отделениях банков-партнёров и почты

Оплата по квитанции наличными или картой в отделениях банков-партнёров и почтовых отделениях.
Платёж поступает на счёт в течение 1–3 рабочих дней.

## В клиентских офисах

В кассах клиентских офисов энергосбытовой компании — адреса и часы работы в разделе «Помощь → Контакты».

## Автоплатёж

Подключите автоплатёж в интернет-банке вашего банка: сумма по счёту будет списываться автоматически
в выбранный день.
"""

WAYS_TO_PAY_EN = """\
Pay for electricity and services whichever way suits you. Paying in the portal costs no commission.

## By card in the portal

Open "Settlements" or "Documents" and press "Pay": the whole debt, one document or an advance.
Mir, Visa and Mastercard are accepted. The receipt arrives by e-mail.

## By bank transfer

Pay the bill by payment order using the details printed on it. Put the contract number and the bill
number in the payment purpose so the payment is matched sooner.

## At partner banks and post offices

Pay a receipt in cash or by card at partner banks and post offices. The payment arrives in 1–3
working days.

## At customer offices

At the cash desks of the company's customer offices: addresses and hours are in "Help → Contacts".

## Automatic payment

Set up automatic payment in your bank's online banking: the bill's amount is paid on the day you choose.
"""

#: (slug, locale) → (title, body in Markdown)
DEFAULT_PAGES: dict[tuple[str, str], tuple[str, str]] = {
    ("guide", "ru"): ("Инструкция пользователя", GUIDE_RU),
    ("guide", "en"): ("User guide", GUIDE_EN),
    ("agreement", "ru"): ("Пользовательское соглашение", AGREEMENT_RU),
    ("agreement", "en"): ("User agreement", AGREEMENT_EN),
    ("ways-to-pay", "ru"): ("Способы оплаты", WAYS_TO_PAY_RU),
    ("ways-to-pay", "en"): ("Ways to pay", WAYS_TO_PAY_EN),
}
