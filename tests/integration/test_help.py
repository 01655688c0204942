"""Help (SPEC C15, issue 7 items 7–8): FAQ search (case-insensitive in Cyrillic, on SQLite too), contacts of
the chosen contract only, help pages per language with the Russian fallback, "Ask a question" from an
anonymous visitor (e-mailed to the contact centre) and its throttle (429), staff answering by e-mail,
and the getting-started tips hidden from the widget and restored in the profile."""
from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import delete, func, select

from crm.models import ContactQuestion, CrmUser, FaqGroup, FaqItem, HelpPage
from crm.models.outbox import EmailOutbox
from crm.services import help_content
from tests import factories as f


def _plain(response) -> str:
    text = html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).replace("\u00a0", " ")
    return re.sub(r"\s+", " ", text)


@pytest.fixture()
def faq(db):
    login = FaqGroup(name="Вход в кабинет", position=0)
    login.items = [FaqItem(question="Как сменить ПАРОЛЬ?", answer_markdown="Откройте **профиль**.", position=0),
                   FaqItem(question="Как добавить договор?", answer_markdown="Раздел «Договоры».", position=1)]
    readings = FaqGroup(name="Показания", position=1)
    readings.items = [FaqItem(question="Когда передавать?", answer_markdown="С 1-го по 21-е: Показания "
                                                                            "по всем зонам сразу.", position=0)]
    db.session.add_all([login, readings])
    db.session.commit()
    return {"login": login.id, "readings": readings.id}


def test_faq_search_matches_cyrillic_in_any_case_when_visitor_is_anonymous(app, faq):
    client = app.test_client()
    page = _plain(client.get("/portal/help/", query_string={"q": "пароль"}))
    assert "Как сменить ПАРОЛЬ?" in page and "Как добавить договор?" not in page and "Когда передавать?" not in page
    page = _plain(client.get("/portal/help/", query_string={"q": "ПОКАЗАНИЯ зонам"}))
    assert "Когда передавать?" in page and "Как сменить ПАРОЛЬ?" not in page
    assert "Ничего не найдено" in _plain(client.get("/portal/help/", query_string={"q": "тариф"}))


def test_faq_group_filter_shows_that_group_only_when_chosen(app, faq):
    page = _plain(app.test_client().get("/portal/help/", query_string={"group": faq["readings"]}))
    assert "Когда передавать?" in page and "Как добавить договор?" not in page


def test_faq_answer_is_rendered_markdown_when_shown(app, faq):
    body = app.test_client().get("/portal/help/").get_data(as_text=True)
    assert "<strong>профиль</strong>" in body and 'class="accordion' in body


def test_contacts_show_the_chosen_contract_only_when_one_is_chosen(app, db):
    north = f.branch(name="Северное отделение", head_name="Иванов Пётр Сергеевич", phone="+7 (4822) 11-11-11",
                     address="г. Тверь, ул. Северная, 1", working_hours="пн–пт 8:00–17:00")
    south = f.branch(name="Южное отделение", head_name="Сидорова Мария Ивановна", phone="+7 (4822) 22-22-22")
    first, second = f.contract(branch_=north), f.contract(branch_=south)
    first.curators.append(f.curator(north, full_name="Бойкова Татьяна Геннадьевна", email="boikova@energo.example"))
    second.curators.append(f.curator(south, full_name="Орлов Олег Олегович", email="orlov@energo.example"))
    user = f.user("two@help.example")
    f.grant(user, first, "manager")
    f.grant(user, second, "accountant")
    foreign = f.contract(branch_=f.branch(head_name="Чужой Руководитель"))
    db.session.commit()
    client = app.test_client()
    f.login(client, "two@help.example")
    page = _plain(client.get("/portal/help/contacts", query_string={"contract": first.id}))
    assert "Иванов Пётр Сергеевич" in page and "Бойкова Татьяна Геннадьевна" in page and "пн–пт 8:00–17:00" in page
    assert "boikova@energo.example" in page and "Сидорова Мария Ивановна" not in page and "Орлов" not in page
    both = _plain(client.get("/portal/help/contacts"))
    assert "Иванов Пётр Сергеевич" in both and "Сидорова Мария Ивановна" in both
    leak = _plain(client.get("/portal/help/contacts", query_string={"contract": foreign.id}))
    assert "Чужой Руководитель" not in leak


def test_help_page_is_shown_in_english_when_chosen_and_in_russian_when_missing(app, db):
    assert help_content.ensure_help_pages() == 6
    assert help_content.ensure_help_pages() == 0
    db.session.execute(delete(HelpPage).where(HelpPage.slug == "agreement", HelpPage.locale == "en"))
    db.session.commit()
    client = app.test_client()
    assert "Способы оплаты" in _plain(client.get("/portal/help/pages/ways-to-pay"))
    client.get("/portal/lang/en")
    english = _plain(client.get("/portal/help/pages/ways-to-pay"))
    assert "Ways to pay" in english and "By card in the portal" in english
    assert "Пользовательское соглашение" in _plain(client.get("/portal/help/pages/agreement"))
    assert client.get("/portal/help/pages/secret").status_code == 404


def test_edited_help_page_is_kept_when_defaults_are_ensured_again(app, db):
    help_content.ensure_help_pages()
    page = db.session.scalar(select(HelpPage).where(HelpPage.slug == "guide", HelpPage.locale == "ru"))
    page.body_markdown = "Своя инструкция <script>alert(1)</script>"
    db.session.commit()
    help_content.ensure_help_pages()
    body = app.test_client().get("/portal/help/pages/guide").get_data(as_text=True)
    assert "Своя инструкция" in body and "<script>alert(1)</script>" not in body


