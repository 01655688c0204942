"""Portal appeals (issue 6 items 4, 5; acceptance 3, customer side): tabs, wizard, drafts, card, files,
dialogue, decisions, rating, the administrator-role request, and who sees what."""
from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest

from crm import clock
from tests import factories as f

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
       b"\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


@pytest.fixture()
def world(app, db):
    """A support section (2-step form, workflow with a customer withdraw), one contract with two objects and
    a user per role, a customer of another counterparty and a curator."""
    f.workflow_definition()
    f.appeal_form()
    section = f.appeal_section()
    contract = f.contract()
    inside, outside = f.energy_object(contract), f.energy_object(contract)
    users = {}
    for role in ("administrator", "manager", "power_engineer", "accountant"):
        users[role] = f.user(f"{role}@appeals.example")
        f.grant(users[role], contract, role)
    users["scoped_manager"] = f.user("scoped@appeals.example")
    f.grant(users["scoped_manager"], contract, "manager", objects=[inside])
    users["stranger"] = f.user("stranger@appeals.example")
    other_contract = f.contract()
    f.grant(users["stranger"], other_contract, "administrator")
    curator = f.user("curator-appeals", roles=("Curator",))
    db.session.commit()
    return {"section": section, "subsection": section.children[0], "contract": contract, "inside": inside,
            "outside": outside, "users": users, "other_contract": other_contract, "curator": curator}


def _submit(world, author, *, contract=None, energy_object=None, text="Не открывается раздел показаний",
            files=None):
    from workflows import appeals

    return appeals.submit_appeal(
        author, section_id=world["section"].id, subsection_id=world["subsection"].id,
        contract_id=contract.id if contract else None, energy_object_id=energy_object.id if energy_object else None,
        form_data={"description": text}, files=files)


def _transition(appeal, actor, target: str):
    from crm.models import WorkflowTransition
    from workflows import appeals

    transition = next(t for t in appeal.workflow.transitions
                      if t.from_state.code == appeal.state_code and t.to_state.code == target)
    assert isinstance(transition, WorkflowTransition)
    return appeals.transition(appeal, actor, transition.id)


def _client(app, email):
    client = app.test_client()
    assert f.login(client, email).status_code == 302
    return client


def _state(html: str) -> str:
    return re.search(r'name="state" value="([^"]+)"', html).group(1)


def _upload(data: bytes, name: str):
    from werkzeug.datastructures import FileStorage

    return FileStorage(stream=io.BytesIO(data), filename=name)


# --- list, tabs, grouping, unread ------------------------------------------------------------------

