"""Appeal forms as data (issue 6 item 1): every field type cleaned, required, regex, prefill, all errors at once.

Forms are built in memory (no database): validation reads only the definition.
"""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from flask_babel import force_locale

from crm.models import FormDefinition, FormField, FormStep
from crm.services.appeal_forms import (
    PREFILL_PATHS,
    FormInvalidError,
    prefill,
    step_count,
    summary,
    validate_all,
    validate_step,
)


def _form() -> FormDefinition:
    form = FormDefinition(code="t", version=1, name="Тест", is_current=True)
    first = FormStep(position=1, title="Организация")
    first.fields = [
        FormField(position=1, name="name", label="Наименование", field_type="text", required=True,
                  prefill="contract.counterparty.short_name"),
        FormField(position=2, name="inn", label="ИНН", field_type="text", required=True, regex=r"\d{10}|\d{12}",
                  help_text="10 или 12 цифр", prefill="contract.counterparty.inn"),
        FormField(position=3, name="phone", label="Телефон", field_type="text", prefill="profile.phone"),
    ]
    second = FormStep(position=2, title="Объект")
    second.fields = [
        FormField(position=1, name="power", label="Мощность", field_type="number", required=True),
        FormField(position=2, name="start", label="Дата начала", field_type="date", required=True),
        FormField(position=3, name="level", label="Уровень напряжения", field_type="select", required=True,
                  options=["ВН", "СН-1", "НН"]),
        FormField(position=4, name="agree", label="Согласие", field_type="checkbox", required=True),
        FormField(position=5, name="extra", label="Примечание", field_type="checkbox"),
        FormField(position=6, name="text", label="Комментарий", field_type="long_text"),
        FormField(position=7, name="scan", label="Скан", field_type="file", required=True),
        FormField(position=8, name="code", label="Код", field_type="number", regex=r"\d{3}",
                  help_text="три цифры"),
    ]
    form.steps = [first, second]
    return form


@pytest.fixture()
def en(app):
    with app.test_request_context("/portal/"), force_locale("en"):
        yield


def test_each_type_is_cleaned_when_the_values_are_good(en):
    cleaned = validate_step(_form(), 1, {"power": " 1 500,25 ", "start": "01.12.2023", "level": "НН",
                                         "agree": "on", "text": "  много\nстрок  ", "code": "123"},
                            {"scan": [SimpleNamespace(filename="акт.pdf")]})
    assert cleaned == {"power": "1500.25", "start": "2023-12-01", "level": "НН", "agree": True, "extra": False,
                       "text": "много\nстрок", "scan": ["акт.pdf"], "code": "123"}


def test_iso_dates_and_dot_decimals_are_accepted_as_browsers_send_them(en):
    cleaned = validate_step(_form(), 1, {"power": "94.44", "start": "2024-01-31", "level": "ВН", "agree": "1"},
                            {"scan": ["kept-from-draft.pdf"]})
    assert (cleaned["power"], cleaned["start"], cleaned["code"], cleaned["text"]) == ("94.44", "2024-01-31",
                                                                                      None, "")


def test_every_problem_of_a_step_is_reported_at_once_when_several_fields_are_wrong(en):
    with pytest.raises(FormInvalidError) as caught:
        validate_step(_form(), 1, {"power": "сто", "start": "31.02.2024", "level": "Другое", "code": "12"})
    assert caught.value.errors == {
        "power": "“Мощность” must be a number, for example 150 or 94,44.",
        "start": "Enter “Дата начала” as dd.mm.yyyy, for example 01.12.2023.",
        "level": "Choose “Уровень напряжения” from the list.",
        "agree": "Tick “Согласие” to continue.",
        "scan": "Attach “Скан”.",
        "code": "“Код” has the wrong format: три цифры",
    }


def test_required_and_regex_with_help_text_are_enforced_when_text_is_missing_or_malformed(en):
    with pytest.raises(FormInvalidError) as caught:
        validate_step(_form(), 0, {"name": "   ", "inn": "12345"})
    assert caught.value.errors == {"name": "Fill in “Наименование”.",
                                   "inn": "“ИНН” has the wrong format: 10 или 12 цифр"}
    # The regex must match the whole value, not a part of it.
    with pytest.raises(FormInvalidError) as caught:
        validate_step(_form(), 0, {"name": "ООО «Ромашка»", "inn": "7701234567x"})
    assert set(caught.value.errors) == {"inn"}


def test_length_limits_refuse_when_text_is_too_long(en):
    with pytest.raises(FormInvalidError) as caught:
        validate_step(_form(), 0, {"name": "я" * 501, "inn": "7701234567"})
    assert caught.value.errors == {"name": "“Наименование” must be at most 500 characters."}
    with pytest.raises(FormInvalidError):
        validate_step(_form(), 1, {"power": "1", "start": "2024-01-01", "level": "НН", "agree": "on",
                                   "text": "я" * 5001}, {"scan": ["a.pdf"]})


def test_validate_all_collects_problems_of_every_step_when_the_whole_form_is_sent(en):
    with pytest.raises(FormInvalidError) as caught:
        validate_all(_form(), {"name": "ООО «Ромашка»", "power": "1e3x"})
    assert set(caught.value.errors) == {"inn", "power", "start", "level", "agree", "scan"}


def test_validate_all_accepts_stored_draft_values_when_they_are_already_clean(en):
    data = {"name": "ООО «Ромашка»", "inn": "7701234567", "power": "150", "start": "2024-01-01", "level": "НН",
            "agree": True, "scan": ["a.pdf"]}
    assert validate_all(_form(), data)["agree"] is True


def test_a_step_out_of_range_is_refused(en):
    with pytest.raises(Exception, match="no step 3"):
        validate_step(_form(), 2, {})


def test_prefill_reads_only_allowed_paths_when_a_contract_is_given(en):
    form = _form()
    form.steps[0].fields.append(FormField(position=9, name="secret", label="x", field_type="text",
                                          prefill="profile.password"))
    user = SimpleNamespace(phone="+7 (910) 530-12-41", password="hash", full_name="Волков Игорь Николаевич")
    contract = SimpleNamespace(counterparty=SimpleNamespace(short_name="ООО «Техностиль»", inn="6950123456"))
    assert prefill(form, user, contract) == {"name": "ООО «Техностиль»", "inn": "6950123456",
                                             "phone": "+7 (910) 530-12-41"}
    assert prefill(form, user) == {"phone": "+7 (910) 530-12-41"}
    assert "profile.password" not in PREFILL_PATHS


def test_summary_shows_steps_with_display_values_when_data_is_stored(en):
    data = {"name": "ООО «Ромашка»", "power": "1500.25", "start": "2023-12-01", "agree": True, "extra": False,
            "scan": ["акт.pdf", "схема.png"]}
    assert summary(_form(), data) == [
        ("Организация", [("Наименование", "ООО «Ромашка»")]),
        ("Объект", [("Мощность", "1,500.25"), ("Дата начала", "01.12.2023"), ("Согласие", "Yes"),
                    ("Примечание", "No"), ("Скан", "акт.pdf, схема.png")]),
    ]
    assert step_count(_form()) == 2 and step_count(None) == 0


def test_messages_are_russian_when_the_locale_is_russian(app):
    with app.test_request_context("/portal/"), force_locale("ru"):
        with pytest.raises(FormInvalidError) as caught:
            validate_step(_form(), 0, {"inn": "1"})
    assert caught.value.errors["name"] == "Заполните поле «Наименование»."