def _ask(client, **overrides):
    data = {"name": "Ольга Смирнова", "email": "olga@visitor.example", "phone": "",
            "text": "Как заключить договор энергоснабжения для нового магазина?"}
    data.update(overrides)
    return client.post("/portal/help/ask", data=data)


def test_anonymous_question_is_kept_and_mailed_to_the_contact_centre_when_valid(app, db):
    client = app.test_client()
    assert 'href="/portal/help/ask"' in client.get("/portal/login").get_data(as_text=True)
    response = _ask(client)
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/login")
    question = db.session.scalar(select(ContactQuestion))
    assert question.user_id is None and question.email == "olga@visitor.example" and question.status == "new"
    mail = db.session.scalar(select(EmailOutbox))
    assert mail.to_address == help_content.DEFAULT_CONTACT_CENTRE and "Как заключить договор" in mail.body_text


def test_question_is_refused_with_every_problem_and_nothing_saved_when_fields_are_bad(app, db):
    response = _ask(app.test_client(), name="", email="not-an-email", phone="123", text="?")
    assert response.status_code == 400
    page = _plain(response)
    for message in ("Укажите ваше имя.", "Введите корректный", "Введите российский номер телефона",
                    "Напишите вопрос (не менее 10 символов)."):
        assert message in page
    assert db.session.scalar(select(func.count(ContactQuestion.id))) == 0


def test_question_goes_to_the_branch_when_a_customer_chooses_a_contract(app, db):
    contract = f.contract(branch_=f.branch(email="north@energo.example"))
    user = f.user("asker@help.example", first_name="Ольга", last_name="Смирнова")
    f.grant(user, contract, "manager")
    db.session.commit()
    client = app.test_client()
    f.login(client, "asker@help.example")
    form = client.get("/portal/help/ask").get_data(as_text=True)
    assert 'value="asker@help.example"' in form
    _ask(client, email="asker@help.example", contract_id=str(contract.id))
    assert db.session.scalar(select(EmailOutbox.to_address)) == "north@energo.example"


@pytest.fixture()
def throttled(app):
    saved = app.config["RATELIMIT_ENABLED"], app.config.get("CRM_THROTTLE_LIMITS")
    app.config["RATELIMIT_ENABLED"] = True
    app.config["CRM_THROTTLE_LIMITS"] = {"question": ("2 per hour", "3 per hour")}
    app.extensions.pop("crm_throttle", None)
    yield app
    app.config["RATELIMIT_ENABLED"] = saved[0]
    if saved[1] is None:
        app.config.pop("CRM_THROTTLE_LIMITS", None)
    else:
        app.config["CRM_THROTTLE_LIMITS"] = saved[1]
    app.extensions.pop("crm_throttle", None)


def test_questions_are_throttled_with_429_when_one_address_asks_too_often(throttled, db):
    client = throttled.test_client()
    assert _ask(client).status_code == 302
    assert _ask(client).status_code == 302
    refused = _ask(client)
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert "Слишком много попыток" in _plain(refused)
    other_address = _ask(client, email="someone@else.example")   # the client address is over its limit too
    assert other_address.status_code == 429
    assert db.session.scalar(select(func.count(ContactQuestion.id))) == 2


def test_staff_answer_is_mailed_to_the_asker_when_curator_answers(app, db):
    _ask(app.test_client())
    question_id = db.session.scalar(select(ContactQuestion.id))
    f.user("curator-help@energo.example", username="curator-help", roles=("Curator",))
    db.session.commit()
    staff = app.test_client()
    assert f.staff_login(staff, "curator-help").status_code == 302
    assert "Как заключить договор" in _plain(staff.get(f"/admin/content/questions/show/{question_id}"))
    staff.post(f"/admin/content/questions/answer/{question_id}",
               data={"decision": "answer", "answer": "Подайте заявку в разделе «Обращения»."})
    db.session.expire_all()
    question = db.session.get(ContactQuestion, question_id)
    assert question.status == "answered" and question.handled_at is not None
    answer_mail = db.session.scalars(select(EmailOutbox).order_by(EmailOutbox.id.desc())).first()
    assert answer_mail.to_address == "olga@visitor.example" and "Подайте заявку" in answer_mail.body_text


def test_tips_are_hidden_from_the_widget_and_restored_in_the_profile_when_user_asks(app, db):
    user = f.user("newbie@help.example")
    f.grant(user, f.contract(), "manager")
    db.session.commit()
    client = app.test_client()
    f.login(client, "newbie@help.example")
    home = client.get("/portal/", follow_redirects=True)
    assert 'id="tips-widget"' in home.get_data(as_text=True) and "Помощь по кабинету" in _plain(home)
    assert 'data-tip="readings"' in home.get_data(as_text=True)
    client.post("/portal/help/tips/hide", data={"next": "/portal/"})
    db.session.expire_all()
    assert db.session.get(CrmUser, user.id).tips_dismissed is True
    assert 'id="tips-widget"' not in client.get("/portal/", follow_redirects=True).get_data(as_text=True)
    assert "Снова показывать подсказки" in _plain(client.get("/portal/profile/"))
    client.post("/portal/help/tips/show")
    db.session.expire_all()
    assert db.session.get(CrmUser, user.id).tips_dismissed is False
    assert 'id="tips-widget"' in client.get("/portal/", follow_redirects=True).get_data(as_text=True)


def test_tips_widget_offers_only_sections_the_role_may_open_when_user_is_an_accountant(app, db):
    user = f.user("accountant@help.example")
    f.grant(user, f.contract(), "accountant")
    db.session.commit()
    client = app.test_client()
    f.login(client, "accountant@help.example")
    body = client.get("/portal/", follow_redirects=True).get_data(as_text=True)
    assert 'data-tip="payments"' in body and 'data-tip="readings"' not in body

