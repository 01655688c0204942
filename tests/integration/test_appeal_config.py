"""Appeal configuration (issue 6 items 1–2, acceptance 1 on the admin side): seeded definitions,
"edit = new version" in the back office, version pinning, rules checked at save, admin-only views."""
from __future__ import annotations

import itertools

import pytest
from sqlalchemy import func, select

from crm.models import (
    AppealTopic,
    FormDefinition,
    FormField,
    FormStep,
    WorkflowDefinition,
    WorkflowState,
    WorkflowTransition,
)
from crm.services.appeal_config import check_form, check_workflow
from crm.services.appeal_definitions import ensure_appeal_definitions
from crm.services.appeal_forms import current_form, current_workflow
from tests import factories as f

_seq = itertools.count(1)
CONFIG_PAGES = ["/admin/appeal-topics/list/", "/admin/appeal-forms/list/", "/admin/appeal-workflows/list/",
                "/admin/assignment-rules/list/", "/admin/appeal-form-fields/list/",
                "/admin/appeal-workflow-states/list/", "/admin/appeal-workflow-transitions/list/"]


def _staff(db, client, role: str):
    username = f"{role.lower()}{next(_seq)}"
    user = f.user(f"{username}@energo.example", username=username, roles=(role,))
    db.session.commit()
    assert f.staff_login(client, username).status_code == 302
    return user


def _counts(db) -> dict[str, int]:
    return {model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (AppealTopic, FormDefinition, FormStep, FormField, WorkflowDefinition, WorkflowState,
                          WorkflowTransition)}


def _section(db, code: str) -> AppealTopic:
    return db.session.scalar(select(AppealTopic).where(AppealTopic.code == code))


def _submit(db, section_code: str):
    """A customer files a technical-support appeal through the appeals service."""
    from workflows.appeals import submit_appeal

    author = f.user(f"author{next(_seq)}@demo.example")
    db.session.commit()
    return submit_appeal(author, section_id=_section(db, section_code).id, form_data={
        "contact_name": "Морозов Павел Викторович", "email": "engineer@demo.example",
        "text": "Не открывается график показаний."})


@pytest.fixture()
def seeded(db):
    ensure_appeal_definitions()
    return db


def test_definitions_are_created_once_when_ensure_runs_twice(seeded):
    db = seeded
    first = _counts(db)
    ensure_appeal_definitions()
    assert _counts(db) == first
    energy = current_form(_section(db, "contract_conclusion"))
    assert energy.code == "energy_supply_contract" and len(energy.steps) == 8
    assert [s.title for s in energy.steps] == ["Информация", "Отделение", "Банковские реквизиты",
                                               "Оформление и доставка", "Контактные данные", "Энергообъект",
                                               "Точка присоединения", "Точка учёта и прибор учёта"]
    assert len(current_form(_section(db, "support_portal")).steps) == 2
    # A subsection inherits its section's form and workflow.
    assert current_form(_section(db, "contract_conclusion_legal")).id == energy.id
    access = _section(db, "access_rights")
    assert access.requires_contract and access.parent.name == "Личный кабинет клиента"
    fields = {fl.name: fl for s in current_form(access).steps for fl in s.fields}
    assert {"full_name", "position", "reason", "power_of_attorney"} <= set(fields)
    assert fields["power_of_attorney"].field_type == "file" and fields["power_of_attorney"].required
    workflow = current_workflow(access)
    assert workflow.code == "access_rights"
    assert {s.code for s in workflow.states if s.is_closing} == {"granted", "rejected", "closed"}
    waiting = next(s for s in current_workflow(_section(db, "invoice_question")).states
                   if s.code == "waiting_customer")
    assert waiting.sla_paused and waiting.dialogue_allowed and waiting.customer_label == "Ожидает вашего ответа"
    for definition in db.session.scalars(select(WorkflowDefinition)):
        check_workflow(definition, ("Admin", "Curator"))
    for form in db.session.scalars(select(FormDefinition)):
        check_form(form)
    assert {t.code for t in db.session.scalars(select(AppealTopic).where(AppealTopic.level == "section"))} >= {
        "access_rights", "data_change", "support_portal", "contract_conclusion", "readings_question",
        "invoice_question"}


