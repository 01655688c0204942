"""Editable system messages: defaults, edits, and the save-time checks (SPEC B7)."""
from __future__ import annotations

import pytest

from crm.models.workflow import EventTemplate
from crm.services import message_templates as mt
from crm.services.message_events import EVENTS, LOCALES

REQUIRED_EVENTS = {"signup.code", "binding.confirm", "contract.role_granted", "contract.role_removed",
                   "appeal.reply", "appeal.status_changed", "appeal.escalated", "readings.reminder",
                   "payment.receipt", "document.sent", "password.recovery"}
CASES = [pytest.param(event, locale, id=f"{event}-{locale}") for event in sorted(EVENTS) for locale in LOCALES]


def test_registry_offers_every_system_event_when_loaded():
    assert REQUIRED_EVENTS <= set(EVENTS)


@pytest.mark.parametrize(("event", "locale"), CASES)
def test_default_renders_with_its_sample_when_nothing_is_edited(db, event, locale):
    subject, body = mt.render_message(event, locale, EVENTS[event].sample)

    assert subject and "\n" not in subject and "{{" not in subject
    assert body.strip() and "{{" not in body and "{%" not in body
    mt.validate_template(event, *mt.default_source(event, locale))  # the shipped texts pass the editor's check


@pytest.mark.parametrize("event", sorted(EVENTS))
def test_default_uses_only_offered_variables_when_checked(event):
    for locale in LOCALES:
        for source in mt.default_source(event, locale):
            assert not mt._check_part("x", source, EVENTS[event])


def test_russian_default_of_signup_code_says_the_code_when_rendered(db):
    subject, body = mt.render_message("signup.code", "ru", {"code": "123456", "minutes": 15})

    assert subject == "Код подтверждения: 123456"
    assert "    123456\n" in body and "Код действует 15 минут." in body


def test_english_default_applies_when_the_recipient_reads_english(db):
    subject, _body = mt.render_message("signup.code", "en", {"code": "123456", "minutes": 15})

    assert subject == "Your confirmation code: 123456"


def test_unknown_locale_falls_back_to_the_default_language_when_rendered(db):
    subject, _body = mt.render_message("password.recovery", "de", EVENTS["password.recovery"].sample)

    assert subject == "Восстановление пароля"


def test_edited_row_wins_over_the_default_when_present(db):
    mt.save_template("signup.code", "ru", "Ваш код {{ code }}", "Код: {{ code }} ({{ minutes }} мин.)")

    subject, body = mt.render_message("signup.code", "ru", {"code": "777000", "minutes": 5})
    assert (subject, body) == ("Ваш код 777000", "Код: 777000 (5 мин.)\n")
    # the other language keeps its default
    assert mt.render_message("signup.code", "en", {"code": "1", "minutes": 5})[0] == "Your confirmation code: 1"


def test_reset_brings_the_default_back_when_an_edit_exists(db):
    mt.save_template("signup.code", "ru", "Ваш код {{ code }}", "Код: {{ code }}")

    assert mt.reset_template("signup.code", "ru") is True
    assert mt.render_message("signup.code", "ru", {"code": "1", "minutes": 15})[0] == "Код подтверждения: 1"
    assert db.session.query(EventTemplate).count() == 0
    assert mt.reset_template("signup.code", "ru") is False


def _problems(event, subject, body):
    with pytest.raises(mt.MessageTemplateError) as caught:
        mt.validate_template(event, subject, body)
    return caught.value.problems


def test_syntax_error_is_refused_with_its_line_when_saved(db):
    problems = _problems("signup.code", "Код {{ code }}", "Здравствуйте!\n\nКод: {{ code }\n")

    assert len(problems) == 1
    assert problems[0].startswith("Текст, строка 3: шаблон не удаётся разобрать")


def test_unknown_variable_is_refused_naming_what_is_offered_when_saved(db):
    problems = _problems("signup.code", "Код {{ code }}", "Пароль: {{ password }}")

    assert problems == ["Текст: неизвестная переменная «password». В этом сообщении доступны: code, minutes."]


def test_sandbox_escape_is_refused_when_saved(db):
    problems = _problems("signup.code", "Код {{ code }}", "{{ ''.__class__.__mro__ }}")

    assert "Текст: обращение к «__class__» запрещено." in problems
    assert "Текст: обращение к «__mro__» запрещено." in problems


def test_unsafe_call_is_refused_by_the_sandbox_when_rendered_on_the_sample(db):
    # No underscore in sight: the sandbox itself stops str.format from reaching attributes.
    problems = _problems("signup.code", "Код {{ code }}", "{{ '{0.__class__}'.format(code) }}")

    assert problems and problems[0].startswith("Текст: шаблон пытается выполнить небезопасную операцию")


def test_template_failing_on_the_sample_is_refused_when_saved(db):
    problems = _problems("readings.reminder", "{{ period }}", "{{ contracts[5].number }}")

    assert problems[0].startswith("Текст: шаблон не работает на примере данных")


def test_empty_subject_is_refused_and_nothing_is_stored_when_saved(db):
    with pytest.raises(mt.MessageTemplateError) as caught:
        mt.save_template("signup.code", "ru", "  ", "Код: {{ code }}")

    assert caught.value.problems == ["Укажите тему."]
    assert db.session.query(EventTemplate).count() == 0


def test_email_switch_is_kept_only_for_optional_events_when_saved(db):
    mt.save_template("contract.role_removed", "ru", "Роль снята", "Договор {{ contract_number }}", send_email=False)
    mt.save_template("signup.code", "ru", "Код {{ code }}", "Код {{ code }}", send_email=False)

    assert mt.wants_email("contract.role_removed", "ru") is False
    assert mt.wants_email("contract.role_removed", "en") is True
    assert mt.wants_email("signup.code", "ru") is True


def test_multiline_subject_is_joined_into_one_line_when_rendered(db):
    mt.save_template("signup.code", "ru", "Код\n{{ code }}", "Код {{ code }}")

    assert mt.render_message("signup.code", "ru", {"code": "9", "minutes": 1})[0] == "Код 9"


def test_huge_string_is_refused_instead_of_built_when_checked(db):
    problems = _problems("signup.code", "Код {{ code }}", "{{ code * 100000000 }}")

    assert problems and problems[0].startswith("Текст: шаблон пытается выполнить небезопасную операцию")


def test_default_goes_out_when_an_edit_fails_on_real_data(db):
    # Passes on the sample (one object) but not for a whole-contract grant (no objects).
    mt.save_template("contract.role_granted", "ru", "Роль {{ role }}", "Первый объект: {{ objects[0].code }}")
    context = {"role": "Менеджер", "contract_number": "1", "counterparty": "ООО «Ромашка»", "objects": [],
               "portal_url": ""}

    subject, body = mt.render_message("contract.role_granted", "ru", context)

    assert subject == "Договор 1: вам назначена роль Менеджер"
    assert "Вам назначена роль «Менеджер» по договору 1 (ООО «Ромашка»)." in body