def test_tabs_list_open_and_closed_appeals_newest_day_first_when_customer_has_several(app, db, world):
    author = world["users"]["manager"]
    clock.set_now(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    older = _submit(world, author, contract=world["contract"], energy_object=world["inside"])
    clock.set_now(datetime(2026, 3, 5, 9, 0, tzinfo=UTC))
    newer = _submit(world, author, text="Второй вопрос")
    done = _submit(world, author)
    _transition(done, world["curator"], "in_progress")
    _transition(done, world["curator"], "closed")
    client = _client(app, author.email)

    page = client.get("/portal/appeals/").get_data(as_text=True)
    assert newer.number in page and older.number in page and done.number not in page
    assert page.index(newer.number) < page.index(older.number)
    assert "05.03.2026" in page and "02.03.2026" in page          # grouped by the day of the last message
    assert world["contract"].number in page and world["inside"].name in page
    assert "Customer new" in page                                   # the pinned state's customer label
    closed = client.get("/portal/appeals/?tab=closed").get_data(as_text=True)
    assert done.number in closed and newer.number not in closed
    assert 'id="appeal-tab-drafts"' in closed


def test_tabs_show_empty_states_when_customer_has_no_appeals(app, db, world):
    client = _client(app, world["users"]["accountant"].email)
    for tab, text in (("open", "У вас нет открытых обращений"), ("drafts", "У вас нет черновиков"),
                      ("closed", "У вас нет закрытых обращений")):
        page = client.get(f"/portal/appeals/?tab={tab}").get_data(as_text=True)
        assert 'id="appeals-empty"' in page and text in page


def test_unread_count_is_one_query_and_menu_badge_shows_it_when_staff_replied(app, db, world, query_counter):
    from crm.services.appeal_portal import unread_appeals_count
    from workflows import appeals

    author = world["users"]["manager"]
    first = _submit(world, author, contract=world["contract"])
    appeals.reply(first, world["curator"], "Ответ специалиста")
    assert author.id  # loaded before counting, as current_user is in a request
    with query_counter() as one:
        assert unread_appeals_count(author) == 1
    for n in range(4):
        appeals.reply(_submit(world, author, text=f"Вопрос {n}"), world["curator"], "Ответ")
    assert author.id
    with query_counter() as five:
        assert unread_appeals_count(author) == 5
    assert one.count == five.count == 1

    client = _client(app, author.email)
    page = client.get("/portal/contracts/").get_data(as_text=True)
    assert re.search(r'data-menu-badge="appeals">5<', page)
    listing = client.get("/portal/appeals/").get_data(as_text=True)
    assert listing.count("appeal-unread-mark") == 5


def test_list_page_sends_the_same_number_of_statements_for_3_or_23_appeals(app, db, world, query_counter):
    from workflows import appeals

    author = world["users"]["manager"]
    client = _client(app, author.email)

    def statements() -> int:
        with query_counter() as counted:
            assert client.get("/portal/appeals/").status_code == 200
        return counted.count

    for n in range(3):
        appeals.reply(_submit(world, author, contract=world["contract"], energy_object=world["inside"],
                              text=f"Вопрос {n}"), world["curator"], "Ответ")
    few = statements()
    for n in range(20):
        _submit(world, author, contract=world["contract"], text=f"Ещё вопрос {n}")
    assert statements() == few


def test_opening_the_card_marks_it_read_for_the_customer_when_it_had_a_reply(app, db, world):
    from workflows import appeals

    author = world["users"]["manager"]
    appeal = _submit(world, author)
    appeals.reply(appeal, world["curator"], "Проверьте, пожалуйста, ещё раз")
    client = _client(app, author.email)
    card = client.get(f"/portal/appeals/{appeal.id}").get_data(as_text=True)
    assert "Проверьте, пожалуйста, ещё раз" in card
    db.session.expire_all()
    assert db.session.get(type(appeal), appeal.id).customer_unread is False
    assert 'data-menu-badge="appeals"' not in client.get("/portal/appeals/").get_data(as_text=True)


# --- who sees what -----------------------------------------------------------------------------------

def test_customer_never_sees_another_counterpartys_appeal_by_list_id_or_file_url(app, db, world):
    stranger = world["users"]["stranger"]
    theirs = _submit(world, stranger, contract=world["other_contract"],
                     files={"document": [_upload(PDF, "chuzhoy.pdf")]})
    file_id = theirs.id and db.session.execute(
        db.select(f_attachment().id).where(f_attachment().appeal_id == theirs.id)).scalar_one()
    client = _client(app, world["users"]["administrator"].email)
    assert theirs.number not in client.get("/portal/appeals/").get_data(as_text=True)
    for path in (f"/portal/appeals/{theirs.id}", f"/portal/appeals/{theirs.id}/sent",
                 f"/portal/appeals/files/{file_id}", f"/portal/appeals/files/{file_id}?inline=1"):
        assert client.get(path).status_code == 404, path
    for path in (f"/portal/appeals/{theirs.id}/reply", f"/portal/appeals/{theirs.id}/rate"):
        assert client.post(path, data={"body": "чужое", "rating": "5"}).status_code == 404
    own = _client(app, stranger.email)
    assert own.get(f"/portal/appeals/files/{file_id}").status_code == 200


def f_attachment():
    from crm.models import AppealAttachment

    return AppealAttachment


def test_roles_decide_whose_appeals_of_a_contract_a_customer_sees(app, db, world):
    users = world["users"]
    by_engineer = _submit(world, users["power_engineer"], contract=world["contract"], energy_object=world["inside"])
    by_accountant = _submit(world, users["accountant"], contract=world["contract"], energy_object=world["outside"])
    without_contract = _submit(world, users["accountant"], text="Личный вопрос")

    def seen(who):
        page = _client(app, users[who].email).get("/portal/appeals/").get_data(as_text=True)
        return {a.number for a in (by_engineer, by_accountant, without_contract) if a.number in page}

    # administrators and managers act for the whole contract; others see their own only
    assert seen("administrator") == {by_engineer.number, by_accountant.number}
    assert seen("manager") == {by_engineer.number, by_accountant.number}
    assert seen("power_engineer") == {by_engineer.number}
    assert seen("accountant") == {by_accountant.number, without_contract.number}
    # a manager limited to one object sees that object's appeals only
    assert seen("scoped_manager") == {by_engineer.number}
    assert _client(app, users["power_engineer"].email).get(f"/portal/appeals/{by_accountant.id}").status_code == 404


def test_appeals_of_a_contract_disappear_when_the_role_goes_but_those_without_contract_stay(app, db, world):
    from crm.models.access import ContractAccess

    accountant = world["users"]["accountant"]
    on_contract = _submit(world, accountant, contract=world["contract"])
    personal = _submit(world, accountant, text="Не приходит код подтверждения")
    db.session.execute(db.delete(ContractAccess).where(ContractAccess.user_id == accountant.id))
    db.session.commit()
    client = _client(app, accountant.email)
    page = client.get("/portal/appeals/").get_data(as_text=True)
    assert personal.number in page and on_contract.number not in page
    assert client.get(f"/portal/appeals/{on_contract.id}").status_code == 404


def test_internal_notes_and_their_files_are_never_shown_when_staff_write_them(app, db, world):
    from crm.models import AppealAttachment, AppealMessage
    from workflows import appeals

    author = world["users"]["manager"]
    appeal = _submit(world, author)
    appeals.reply(appeal, world["curator"], "Внутренняя заметка: проверить долг", [_upload(PDF, "vnutr.pdf")],
                  internal=True)
    appeals.reply(appeal, world["curator"], "Публичный ответ")
    note = db.session.execute(db.select(AppealMessage).where(AppealMessage.internal.is_(True))).scalar_one()
    note_file = db.session.execute(db.select(AppealAttachment).where(AppealAttachment.message_id == note.id)
                                   ).scalar_one()
    client = _client(app, author.email)
    card = client.get(f"/portal/appeals/{appeal.id}").get_data(as_text=True)
    assert "Публичный ответ" in card
    assert "Внутренняя заметка" not in card and "vnutr.pdf" not in card
    assert client.get(f"/portal/appeals/files/{note_file.id}").status_code == 404


# --- the wizard --------------------------------------------------------------------------------------

def _start(client, world, **extra):
    data = {"section_id": world["section"].id, "subsection_id": world["subsection"].id, **extra}
    response = client.post("/portal/appeals/new", data=data)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def test_choice_step_refuses_a_contract_of_another_counterparty_and_a_missing_section(app, db, world):
    client = _client(app, world["users"]["manager"].email)
    response = client.post("/portal/appeals/new", data={"contract_id": world["other_contract"].id})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Выберите договор из списка." in page and "Выберите раздел обращения." in page
    response = client.post("/portal/appeals/new", data={"section_id": world["section"].id})
    assert response.status_code == 422 and "Выберите подраздел обращения." in response.get_data(as_text=True)
    response = client.post("/portal/appeals/new", data={
        "section_id": world["section"].id, "subsection_id": world["subsection"].id,
        "contract_id": world["contract"].id, "object_id": f.energy_object(world["other_contract"]).id})
    assert response.status_code == 422 and "Выберите объект выбранного договора." in response.get_data(as_text=True)


def test_wizard_shows_every_error_of_the_step_and_writes_nothing_when_values_are_wrong(app, db, world):
    from crm.models import Appeal, AppealDraft

    client = _client(app, world["users"]["manager"].email)
    page = _start(client, world, contract_id=world["contract"].id)
    assert "Шаг 2 из 3" in page
    response = client.post("/portal/appeals/new/form", data={"state": _state(page), "action": "next",
                                                              "description": "   "})
    assert response.status_code == 422
    assert "Заполните поле «Description»." in response.get_data(as_text=True) or \
        'id="field-description-error"' in response.get_data(as_text=True)
    page = client.post("/portal/appeals/new/form", data={"state": _state(page), "action": "next",
                                                          "description": "Счётчик не передаёт данные"}
                       ).get_data(as_text=True)
    assert "Шаг 3 из 3" in page
    response = client.post("/portal/appeals/new/form", data={
        "state": _state(page), "action": "send", "phone": "8-900",
        "file__document": (io.BytesIO(b"MZ\x90\x00fake program"), "akt.pdf")}, content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="field-phone-error"' in html and "+7XXXXXXXXXX" in html
    assert 'id="field-document-error"' in html and "akt.pdf" in html
    assert db.session.query(Appeal).count() == 0 and db.session.query(AppealDraft).count() == 0


def test_wizard_sends_the_appeal_with_uploaded_files_when_every_step_is_valid(app, db, world):
    from crm.models import Appeal, AppealAttachment

    author = world["users"]["manager"]
    client = _client(app, author.email)
    page = _start(client, world, contract_id=world["contract"].id, object_id=world["inside"].id)
    page = client.post("/portal/appeals/new/form", data={"state": _state(page), "action": "next",
                                                          "description": "Прошу проверить начисления"}
                       ).get_data(as_text=True)
    response = client.post("/portal/appeals/new/form", data={
        "state": _state(page), "action": "send", "phone": "+79001234567",
        "file__document": [(io.BytesIO(PDF), "akt-sverki.pdf")],
        "file__": [(io.BytesIO(PNG), "foto.png"), (io.BytesIO(b"a;b\n1;2\n"), "dannye.csv")]},
        content_type="multipart/form-data")
    assert response.status_code == 302
    appeal = db.session.execute(db.select(Appeal)).scalar_one()
    assert response.headers["Location"].endswith(f"/portal/appeals/{appeal.id}/sent")
    sent = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Обращение отправлено" in sent and appeal.number in sent
    assert appeal.form_data["description"] == "Прошу проверить начисления"
    assert appeal.contract_id == world["contract"].id and appeal.energy_object_id == world["inside"].id
    files = db.session.execute(db.select(AppealAttachment).where(AppealAttachment.appeal_id == appeal.id)
                               ).scalars().all()
    assert sorted(a.filename for a in files) == ["akt-sverki.pdf", "dannye.csv", "foto.png"]
    assert all("akt" not in a.storage_key and "foto" not in a.storage_key for a in files)
    card = client.get(f"/portal/appeals/{appeal.id}").get_data(as_text=True)
    assert "Портал" in card and "Прошу проверить начисления" in card and "akt-sverki.pdf" in card
    image = next(a for a in files if a.filename == "foto.png")
    preview = client.get(f"/portal/appeals/files/{image.id}?inline=1")
    assert preview.status_code == 200 and preview.mimetype == "image/png"
    assert preview.headers["Content-Disposition"].startswith("inline")
    csv = next(a for a in files if a.filename == "dannye.csv")
    download = client.get(f"/portal/appeals/files/{csv.id}?inline=1")
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert download.data == b"a;b\n1;2\n"


def test_draft_keeps_completed_steps_and_files_and_resumes_at_the_next_step(app, db, world):
    from crm.models import Appeal, AppealDraft

    author = world["users"]["manager"]
    client = _client(app, author.email)
    clock.set_now(datetime(2026, 1, 31, 10, 0, tzinfo=UTC))
    page = _start(client, world, contract_id=world["contract"].id)
    page = client.post("/portal/appeals/new/form", data={"state": _state(page), "action": "next",
                                                          "description": "Черновик вопроса"}).get_data(as_text=True)
    page = client.post("/portal/appeals/new/form", data={
        "state": _state(page), "action": "next", "phone": "+79001234567",
        "file__document": (io.BytesIO(PDF), "doverennost.pdf")}, content_type="multipart/form-data"
    ).get_data(as_text=True)
    assert "doverennost.pdf" in page                      # kept while the wizard goes on (last step again)
    response = client.post("/portal/appeals/new/form", data={"state": _state(page), "action": "save_draft"})
    assert response.status_code == 302 and "tab=drafts" in response.headers["Location"]
    draft = db.session.execute(db.select(AppealDraft)).scalar_one()
    assert draft.steps_completed == 1 and draft.form_data == {"description": "Черновик вопроса"}
    assert [a.filename for a in draft.attachments] == ["doverennost.pdf"]
    drafts = client.get("/portal/appeals/?tab=drafts").get_data(as_text=True)
    assert "28.02.2026" in drafts                         # a month after the save, shown as the expiry date

    page = client.get(f"/portal/appeals/drafts/{draft.id}").get_data(as_text=True)
    assert "Шаг 3 из 3" in page and "doverennost.pdf" in page
    response = client.post("/portal/appeals/new/form", data={"state": _state(page), "action": "send",
                                                              "phone": "+79001234567"})
    assert response.status_code == 302
    appeal = db.session.execute(db.select(Appeal)).scalar_one()
    assert appeal.form_data["description"] == "Черновик вопроса"
    assert db.session.query(AppealDraft).count() == 0
    assert "doverennost.pdf" in client.get(f"/portal/appeals/{appeal.id}").get_data(as_text=True)


def test_drafts_are_private_and_deletable_by_their_author_only(app, db, world):
    from crm.models import AppealDraft
    from workflows import appeals

    author, other = world["users"]["manager"], world["users"]["administrator"]
    draft = appeals.save_draft(author, topic_id=world["section"].parent_id, section_id=world["section"].id,
                               subsection_id=world["subsection"].id, steps_completed=1,
                               form_data={"description": "Мой черновик"})
    intruder = _client(app, other.email)
    assert intruder.get(f"/portal/appeals/drafts/{draft.id}").status_code == 404
    assert intruder.post(f"/portal/appeals/drafts/{draft.id}/delete").status_code == 404
    assert "Мой черновик" not in intruder.get("/portal/appeals/?tab=drafts").get_data(as_text=True)
    owner = _client(app, author.email)
    assert owner.post(f"/portal/appeals/drafts/{draft.id}/delete").status_code == 302
    assert db.session.query(AppealDraft).count() == 0


def test_wizard_refuses_a_tampered_or_foreign_state(app, db, world):
    client = _client(app, world["users"]["manager"].email)
    page = _start(client, world)
    token = _state(page)
    assert client.post("/portal/appeals/new/form", data={"state": token[:-2] + "xx", "action": "next"}
                       ).status_code == 400
    other = _client(app, world["users"]["administrator"].email)
    assert other.post("/portal/appeals/new/form", data={"state": token, "action": "next"}).status_code == 400


def test_sending_the_same_wizard_page_twice_files_one_appeal(app, db, world):
    from crm.models import Appeal

    client = _client(app, world["users"]["manager"].email)
    page = _start(client, world)
    page = client.post("/portal/appeals/new/form", data={"state": _state(page), "action": "next",
                                                          "description": "Один раз"}).get_data(as_text=True)
    last = {"state": _state(page), "action": "send", "phone": "+79001234567"}
    assert client.post("/portal/appeals/new/form", data=last).status_code == 302
    again = client.post("/portal/appeals/new/form", data=last)
    assert again.status_code == 302 and again.headers["Location"].endswith("/portal/appeals/?tab=open")
    assert db.session.query(Appeal).count() == 1


# --- dialogue, decisions, rating ---------------------------------------------------------------------

def test_reply_is_accepted_while_dialogue_is_open_and_refused_when_the_state_closes_it(app, db, world):
    from crm.models import AppealMessage

    author = world["users"]["manager"]
    appeal = _submit(world, author)
    client = _client(app, author.email)
    response = client.post(f"/portal/appeals/{appeal.id}/reply", data={
        "body": "Дополняю обращение", "files": (io.BytesIO(PDF), "dopolnenie.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 302
    card = client.get(f"/portal/appeals/{appeal.id}").get_data(as_text=True)
    assert "Дополняю обращение" in card and "dopolnenie.pdf" in card and 'id="appeal-reply-form"' in card

    _transition(appeal, world["curator"], "in_progress")
    _transition(appeal, world["curator"], "closed")
    card = client.get(f"/portal/appeals/{appeal.id}").get_data(as_text=True)
    assert "Переписка по данному обращению недоступна" in card and 'id="appeal-reply-form"' not in card
    response = client.post(f"/portal/appeals/{appeal.id}/reply", data={"body": "Ещё вопрос"})
    assert response.status_code == 422
    assert db.session.query(AppealMessage).filter_by(body="Ещё вопрос").count() == 0


def test_customer_accepts_or_rejects_staff_documents_and_a_rejection_needs_a_comment(app, db, world):
    from crm.models import AppealMessage
    from workflows import appeals

    author = world["users"]["manager"]
    appeal = _submit(world, author)
    first = appeals.reply(appeal, world["curator"], "Договор на подпись", [_upload(PDF, "dogovor.pdf")],
                          needs_decision=True)
    second = appeals.reply(appeal, world["curator"], "Допсоглашение", [_upload(PDF, "dop.pdf")],
                           needs_decision=True)
    client = _client(app, author.email)
    url = f"/portal/appeals/{appeal.id}/messages/{{}}/decision"
    assert client.post(url.format(first.id), data={"decision": "accepted"}).status_code == 302
    refused = client.post(url.format(second.id), data={"decision": "rejected", "comment": ""})
    assert refused.status_code == 422
    db.session.expire_all()
    assert db.session.get(AppealMessage, second.id).decision is None
    assert client.post(url.format(second.id), data={"decision": "rejected", "comment": "Неверные реквизиты"}
                       ).status_code == 302
    db.session.expire_all()
    assert db.session.get(AppealMessage, first.id).decision == "accepted"
    assert db.session.get(AppealMessage, second.id).decision_comment == "Неверные реквизиты"
    card = client.get(f"/portal/appeals/{appeal.id}").get_data(as_text=True)
    assert "Неверные реквизиты" in card


def test_low_rating_reopens_the_closed_appeal_and_only_the_author_may_rate(app, db, world):
    from crm.models import Appeal

    author = world["users"]["manager"]
    appeal = _submit(world, author, contract=world["contract"])
    _transition(appeal, world["curator"], "in_progress")
    _transition(appeal, world["curator"], "closed")
    admin = _client(app, world["users"]["administrator"].email)
    card = admin.get(f"/portal/appeals/{appeal.id}").get_data(as_text=True)
    assert 'id="appeal-rating-form"' not in card
    assert admin.post(f"/portal/appeals/{appeal.id}/rate", data={"rating": "5"}).status_code == 422
    client = _client(app, author.email)
    assert 'id="appeal-rating-form"' in client.get(f"/portal/appeals/{appeal.id}").get_data(as_text=True)
    assert client.post(f"/portal/appeals/{appeal.id}/rate", data={"rating": "9"}).status_code == 422
    assert client.post(f"/portal/appeals/{appeal.id}/rate", data={"rating": "2", "comment": "Не решено"}
                       ).status_code == 302
    db.session.expire_all()
    reopened = db.session.get(Appeal, appeal.id)
    assert reopened.rating == 2 and reopened.closed_at is None and reopened.staff_unread is True
    assert reopened.number in client.get("/portal/appeals/").get_data(as_text=True)


def test_customer_withdraws_a_new_appeal_through_the_workflow(app, db, world):
    from crm.models import Appeal

    author = world["users"]["manager"]
    appeal = _submit(world, author)
    client = _client(app, author.email)
    card = client.get(f"/portal/appeals/{appeal.id}").get_data(as_text=True)
    assert "Withdraw" in card
    withdraw = next(t for t in appeal.workflow.transitions if t.to_state.code == "withdrawn")
    assert client.post(f"/portal/appeals/{appeal.id}/transition", data={"transition_id": withdraw.id}
                       ).status_code == 302
    db.session.expire_all()
    assert db.session.get(Appeal, appeal.id).closed_at is not None
    take = next(t for t in appeal.workflow.transitions if t.to_state.code == "in_progress")
    assert client.post(f"/portal/appeals/{appeal.id}/transition", data={"transition_id": take.id}
                       ).status_code == 422


# --- administrator role request (seed 004 §13.2.1.3) -------------------------------------------------

def test_request_access_is_offered_only_without_an_administrator_and_prefills_access_rights(app, db):
    from crm.models import Appeal
    from crm.services.appeal_definitions import ensure_appeal_definitions

    ensure_appeal_definitions()
    without_admin, with_admin = f.contract(), f.contract()
    person = f.user("engineer@access.example")
    f.grant(person, without_admin, "power_engineer")
    f.grant(person, with_admin, "manager")
    f.grant(f.user("boss@access.example"), with_admin, "administrator")
    db.session.commit()
    client = _client(app, person.email)
    listing = client.get("/portal/contracts/").get_data(as_text=True)
    assert f'id="request-access-{without_admin.id}"' in listing
    assert f'id="request-access-{with_admin.id}"' not in listing
    assert 'id="request-access"' not in client.get(f"/portal/contracts/{with_admin.id}/").get_data(as_text=True)

    refused = client.get(f"/portal/contracts/{with_admin.id}/request-admin-role")
    assert refused.status_code == 302 and refused.headers["Location"].endswith(f"/portal/contracts/{with_admin.id}/")
    response = client.get(f"/portal/contracts/{without_admin.id}/request-admin-role")
    assert response.status_code == 302
    choice = client.get(response.headers["Location"]).get_data(as_text=True)
    assert re.search(rf'<option value="{without_admin.id}" selected>', choice)
    assert re.search(r'<option value="\d+" selected>Права доступа</option>', choice)
    section_id = re.search(r'<option value="(\d+)" selected>Права доступа</option>', choice).group(1)
    page = client.post("/portal/appeals/new", data={"contract_id": without_admin.id, "section_id": section_id}
                       ).get_data(as_text=True)
    assert "Права доступа" in page and without_admin.number in page
    assert db.session.query(Appeal).count() == 0


def test_dates_group_by_the_local_day_when_the_last_message_is_late_in_the_evening(app, db, world):
    author = world["users"]["manager"]
    clock.set_now(datetime(2026, 3, 2, 22, 30, tzinfo=UTC))   # 01:30 on 3 March in Moscow
    appeal = _submit(world, author)
    clock.set_now(datetime(2026, 3, 3, 8, 0, tzinfo=UTC) + timedelta(hours=1))
    page = _client(app, author.email).get("/portal/appeals/").get_data(as_text=True)
    assert appeal.number in page
    assert "Сегодня" in page
