"""The appeals service on a real database: numbering, drafts, dialogue, decisions, rating, rules,
escalation and the customer's e-mails (issue 6 items 3, 4, 6, 7)."""
from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from crm import clock
from crm.models import (
    Appeal,
    AppealAttachment,
    AppealDraft,
    AppealEvent,
    AppealMessage,
    AssignmentRule,
    EmailOutbox,
    WorkflowTransition,
)
from crm.storage import StorageError, get_storage
from tests import factories
from workflows import appeals
from workflows.appeals import AppealError

T0 = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)
PDF = b"%PDF-1.7\n%%EOF\n"


def pdf(name: str = "скан.pdf") -> FileStorage:
    return FileStorage(stream=io.BytesIO(PDF), filename=name)


@pytest.fixture()
def world(db):
    clock.set_now(T0)
    factories.workflow_definition()
    factories.appeal_form()
    section = factories.appeal_section()
    branch = factories.branch(code="57")
    lead = factories.user("lead@energo.example", roles=("Curator",))
    branch.lead_user_id = lead.id
    contract = factories.contract(branch_=branch)
    obj, other_obj = factories.energy_object(contract), factories.energy_object(contract)
    customer = factories.user("customer@test.example")
    factories.grant(customer, contract, "manager")
    curator = factories.user("curator@energo.example", roles=("Curator",))
    db.session.commit()
    return {"section": section, "branch": branch, "lead": lead, "contract": contract, "object": obj,
            "other_object": other_obj, "customer": customer, "curator": curator}


def submit(world, **kw) -> Appeal:
    kw.setdefault("form_data", {"description": "Нет доступа к показаниям"})
    return appeals.submit_appeal(kw.pop("author", world["customer"]), section_id=world["section"].id,
                                 contract_id=kw.pop("contract_id", world["contract"].id), **kw)


def transition_id(appeal, label):
    from crm.extensions import db

    return db.session.scalars(select(WorkflowTransition.id).where(
        WorkflowTransition.workflow_id == appeal.workflow_id, WorkflowTransition.label == label)).one()


def close(world, appeal):
    appeals.transition(appeal, world["curator"], transition_id(appeal, "Take into work"))
    appeals.transition(appeal, world["curator"], transition_id(appeal, "Close"))