def test_admin_edits_survive_when_ensure_runs_again(seeded):
    db = seeded
    _section(db, "readings_question").name = "Вопросы по приборам учёта"
    form = current_form(_section(db, "data_change"))
    form.steps[0].fields[0].label = "Что меняем"
    db.session.delete(_section(db, "support_other"))
    db.session.commit()
    ensure_appeal_definitions()
    assert _section(db, "readings_question").name == "Вопросы по приборам учёта"
    assert current_form(_section(db, "data_change")).steps[0].fields[0].label == "Что меняем"
    # A catalogue entry an admin deleted is seeded again only by code; definitions are never duplicated.
    assert db.session.scalar(select(func.count()).select_from(FormDefinition)
                             .where(FormDefinition.code == "data_change")) == 1


def test_flask_crm_init_seeds_the_definitions_when_run(app, db):
    result = app.test_cli_runner().invoke(args=["crm", "init"])
    assert result.exit_code == 0, result.output
    assert _section(db, "access_rights") is not None


def test_backoffice_edit_is_refused_when_an_appeal_uses_the_form(seeded, client):
    db = seeded
    appeal = _submit(db, "support_portal")
    field = next(fl for fl in appeal.form.steps[1].fields if fl.name == "text")
    _staff(db, client, "Admin")
    response = client.post(f"/admin/appeal-form-fields/edit/{field.id}", data={
        "step": str(field.step_id), "position": "1", "name": "text", "label": "Новый текст",
        "field_type": "long_text", "required": "y"}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "уже используется в обращениях" in page and "Новая версия" in page
    db.session.expire_all()
    assert db.session.get(FormField, field.id).label == "Текст обращения"
    state = next(s for s in appeal.workflow.states if s.code == "new")
    response = client.post(f"/admin/appeal-workflow-states/edit/{state.id}", data={
        "workflow": str(appeal.workflow_id), "position": "0", "code": "new", "staff_label": "Новое!",
        "customer_label": "Принято", "sla_hours": "1", "is_initial": "y", "dialogue_allowed": "y"},
        follow_redirects=True)
    assert "уже используется в обращениях" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(WorkflowState, state.id).sla_hours == 24


def test_new_version_copies_and_pins_when_an_admin_changes_an_in_use_definition(seeded, client):
    db = seeded
    old_appeal = _submit(db, "support_portal")
    old_form, old_workflow = old_appeal.form_id, old_appeal.workflow_id
    _staff(db, client, "Admin")

    # The show page's button posts to /action/new_version/<pk>; the list's bulk form to /action_post.
    response = client.post(f"/admin/appeal-forms/action/new_version/{old_form}")
    assert response.status_code == 302
    response = client.post("/admin/appeal-workflows/action_post",
                           data={"action": "new_version", "rowid": [str(old_workflow)]})
    assert response.status_code == 302
    db.session.expire_all()
    section = _section(db, "support_portal")
    form_v2, workflow_v2 = current_form(section), current_workflow(section)
    assert (form_v2.version, workflow_v2.version) == (2, 2)
    assert not db.session.get(FormDefinition, old_form).is_current
    assert [[fl.name for fl in s.fields] for s in form_v2.steps] == [
        [fl.name for fl in s.fields] for s in db.session.get(FormDefinition, old_form).steps]
    assert len(workflow_v2.transitions) == len(db.session.get(WorkflowDefinition, old_workflow).transitions)

    # The copy is editable: the admin relabels a field and lengthens the first SLA.
    field = next(fl for s in form_v2.steps for fl in s.fields if fl.name == "text")
    response = client.post(f"/admin/appeal-form-fields/edit/{field.id}", data={
        "step": str(field.step_id), "position": "1", "name": "text", "label": "Опишите проблему",
        "field_type": "long_text", "required": "y"}, follow_redirects=True)
    assert response.status_code == 200
    new_state = next(s for s in workflow_v2.states if s.code == "new")
    client.post(f"/admin/appeal-workflow-states/edit/{new_state.id}", data={
        "workflow": str(workflow_v2.id), "position": "0", "code": "new", "staff_label": "Новое",
        "customer_label": "Принято", "sla_hours": "8", "is_initial": "y", "dialogue_allowed": "y"})
    db.session.expire_all()
    assert db.session.get(FormField, field.id).label == "Опишите проблему"
    assert db.session.get(WorkflowState, new_state.id).sla_hours == 8

    # The old appeal keeps version 1 with its labels; a new appeal gets version 2.
    old_appeal = db.session.get(type(old_appeal), old_appeal.id)
    assert (old_appeal.form_id, old_appeal.workflow_id) == (old_form, old_workflow)
    assert [fl.label for s in old_appeal.form.steps for fl in s.fields if fl.name == "text"] == ["Текст обращения"]
    new_appeal = _submit(db, "support_portal")
    assert (new_appeal.form_id, new_appeal.workflow_id) == (form_v2.id, workflow_v2.id)
    assert new_appeal.sla_due_at is not None


def test_old_version_is_read_only_when_a_newer_one_is_current(seeded, client):
    db = seeded
    form = current_form(_section(db, "invoice_question"))
    _staff(db, client, "Admin")
    client.post("/admin/appeal-forms/action_post", data={"action": "new_version", "rowid": [str(form.id)]})
    response = client.post(f"/admin/appeal-forms/edit/{form.id}", data={"name": "Старое имя"},
                           follow_redirects=True)
    assert "устарела и доступна только для просмотра" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(FormDefinition, form.id).name == "Вопрос по счёту"


def test_invalid_workflow_is_refused_with_messages_when_saved(seeded, client):
    db = seeded
    workflow = current_workflow(_section(db, "invoice_question"))  # current, no appeal yet
    states = {s.code: s for s in workflow.states}
    _staff(db, client, "Admin")

    # A second initial state.
    target = states["in_progress"]
    response = client.post(f"/admin/appeal-workflow-states/edit/{target.id}", data={
        "workflow": str(workflow.id), "position": "1", "code": "in_progress", "staff_label": "В работе",
        "customer_label": "Решается", "sla_hours": "72", "is_initial": "y", "dialogue_allowed": "y"},
        follow_redirects=True)
    assert "ровно одно начальное состояние (сейчас 2)" in response.get_data(as_text=True)
    # A transition to a state of another workflow.
    foreign = next(s for s in current_workflow(_section(db, "access_rights")).states if s.code == "granted")
    before = len(workflow.transitions)
    response = client.post("/admin/appeal-workflow-transitions/add", data={
        "workflow": str(workflow.id), "from_state": str(states["new"].id), "to_state": str(foreign.id),
        "label": "Выдать роль", "allowed_role": "Curator"}, follow_redirects=True)
    assert "должен соединять состояния этого порядка обработки" in response.get_data(as_text=True)
    # Removing every closing state (one by one: the last one is refused).
    for code in ("resolved", "rejected"):
        client.post(f"/admin/appeal-workflow-states/delete/{states[code].id}")
    response = client.post(f"/admin/appeal-workflow-states/delete/{states['closed'].id}", follow_redirects=True)
    assert "хотя бы одно закрывающее состояние" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(WorkflowState, target.id).is_initial is False
    assert db.session.get(WorkflowState, states["closed"].id) is not None
    assert len(db.session.get(WorkflowDefinition, workflow.id).transitions) <= before


def test_form_field_rules_are_refused_with_messages_when_saved(seeded, client):
    db = seeded
    form = current_form(_section(db, "invoice_question"))
    step = form.steps[0]
    _staff(db, client, "Admin")
    response = client.post("/admin/appeal-form-fields/add", data={
        "step": str(step.id), "position": "9", "name": "Bad name", "label": "Уровень", "field_type": "select",
        "regex": "(", "options_text": "  "}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Имя поля должно начинаться с латинской буквы" in page
    assert "Для поля выбора укажите варианты" in page
    assert "Регулярное выражение содержит ошибку" in page
    response = client.post("/admin/appeal-form-fields/add", data={
        "step": str(step.id), "position": "9", "name": "question", "label": "Дубль", "field_type": "text"},
        follow_redirects=True)
    assert "Имя поля «question» уже используется в этой форме." in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(FormField).where(FormField.step_id == step.id)) == \
        len(step.fields)
    response = client.post("/admin/appeal-form-fields/add", data={
        "step": str(step.id), "position": "9", "name": "voltage", "label": "Уровень напряжения",
        "field_type": "select", "options_text": "ВН\nСН-1\n\nНН\n", "prefill": ""}, follow_redirects=True)
    assert response.status_code == 200
    added = db.session.scalar(select(FormField).where(FormField.step_id == step.id, FormField.name == "voltage"))
    assert added.options == ["ВН", "СН-1", "НН"]


def test_canned_reply_with_an_unknown_placeholder_is_refused_when_saved(seeded, client):
    db = seeded
    _staff(db, client, "Admin")
    response = client.post("/admin/canned-replies/add", data={
        "title": "Ответ", "body": "Здравствуйте, {{ customer }}! Обращение {{ appeal_number }}.", "active": "y"},
        follow_redirects=True)
    assert "Неизвестные подстановки: customer" in response.get_data(as_text=True)
    client.post("/admin/canned-replies/add", data={
        "title": "Ответ", "body": "Здравствуйте, {{ customer_name }}! Обращение {{ appeal_number }}.",
        "active": "y"})
    from crm.models import CannedReply

    assert [r.title for r in db.session.scalars(select(CannedReply))] == ["Ответ"]


def test_curator_cannot_open_config_views_when_signed_in(seeded, client):
    _staff(seeded, client, "Curator")
    for page in CONFIG_PAGES:
        response = client.get(page)
        assert response.status_code == 403 or (
            response.status_code == 302 and "/login" in response.headers.get("Location", "")), page
    assert client.get("/admin/canned-replies/list/").status_code == 200
    assert client.get("/admin/canned-replies/add").status_code in {302, 403}


def test_admin_sees_the_catalogue_and_the_eight_steps_when_opening_the_pages(seeded, client):
    db = seeded
    _staff(db, client, "Admin")
    topics = client.get("/admin/appeal-topics/list/?psize_AppealTopicView=100").get_data(as_text=True)
    assert "Договор энергоснабжения" in topics and "Права доступа" in topics
    form = current_form(_section(db, "contract_conclusion"))
    page = client.get(f"/admin/appeal-forms/show/{form.id}").get_data(as_text=True)
    assert "Точка учёта и прибор учёта" in page and "Новая версия" in page
    step = form.steps[0]
    fields = client.get(f"/admin/appeal-form-steps/show/{step.id}").get_data(as_text=True)
    assert "org_full_name" in fields
    workflow = current_workflow(_section(db, "access_rights"))
    page = client.get(f"/admin/appeal-workflows/show/{workflow.id}").get_data(as_text=True)
    assert "Роль предоставлена" in page and "Предоставить роль" in page


def test_deleting_a_definition_is_refused_when_a_section_names_it(seeded, client):
    db = seeded
    form = current_form(_section(db, "contract_conclusion"))
    _staff(db, client, "Admin")
    response = client.post(f"/admin/appeal-forms/delete/{form.id}", follow_redirects=True)
    assert "используют «energy_supply_contract»" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(FormDefinition, form.id) is not None


def test_every_config_form_opens_when_an_admin_adds_a_row(seeded, client):
    _staff(seeded, client, "Admin")
    for base in ("appeal-topics", "appeal-forms", "appeal-form-steps", "appeal-form-fields", "appeal-workflows",
                 "appeal-workflow-states", "appeal-workflow-transitions", "canned-replies", "assignment-rules"):
        assert client.get(f"/admin/{base}/add").status_code == 200, base


def test_assignment_rule_needs_staff_users_when_saved(seeded, client):
    from crm.models import AssignmentRule

    db = seeded
    branch = f.branch()
    first = f.user("k1@energo.example", username="k1", roles=("Curator",))
    second = f.user("k2@energo.example", username="k2", roles=("Curator",))
    db.session.commit()
    _staff(db, client, "Admin")
    section = _section(db, "readings_question")
    response = client.post("/admin/assignment-rules/add", data={
        "name": "Показания", "branch": str(branch.id), "section": str(section.id), "active": "y"},
        follow_redirects=True)
    assert "Выберите хотя бы одного сотрудника." in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(AssignmentRule)) == 0
    client.post("/admin/assignment-rules/add", data={
        "name": "Показания", "branch": str(branch.id), "section": str(section.id), "active": "y",
        "users": [str(first.id), str(second.id)]})
    rule = db.session.scalar(select(AssignmentRule))
    assert (rule.branch_id, rule.section_id, rule.active) == (branch.id, section.id, True)
    assert {u.id for u in rule.users} == {first.id, second.id}


def test_a_field_added_from_its_step_page_lands_in_that_step(seeded, client):
    db = seeded
    step = current_form(_section(db, "invoice_question")).steps[0]
    _staff(db, client, "Admin")
    url = f"/admin/appeal-form-fields/add?_flt_0_step={step.id}"
    assert client.get(url).status_code == 200
    client.post(url, data={"position": "9", "name": "period", "label": "Расчётный период", "field_type": "text",
                           "help_text": "Например, «Октябрь 2026»"})
    added = db.session.scalar(select(FormField).where(FormField.name == "period", FormField.step_id == step.id))
    assert added is not None and added.required is False and added.help_text == "Например, «Октябрь 2026»"
