"""Back office «Настройки → Шаблоны сообщений» (SPEC B7): edit, preview, refusal, reset, and the
edited text being what customers receive."""
from __future__ import annotations

import itertools
import re

from sqlalchemy import select

from crm.models import AuditLog, EmailOutbox
from crm.models.workflow import EventTemplate
from tests import factories as f

_seq = itertools.count(1)
URL = "/admin/message-templates/"
EDIT = URL + "signup.code/ru"


def _staff(client, role: str = "Admin") -> None:
    username = f"tpl_{role.lower()}{next(_seq)}"
    f.user(f"{username}@energo.example", username=username, roles=(role,))
    from crm.extensions import db

    db.session.commit()
    assert f.staff_login(client, username).status_code == 302


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def _rows(db):
    db.session.expire_all()
    return db.session.scalars(select(EventTemplate)).all()


def test_list_shows_every_event_in_both_languages_as_default_when_nothing_is_edited(app, db, client):
    _staff(client)

    page = _text(client.get(URL))

    assert "Шаблоны сообщений" in page
    assert "Регистрация: код подтверждения e-mail" in page and "Квитанция об оплате" in page
    assert page.count("/admin/message-templates/signup.code/") == 2   # ru and en
    assert "Изменён" not in page


def test_edit_form_shows_the_default_text_and_the_offered_variables_when_opened(app, db, client):
    _staff(client)

    page = _text(client.get(EDIT))

    assert 'value="Код подтверждения: {{ code }}"' in page
    assert "{{ minutes }}" in page and "сколько минут действует код" in page
    assert "Сброс" not in page   # nothing to reset yet


def test_preview_renders_with_sample_data_and_saves_nothing_when_asked(app, db, client):
    _staff(client)

    response = client.post(EDIT, data={"subject": "Код {{ code }}", "body": "Ваш код: {{ code }}, {{ minutes }} мин.",
                                       "action": "preview"})

    assert response.status_code == 200
    page = _text(response)
    assert "Предпросмотр" in page and "Код 482913" in page and "Ваш код: 482913, 15 мин." in page
    assert _rows(db) == []


def test_broken_template_is_refused_with_its_message_and_nothing_saved_when_saved(app, db, client):
    _staff(client)

    response = client.post(EDIT, data={"subject": "Код {{ code }}", "body": "{{ ''.__class__.__mro__ }}\n{{ pin }}",
                                       "action": "save"})

    assert response.status_code == 400
    page = _text(response)
    assert "Шаблон не сохранён" in page
    assert "Текст: неизвестная переменная «pin». В этом сообщении доступны: code, minutes." in page
    assert "Текст: обращение к «__class__» запрещено." in page
    assert "{{ pin }}" in page, "the admin's text is kept in the form to be fixed"
    assert _rows(db) == []


def test_syntax_error_is_refused_with_its_line_when_saved(app, db, client):
    _staff(client)

    response = client.post(EDIT, data={"subject": "Код", "body": "Строка\n{% if code %}нет конца", "action": "save"})

    assert response.status_code == 400
    assert "Текст, строка 2: шаблон не удаётся разобрать" in _text(response)


def test_edited_signup_code_template_is_what_the_next_signup_email_says_when_saved(app, db, client):
    _staff(client)
    response = client.post(EDIT, data={"subject": "Ваш код для Энергосбыта: {{ code }}",
                                       "body": "Введите {{ code }} в течение {{ minutes }} минут.",
                                       "send_bell": "1", "action": "save"})
    assert response.status_code == 302
    [row] = _rows(db)
    assert (row.event, row.locale, row.send_email, row.send_bell) == ("signup.code", "ru", True, True)
    assert db.session.scalar(select(AuditLog.action).where(AuditLog.subject_type == "event_template")) \
        == "message_template.save"
    assert "Изменён" in _text(client.get(URL))

    customer = app.test_client()
    customer.post("/portal/signup", data={"email": "new.user@customer.example", "password": "Signup2026ok",
                                          "password_repeat": "Signup2026ok", "agreement": "y"})

    mail = db.session.scalars(select(EmailOutbox).where(EmailOutbox.to_address == "new.user@customer.example")).one()
    code = re.search(r"\d{6}", mail.subject).group(0)
    assert mail.subject == f"Ваш код для Энергосбыта: {code}"
    assert mail.body_text == f"Введите {code} в течение 15 минут.\n"


def test_reset_brings_back_the_default_when_posted(app, db, client):
    _staff(client)
    client.post(EDIT, data={"subject": "Код {{ code }}", "body": "Код {{ code }}", "action": "save"})
    assert "Сбросить" in _text(client.get(EDIT))

    response = client.post(EDIT + "/reset")

    assert response.status_code == 302
    assert _rows(db) == []
    assert 'value="Код подтверждения: {{ code }}"' in _text(client.get(EDIT))


def test_unknown_event_answers_404_when_opened(app, db, client):
    _staff(client)

    assert client.get(URL + "nothing.here/ru").status_code == 404
    assert client.get(URL + "signup.code/de").status_code == 404


def test_curator_is_refused_when_opening_or_saving_templates(app, db, client):
    _staff(client, "Curator")

    assert client.get(URL).status_code in (302, 403)
    response = client.post(EDIT, data={"subject": "x", "body": "y", "action": "save"})
    assert response.status_code in (302, 403)
    assert _rows(db) == []