def count(db, model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def emails(db, to=None) -> list[EmailOutbox]:
    query = select(EmailOutbox).order_by(EmailOutbox.id)
    if to:
        query = query.where(EmailOutbox.to_address == to)
    return list(db.session.scalars(query))


# --- submitting ----------------------------------------------------------------------------------

def test_number_has_sequence_year_branch_and_letters_when_submitted(db, world):
    first = submit(world)
    second = submit(world, energy_object_id=world["object"].id)

    assert first.number == "0000001-26-57-Ю-Л" and second.number == "0000002-26-57-Ю-Л"
    assert (first.state_code, first.staff_unread, first.person_type) == ("new", True, "Ю-Л")
    assert first.sla_due_at == T0 + timedelta(hours=24)
    assert first.form_data == {"description": "Нет доступа к показаниям", "document": [], "phone": ""}
    assert [e.kind for e in first.events] == ["created"]
    assert first.messages == []


def test_letters_follow_the_customer_kind_and_no_contract_gives_branch_00_when_submitted(db, world):
    sole = factories.contract(counterparty_=factories.counterparty(person_type="sole_proprietor"),
                              branch_=world["branch"])
    factories.grant(world["customer"], sole, "manager")
    loner = factories.user()
    db.session.commit()

    assert submit(world, contract_id=sole.id).number.endswith("-57-И-П")
    assert submit(world, author=loner, contract_id=None).number.endswith("-26-00-Ф-Л")
    # Without a contract, the author's first contract gives the branch and kind.
    assert submit(world, contract_id=None).number.endswith("-26-57-Ю-Л")


def test_appeal_is_refused_and_nothing_written_when_the_contract_is_not_the_authors(db, world):
    stranger = factories.user()
    db.session.commit()

    with pytest.raises(AppealError) as caught:
        submit(world, author=stranger)

    assert caught.value.message == "У вас нет доступа к этому договору."
    assert count(db, Appeal) == 0


def test_object_outside_the_scope_is_refused_when_submitted(db, world):
    engineer = factories.user()
    factories.grant(engineer, world["contract"], "power_engineer", objects=[world["object"]])
    db.session.commit()

    with pytest.raises(AppealError) as caught:
        submit(world, author=engineer, energy_object_id=world["other_object"].id)

    assert caught.value.message == "Этого объекта нет среди доступных вам объектов договора."
    assert submit(world, author=engineer, energy_object_id=world["object"].id).energy_object_id == world["object"].id


def test_invalid_form_is_refused_with_every_field_and_no_file_kept_when_submitted(db, world):
    keys_before = set(get_storage().root.rglob("*"))

    with pytest.raises(AppealError) as caught:
        submit(world, form_data={"description": " ", "phone": "12"}, files={"document": [pdf()]})

    assert set(caught.value.errors) == {"description", "phone"}
    assert count(db, Appeal) == 0 and count(db, AppealAttachment) == 0
    assert set(get_storage().root.rglob("*")) == keys_before


def test_misconfigured_section_is_refused_as_an_appeal_error_when_submitted(db, world):
    broken = factories.appeal_section(workflow_code="missing", form_code="missing_form")
    db.session.commit()

    with pytest.raises(AppealError) as caught:
        appeals.submit_appeal(world["customer"], section_id=broken.id, form_data={"description": "x"})
    with pytest.raises(AppealError):
        appeals.save_draft(world["customer"], topic_id=None, section_id=broken.id, steps_completed=1,
                           form_data={}, files={"document": [pdf()]})

    assert "missing_form" in caught.value.message
    assert count(db, Appeal) == 0 and count(db, AppealDraft) == 0


def test_files_of_form_fields_are_attached_when_submitted(db, world):
    appeal = submit(world, files={"document": [pdf("Акт.pdf")]})

    (attachment,) = db.session.scalars(select(AppealAttachment).where(AppealAttachment.appeal_id == appeal.id))
    assert (attachment.field_name, attachment.filename, attachment.uploaded_by_id) == (
        "document", "Акт.pdf", world["customer"].id)
    assert appeal.form_data["document"] == ["Акт.pdf"]


# --- drafts --------------------------------------------------------------------------------------

def save(world, **kw):
    kw.setdefault("form_data", {"description": "Черновик"})
    return appeals.save_draft(world["customer"], topic_id=world["section"].parent_id, section_id=world["section"].id,
                              contract_id=world["contract"].id, steps_completed=kw.pop("steps_completed", 1), **kw)


def test_draft_expires_a_calendar_month_after_the_last_save_when_saved_again(db, world):
    draft = save(world)
    assert draft.expires_at == datetime(2026, 2, 28, 10, 0, tzinfo=UTC)  # 31 January → end of February

    clock.set_now(datetime(2026, 2, 10, 12, 0, tzinfo=UTC))
    again = save(world, draft_id=draft.id, steps_completed=2, form_data={"description": "Дописал"})

    assert again.id == draft.id and again.steps_completed == 2
    assert again.expires_at == datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def test_draft_files_move_to_the_appeal_and_the_draft_goes_when_sent(db, world):
    draft = save(world, files={"document": [pdf("Схема.pdf")]})
    (kept,) = draft.attachments

    appeal = submit(world, draft_id=draft.id)  # the required fields are there; the file comes from the draft

    assert db.session.get(AppealDraft, draft.id) is None
    moved = db.session.get(AppealAttachment, kept.id)
    assert (moved.appeal_id, moved.draft_id, moved.field_name) == (appeal.id, None, "document")
    assert get_storage().open(moved.storage_key).read() == PDF


def test_someone_elses_draft_is_refused_when_sent(db, world):
    draft = save(world)
    other = factories.user()
    factories.grant(other, world["contract"], "accountant")
    db.session.commit()

    with pytest.raises(AppealError):
        submit(world, author=other, draft_id=draft.id)
    assert db.session.get(AppealDraft, draft.id) is not None


def test_expired_drafts_and_their_files_are_deleted_when_the_job_runs(db, world):
    draft = save(world, files={"document": [pdf()]})
    draft_id, key = draft.id, draft.attachments[0].storage_key
    fresh = save(world)
    clock.set_now(datetime(2026, 2, 20, tzinfo=UTC))
    fresh_id = save(world, draft_id=fresh.id).id

    clock.set_now(datetime(2026, 2, 28, 10, 0, tzinfo=UTC))
    assert appeals.expire_drafts() == 1
    assert appeals.expire_drafts() == 0

    assert db.session.get(AppealDraft, draft_id) is None and db.session.get(AppealDraft, fresh_id) is not None
    assert count(db, AppealAttachment) == 0
    with pytest.raises(StorageError):
        get_storage().open(key)


def test_deleted_draft_loses_its_files_when_the_author_deletes_it(db, world):
    draft = save(world, files={"document": [pdf()]})
    key = draft.attachments[0].storage_key

    appeals.delete_draft(world["customer"], draft.id)

    assert count(db, AppealDraft) == 0
    with pytest.raises(StorageError):
        get_storage().open(key)


# --- dialogue --------------------------------------------------------------------------------------

def test_staff_reply_marks_unread_and_emails_the_author_when_public(db, world):
    appeal = submit(world)
    clock.advance(timedelta(hours=1))

    appeals.reply(appeal, world["curator"], "Проверьте, пожалуйста, пароль", [pdf("Инструкция.pdf")])
    clock.advance(timedelta(hours=1))
    appeals.reply(appeal, world["curator"], "Ещё одно уточнение")

    assert appeal.customer_unread and appeal.first_response_at == T0 + timedelta(hours=1)
    assert appeal.last_message_at == T0 + timedelta(hours=2)
    sent = emails(db, "customer@test.example")
    assert [m.subject for m in sent] == [f"Обращение {appeal.number}: новый ответ"] * 2
    assert "/portal/appeals/" in sent[0].body_text and "Проверьте, пожалуйста, пароль" in sent[0].body_text
    appeals.mark_read(appeal, "customer")
    assert not appeal.customer_unread


def test_internal_note_is_not_shown_or_emailed_when_staff_writes_it(db, world):
    appeal = submit(world)
    appeals.mark_read(appeal, "staff")

    note = appeals.reply(appeal, world["curator"], "Клиент звонил, ждём акт", internal=True)

    assert note.internal and note.from_staff
    assert not appeal.customer_unread and appeal.first_response_at is None
    assert emails(db) == []
    with pytest.raises(AppealError):
        appeals.reply(appeal, world["customer"], "Хочу написать заметку", internal=True)


def test_customer_reply_marks_it_unread_for_staff_when_dialogue_is_open(db, world):
    appeal = submit(world)
    appeals.mark_read(appeal, "staff")
    clock.advance(timedelta(minutes=5))

    message = appeals.reply(appeal, world["customer"], "Добавляю фото", [pdf()])

    assert appeal.staff_unread and not message.from_staff
    assert appeal.last_message_at == T0 + timedelta(minutes=5)
    assert len(message.attachments) == 1


def test_customer_reply_is_refused_when_the_appeal_is_closed(db, world):
    appeal = submit(world)
    close(world, appeal)

    with pytest.raises(AppealError) as caught:
        appeals.reply(appeal, world["customer"], "Ещё вопрос")

    assert caught.value.message == "Переписка по данному обращению недоступна"
    assert count(db, AppealMessage) == 0


def test_reply_is_refused_when_someone_else_writes(db, world):
    appeal = submit(world)
    stranger = factories.user()
    db.session.commit()

    with pytest.raises(AppealError) as caught:
        appeals.reply(appeal, stranger, "Чужое обращение")

    assert caught.value.status == 404 and count(db, AppealMessage) == 0


def test_empty_reply_is_refused_when_nothing_is_written(db, world):
    appeal = submit(world)

    with pytest.raises(AppealError) as caught:
        appeals.reply(appeal, world["customer"], "   ")
    assert caught.value.message == "Напишите сообщение или приложите файл."


def test_document_decision_needs_a_reason_to_reject_when_decided(db, world):
    appeal = submit(world)
    document = appeals.reply(appeal, world["curator"], "Проект договора", [pdf("Проект.pdf")], needs_decision=True)

    with pytest.raises(AppealError) as caught:
        appeals.decide_document(appeal, document.id, world["customer"], "rejected", " ")
    assert caught.value.message == "Укажите, почему вы отклоняете документ."

    appeals.decide_document(appeal, document.id, world["customer"], "rejected", "Неверный адрес объекта")
    assert (document.decision, document.decision_comment) == ("rejected", "Неверный адрес объекта")
    assert appeal.staff_unread
    with pytest.raises(AppealError):
        appeals.decide_document(appeal, document.id, world["customer"], "accepted", None)


# --- status e-mails, rating --------------------------------------------------------------------------

def test_status_change_emails_the_customer_label_when_staff_moves_it(db, world):
    appeal = submit(world)

    appeals.transition(appeal, world["curator"], transition_id(appeal, "Take into work"), "Взяли")

    (mail,) = emails(db, "customer@test.example")
    assert mail.subject == f"Обращение {appeal.number}: статус — Customer in_progress"


def test_no_email_is_sent_when_the_author_switched_emails_off(db, world):
    world["customer"].notification_settings = {"email": False}
    db.session.commit()
    appeal = submit(world)

    appeals.transition(appeal, world["curator"], transition_id(appeal, "Take into work"))
    appeals.reply(appeal, world["curator"], "Ответ")

    assert emails(db) == []
    assert appeal.customer_unread  # the portal still shows it


def test_edited_template_is_used_and_switching_its_email_off_is_honoured_when_staff_replies(db, world):
    from crm.models import EventTemplate

    row = EventTemplate(event="appeal.reply", locale="ru", subject="Ответ по {{ appeal_number }}",
                        body="{{ reply_text }}", send_email=True)
    db.session.add(row)
    db.session.commit()
    appeal = submit(world)

    appeals.reply(appeal, world["curator"], "Готово")
    row.send_email = False
    db.session.commit()
    appeals.reply(appeal, world["curator"], "Ещё")

    (mail,) = emails(db)
    assert (mail.subject, mail.body_text.strip()) == (f"Ответ по {appeal.number}", "Готово")


def test_refused_transition_changes_nothing_when_the_customer_tries_a_staff_one(db, world):
    appeal = submit(world)

    with pytest.raises(AppealError) as caught:
        appeals.transition(appeal, world["customer"], transition_id(appeal, "Take into work"))

    assert caught.value.message == "У вас нет права выполнить это действие с обращением."
    db.session.refresh(appeal)
    assert appeal.state_code == "new" and count(db, AppealEvent, AppealEvent.kind == "transition") == 0


def test_customer_withdrawal_marks_it_for_staff_without_email_when_allowed(db, world):
    appeal = submit(world)
    appeals.mark_read(appeal, "staff")

    appeals.transition(appeal, world["customer"], transition_id(appeal, "Withdraw"))

    assert appeal.state_code == "withdrawn" and appeal.closed_at is not None and appeal.staff_unread
    assert emails(db) == []


def test_low_rating_reopens_the_appeal_for_the_curator_when_rated(db, world):
    appeal = submit(world)
    close(world, appeal)
    appeals.mark_read(appeal, "staff")
    clock.advance(timedelta(hours=3))

    appeals.rate(appeal, world["customer"], 2, "Проблема не решена")

    assert (appeal.rating, appeal.rating_comment) == (2, "Проблема не решена")
    assert appeal.state_code == "in_progress" and appeal.closed_at is None and appeal.staff_unread
    assert appeal.sla_due_at == clock.now() + timedelta(hours=72)
    reopened = appeal.events[-1]
    assert (reopened.kind, reopened.from_state, reopened.to_state, reopened.actor_id) == (
        "reopened", "closed", "in_progress", None)


def test_good_rating_keeps_it_closed_and_a_second_one_is_refused_when_rated(db, world):
    appeal = submit(world)
    close(world, appeal)

    appeals.rate(appeal, world["customer"], "5", None)
    assert appeal.state_code == "closed" and appeal.rating == 5

    with pytest.raises(AppealError) as caught:
        appeals.rate(appeal, world["customer"], 1, "передумал")
    assert caught.value.message == "Вы уже оценили это обращение."


@pytest.mark.parametrize("rating", [0, 6, "пять", None])
def test_rating_outside_1_to_5_is_refused_when_rated(db, world, rating):
    appeal = submit(world)
    close(world, appeal)

    with pytest.raises(AppealError):
        appeals.rate(appeal, world["customer"], rating, None)
    db.session.refresh(appeal)
    assert appeal.rating is None


def test_rating_is_refused_when_the_appeal_is_open_or_rated_by_someone_else(db, world):
    appeal = submit(world)
    with pytest.raises(AppealError) as caught:
        appeals.rate(appeal, world["customer"], 5, None)
    assert caught.value.message == "Оценить обращение можно после его закрытия."

    close(world, appeal)
    with pytest.raises(AppealError):
        appeals.rate(appeal, world["curator"], 1, None)


# --- assignment, escalation ----------------------------------------------------------------------

def rule(db, name, users, *, branch=None, section=None, active=True) -> AssignmentRule:
    item = AssignmentRule(name=name, branch_id=branch.id if branch else None,
                          section_id=section.id if section else None, active=active, users=list(users))
    db.session.add(item)
    db.session.commit()
    return item


def test_new_appeals_go_round_robin_by_the_most_specific_rule_when_rules_match(db, world):
    anna, boris, vera = (factories.user(roles=("Curator",)) for _ in range(3))
    db.session.commit()
    rule(db, "Всё подряд", [vera])
    rule(db, "Раздел", [vera], section=world["section"])
    rule(db, "Выключенное", [vera], branch=world["branch"], section=world["section"], active=False)
    specific = rule(db, "Филиал 57, техподдержка", [anna, boris], branch=world["branch"], section=world["section"])

    assignees = [submit(world).assignee_id for _ in range(3)]

    assert assignees == [anna.id, boris.id, anna.id]
    assert specific.last_user_id == anna.id
    assert count(db, AppealEvent, AppealEvent.kind == "assigned") == 3


def test_manual_assignment_is_recorded_and_non_staff_refused_when_assigned(db, world):
    appeal = submit(world)

    appeals.assign(appeal, world["curator"], world["lead"].id)
    assert appeal.assignee_id == world["lead"].id
    assert appeal.events[-1].kind == "assigned"

    with pytest.raises(AppealError):
        appeals.assign(appeal, world["curator"], world["customer"].id)
    with pytest.raises(AppealError):
        appeals.assign(appeal, world["customer"], world["curator"].id)
    db.session.refresh(appeal)
    assert appeal.assignee_id == world["lead"].id


def test_breached_appeal_is_escalated_to_the_branch_lead_exactly_once_when_the_job_reruns(db, world):
    appeal = submit(world)
    paused = submit(world)
    appeals.transition(paused, world["curator"], transition_id(paused, "Take into work"))
    appeals.transition(paused, world["curator"], transition_id(paused, "Ask the customer"))
    clock.advance(timedelta(hours=25))

    assert appeals.escalate_overdue() == 1
    assert appeals.escalate_overdue() == 0

    (mail,) = emails(db, "lead@energo.example")
    assert mail.subject == f"Просрочен срок ответа по обращению {appeal.number}"
    assert "/admin/appeals/" in mail.body_text and "Staff new" in mail.body_text
    assert appeal.escalated_at == clock.now()
    assert [e.kind for e in appeal.events][-1] == "escalated"
    assert appeal.assignee_id is None  # reassigning is off by default
    assert paused.escalated_at is None


def test_breached_appeal_is_reassigned_to_the_lead_when_configured(db, world, app):
    appeal = submit(world)
    clock.advance(timedelta(hours=24))
    app.config["APPEAL_ESCALATION_REASSIGN"] = True
    try:
        assert appeals.escalate_overdue() == 1
    finally:
        app.config["APPEAL_ESCALATION_REASSIGN"] = False

    assert appeal.assignee_id == world["lead"].id


def test_jobs_run_the_expiry_and_escalation_when_scheduled(db, world):
    from workflows import jobs, schedule

    submit(world)
    clock.advance(timedelta(days=40))

    assert jobs.escalate_appeals_job() == 1
    assert jobs.expire_appeal_drafts_job() == 0
    periodic = {func for func, _interval in schedule.PERIODIC_JOBS}
    assert {jobs.escalate_appeals_job, jobs.expire_appeal_drafts_job} <= periodic


def test_number_is_retried_when_another_appeal_took_it_meanwhile(db, world, monkeypatch):
    first = submit(world)
    from workflows import appeal_support

    real = appeal_support.next_sequence
    answers = iter([first.sequence])  # as if a concurrent submission had read the same maximum

    monkeypatch.setattr(appeals, "next_sequence", lambda: next(answers, None) or real())
    second = submit(world)

    assert second.number == "0000002-26-57-Ю-Л"
    assert count(db, Appeal) == 2


def test_concurrent_submissions_get_distinct_numbers_when_sent_at_once(db, world, app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises them; the retry test covers it)")
    import threading

    customer_id, section_id, contract_id = world["customer"].id, world["section"].id, world["contract"].id
    numbers, errors = [], []

    def send():
        with app.app_context():
            from crm.models import CrmUser

            try:
                author = db.session.get(CrmUser, customer_id)
                for _ in range(4):
                    numbers.append(appeals.submit_appeal(author, section_id=section_id, contract_id=contract_id,
                                                         form_data={"description": "Параллельно"}).number)
            except Exception as exc:  # reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=send) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert sorted(numbers) == [f"{n:07d}-26-57-Ю-Л" for n in range(1, 13)]
