"""The curator desk (issue 6 items 6–7, acceptance 3–4, SPEC B4): queue, card, replies, transitions,
assignment, canned replies and the one-step administrator grant — through HTTP, on a real database."""
from __future__ import annotations

import io
import itertools
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from crm import clock
from crm.extensions import db
from crm.models import (
    Appeal,
    AppealAttachment,
    AppealEvent,
    AppealMessage,
    AppealTopic,
    AuditLog,
    CannedReply,
    ContractAccess,
    EmailOutbox,
    WorkflowState,
    WorkflowTransition,
)
from crm.services import appeal_desk
from crm.services.appeal_definitions import ensure_appeal_definitions
from crm.services.appeal_forms import current_workflow
from crm.storage import get_storage
from tests import factories as f

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
_seq = itertools.count(1)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@contextmanager
def data(app):
    with app.app_context():
        yield
        db.session.commit()


@pytest.fixture(autouse=True)
def _frozen_clock():
    clock.set_now(NOW)
    yield
    clock.set_now(None)


def _section(code: str) -> AppealTopic:
    return db.session.scalars(select(AppealTopic).where(AppealTopic.code == code)).one()


def make_appeal(author, contract, *, section="support_other", state=None, title=None, sla_hours=24,
                closed=False, unread=False, assignee=None, created_ago=timedelta(hours=1), last_ago=None,
                paused=False) -> Appeal:
    """An appeal as the appeals service leaves it (pinned to the current workflow of its section)."""
    topic = _section(section)
    workflow = current_workflow(topic)
    state = state or next(s.code for s in workflow.states if s.is_initial)
    n = next(_seq)
    created = NOW - created_ago
    appeal = Appeal(number=f"{n:07d}-26-{contract.branch.code if contract else '00'}-Ю-Л", sequence=n,
                    author_id=author.id, contract_id=contract.id if contract else None,
                    branch_id=contract.branch_id if contract else None, topic_id=topic.parent_id or topic.id,
                    section_id=topic.id, workflow_id=workflow.id, state_code=state, channel="portal",
                    title=title or topic.name, form_data={}, created_at=created,
                    last_message_at=NOW - (last_ago if last_ago is not None else created_ago),
                    state_entered_at=created, staff_unread=unread, customer_unread=False,
                    sla_due_at=None if (closed or paused or sla_hours is None) else NOW + timedelta(hours=sla_hours),
                    sla_paused_at=created if paused else None, closed_at=created if closed else None,
                    assignee_id=assignee.id if assignee else None)
    db.session.add(appeal)
    db.session.flush()
    return appeal


@pytest.fixture()
def desk(app):
    """Two branches, a curator of each, an admin, an auditor; customers of both branches."""
    with data(app):
        ensure_appeal_definitions(commit=False)
        north, south = f.branch(code="57", name="Северный"), f.branch(code="58", name="Южный")
        cp_north = f.counterparty(short_name="ООО «Северный свет»")
        cp_south = f.counterparty(short_name="ООО «Южный ветер»")
        contract_north = f.contract(cp_north, north)
        contract_south = f.contract(cp_south, south)
        customer_north = f.user("director@north.example", first_name="Ольга", last_name="Иванова")
        customer_south = f.user("director@south.example", first_name="Пётр", last_name="Сидоров")
        f.grant(customer_north, contract_north, "manager")
        f.grant(customer_south, contract_south, "manager")
        staff = {}
        for name, role in (("curator_n", "Curator"), ("curator_n2", "Curator"), ("curator_s", "Curator"),
                           ("boss", "Admin"), ("auditor", "Auditor")):
            staff[name] = f.user(f"{name}@energo.example", username=name, roles=(role,), first_name=name.title(),
                                 last_name="Куратор")
        f.curator(north, user_id=staff["curator_n"].id, full_name="Смирнова Анна Викторовна", phone="+7 495 111-11-11")
        f.curator(north, user_id=staff["curator_n2"].id, full_name="Орлов Денис Игоревич")
        f.curator(south, user_id=staff["curator_s"].id, full_name="Кузнецов Олег Петрович")
        ids = SimpleNamespace(north=north.id, south=south.id, contract_north=contract_north.id,
                              contract_south=contract_south.id, customer_north=customer_north.id,
                              customer_south=customer_south.id, **{k: v.id for k, v in staff.items()})
    return ids


def _client(app, username: str):
    client = app.test_client()
    assert f.staff_login(client, username).status_code == 302
    return client


def _objects(ids):
    from crm.models import Contract, CrmUser

    return SimpleNamespace(
        north=db.session.get(Contract, ids.contract_north), south=db.session.get(Contract, ids.contract_south),
        customer_north=db.session.get(CrmUser, ids.customer_north),
        customer_south=db.session.get(CrmUser, ids.customer_south),
        curator_n=db.session.get(CrmUser, ids.curator_n), curator_n2=db.session.get(CrmUser, ids.curator_n2),
        curator_s=db.session.get(CrmUser, ids.curator_s))


def _attach(appeal: Appeal, name="scan.pdf") -> int:
    key = get_storage().put("appeals", PDF, ".pdf")
    attachment = AppealAttachment(appeal_id=appeal.id, filename=name, content_type="application/pdf",
                                  size=len(PDF), storage_key=key)
    db.session.add(attachment)
    db.session.flush()
    return attachment.id


def _numbers(html: str, rows) -> list[str]:
    return [number for number in rows if number in html]


# --- scope: a curator sees only their branch ---------------------------------------------------------

def test_curator_never_sees_other_branch_when_listing_by_id_or_by_file_url(app, desk):
    with data(app):
        o = _objects(desk)
        mine = make_appeal(o.customer_north, o.north, title="Нет доступа в кабинет")
        theirs = make_appeal(o.customer_south, o.south, title="Чужое обращение")
        mine_file, theirs_file = _attach(mine), _attach(theirs)
        ids = SimpleNamespace(mine=mine.id, mine_no=mine.number, theirs=theirs.id, theirs_no=theirs.number)
    client = _client(app, "curator_n")
    page = client.get("/admin/appeals/").get_data(as_text=True)
    assert ids.mine_no in page and ids.theirs_no not in page
    assert client.get(f"/admin/appeals/?branch={desk.south}").get_data(as_text=True).count(ids.theirs_no) == 0
    assert client.get(f"/admin/appeals/{ids.theirs}").status_code == 404
    assert client.get(f"/admin/appeals/{ids.theirs}/files/{theirs_file}").status_code == 404
    assert client.get(f"/admin/appeals/{ids.mine}/files/{theirs_file}").status_code == 404
    assert client.post(f"/admin/appeals/{ids.theirs}/reply", data={"body": "x"}).status_code == 404
    download = client.get(f"/admin/appeals/{ids.mine}/files/{mine_file}")
    assert download.status_code == 200 and download.data == PDF
    assert "attachment" in download.headers["Content-Disposition"]


def test_admin_sees_every_branch_when_listing(app, desk):
    with data(app):
        o = _objects(desk)
        numbers = [make_appeal(o.customer_north, o.north).number, make_appeal(o.customer_south, o.south).number]
    page = _client(app, "boss").get("/admin/appeals/").get_data(as_text=True)
    assert all(number in page for number in numbers)


def test_staff_without_curated_branch_sees_nothing_when_curator_role_only(app, desk):
    with data(app):
        o = _objects(desk)
        make_appeal(o.customer_north, o.north)
        f.user("lonely@energo.example", username="lonely", roles=("Curator",))
    page = _client(app, "lonely").get("/admin/appeals/").get_data(as_text=True)
    assert "No appeals match the filter." in page or "Нет обращений" in page


# --- filters and sorting -----------------------------------------------------------------------------

def test_queue_filters_by_status_section_assignee_sla_unread_and_search_when_given(app, desk):
    with data(app):
        o = _objects(desk)
        a = SimpleNamespace(
            new=make_appeal(o.customer_north, o.north, title="Новое без куратора", unread=True),
            work=make_appeal(o.customer_north, o.north, state="in_progress", title="В работе у меня",
                             assignee=o.curator_n, sla_hours=2),
            late=make_appeal(o.customer_north, o.north, state="in_progress", title="Просрочено",
                             assignee=o.curator_n2, sla_hours=-3),
            done=make_appeal(o.customer_north, o.north, state="resolved", title="Решено давно", closed=True),
            invoice=make_appeal(o.customer_north, o.north, section="invoice_question", title="Счёт за март"),
        )
        n = {key: appeal.number for key, appeal in vars(a).items()}
        invoice_section = a.invoice.section_id
    client = _client(app, "curator_n")

    def shown(query: str) -> set[str]:
        html = client.get(f"/admin/appeals/?{query}").get_data(as_text=True)
        return {key for key, number in n.items() if number in html}

    assert shown("") == {"new", "work", "late", "invoice"}                       # default: open ones
    assert shown("status=closed") == {"done"}
    assert shown("status=all") == set(n)
    assert shown("status=in_progress") == {"work", "late"}
    assert shown(f"section={invoice_section}") == {"invoice"}
    assert shown("assignee=mine") == {"work"}
    assert shown("assignee=unassigned") == {"new", "invoice"}
    assert shown(f"assignee={desk.curator_n2}") == {"late"}
    assert shown("sla=breached") == {"late"}
    assert shown("sla=due&hours=4") == {"work"}
    assert shown("unread=1") == {"new"}
    assert shown("q=счёт") == {"invoice"} or shown("q=Счёт") == {"invoice"}
    assert shown(f"q={n['late'][:7]}") == {"late"}
    assert shown("q=Северный") == {"new", "work", "late", "invoice"}


def test_queue_refuses_bad_filter_with_message_when_values_are_unknown(app, desk):
    client = _client(app, "curator_n")
    response = client.get("/admin/appeals/?sla=soonish&sort=random&hours=0&branch=abc")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for text in ("Unknown SLA filter", "Unknown sort order", "Unknown branch", "Hours until the SLA due time"):
        assert text in html or _ru(text) in html


def _ru(msgid: str) -> str:
    return {"Unknown SLA filter": "Неизвестный фильтр SLA", "Unknown sort order": "Неизвестный порядок сортировки",
            "Unknown branch": "Неизвестный филиал", "Hours until the SLA due time": "Часы до срока SLA"}[msgid]


def test_queue_sorts_by_sla_due_first_then_by_last_message_or_creation_when_asked(app, desk):
    with data(app):
        o = _objects(desk)
        later = make_appeal(o.customer_north, o.north, sla_hours=30, created_ago=timedelta(hours=1),
                            last_ago=timedelta(hours=5))
        sooner = make_appeal(o.customer_north, o.north, sla_hours=3, created_ago=timedelta(hours=2),
                             last_ago=timedelta(minutes=5))
        paused = make_appeal(o.customer_north, o.north, state="waiting_customer", paused=True,
                             created_ago=timedelta(hours=3), last_ago=timedelta(hours=9))
        numbers = [later.number, sooner.number, paused.number]
    client = _client(app, "curator_n")

    def order(sort: str) -> list[str]:
        html = client.get(f"/admin/appeals/?sort={sort}").get_data(as_text=True)
        return sorted(numbers, key=html.index)

    assert order("sla") == [numbers[1], numbers[0], numbers[2]]      # paused (no due time) last
    assert order("last_message") == [numbers[1], numbers[0], numbers[2]]
    assert order("created") == [numbers[0], numbers[1], numbers[2]]


def test_queue_highlights_breached_red_and_due_soon_amber_when_sla_is_near(app, desk):
    with data(app):
        o = _objects(desk)
        late = make_appeal(o.customer_north, o.north, sla_hours=-1).number
        soon = make_appeal(o.customer_north, o.north, sla_hours=3).number
        calm = make_appeal(o.customer_north, o.north, sla_hours=30).number
    html = _client(app, "curator_n").get("/admin/appeals/").get_data(as_text=True)

    def row_class(number: str) -> str:
        start = html.rindex("<tr", 0, html.index(f'data-number="{number}"'))
        return html[start:html.index(">", start)]

    assert "danger" in row_class(late)
    assert "warning" in row_class(soon)
    assert "danger" not in row_class(calm) and "warning" not in row_class(calm)


def test_queue_sends_constant_number_of_statements_when_appeals_grow_from_5_to_50(app, desk, query_counter):
    def add(count: int) -> None:
        with data(app):
            o = _objects(desk)
            for i in range(count):
                make_appeal(o.customer_north if i % 2 else o.customer_south, o.north if i % 2 else o.south,
                            assignee=o.curator_n if i % 3 == 0 else None, unread=bool(i % 2))

    client = _client(app, "boss")
    counts = []
    for batch in (5, 45):
        add(batch)
        client.get("/admin/appeals/")  # warm FAB's per-user caches
        with query_counter() as counter:
            response = client.get("/admin/appeals/?sort=sla&q=ООО")
        assert response.status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


def test_queue_pages_twenty_five_rows_when_more_match(app, desk):
    with data(app):
        o = _objects(desk)
        numbers = [make_appeal(o.customer_north, o.north, sla_hours=i + 1).number for i in range(30)]
    client = _client(app, "curator_n")
    first = client.get("/admin/appeals/").get_data(as_text=True)
    second = client.get("/admin/appeals/?page=2").get_data(as_text=True)
    assert sum(n in first for n in numbers) == 25 and sum(n in second for n in numbers) == 5
    assert numbers[0] in first and numbers[-1] in second


# --- the card: read mark, replies, transitions, assignment --------------------------------------------

def test_opening_card_marks_it_read_for_curator_but_not_for_auditor(app, desk):
    with data(app):
        o = _objects(desk)
        appeal_id = make_appeal(o.customer_north, o.north, unread=True).id
    assert _client(app, "auditor").get(f"/admin/appeals/{appeal_id}").status_code == 200
    with app.app_context():
        assert db.session.get(Appeal, appeal_id).staff_unread is True
    page = _client(app, "curator_n").get(f"/admin/appeals/{appeal_id}")
    assert page.status_code == 200
    with app.app_context():
        assert db.session.get(Appeal, appeal_id).staff_unread is False


def test_public_reply_notifies_customer_and_internal_note_does_not_when_sent(app, desk):
    with data(app):
        o = _objects(desk)
        appeal_id = make_appeal(o.customer_north, o.north, state="in_progress").id
    client = _client(app, "curator_n")
    note = client.post(f"/admin/appeals/{appeal_id}/reply",
                       data={"body": "Проверить по биллингу", "visibility": "internal"})
    assert note.status_code == 302
    with app.app_context():
        appeal = db.session.get(Appeal, appeal_id)
        assert appeal.customer_unread is False
        assert db.session.scalar(select(func.count(EmailOutbox.id))) == 0
    public = client.post(f"/admin/appeals/{appeal_id}/reply", data={
        "body": "Здравствуйте! Пароль сброшен.", "visibility": "public",
        "files": [(io.BytesIO(PDF), "инструкция.pdf")]}, content_type="multipart/form-data")
    assert public.status_code == 302
    with app.app_context():
        appeal = db.session.get(Appeal, appeal_id)
        messages = db.session.scalars(select(AppealMessage).where(AppealMessage.appeal_id == appeal_id)
                                      .order_by(AppealMessage.id)).all()
        assert [(m.internal, m.from_staff) for m in messages] == [(True, True), (False, True)]
        assert [a.filename for a in messages[1].attachments] == ["инструкция.pdf"]
        assert appeal.customer_unread is True and appeal.first_response_at is not None
        assert db.session.scalars(select(EmailOutbox.to_address)).all() == ["director@north.example"]
    card = client.get(f"/admin/appeals/{appeal_id}").get_data(as_text=True)
    assert 'data-internal="1"' in card and "Проверить по биллингу" in card


def test_reply_refused_with_message_and_nothing_written_when_body_and_files_missing(app, desk):
    with data(app):
        o = _objects(desk)
        appeal_id = make_appeal(o.customer_north, o.north).id
    response = _client(app, "curator_n").post(f"/admin/appeals/{appeal_id}/reply", data={"body": "  "})
    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(AppealMessage.id))) == 0


def test_card_offers_only_transitions_the_workflow_allows_and_refuses_forged_id(app, desk):
    with data(app):
        o = _objects(desk)
        appeal = make_appeal(o.customer_north, o.north)
        appeal_id = appeal.id
        transitions = db.session.scalars(select(WorkflowTransition).where(
            WorkflowTransition.workflow_id == appeal.workflow_id)).all()
        by_label = {(t.from_state.code, t.to_state.code, t.allowed_role): t.id for t in transitions}
        take = by_label[("new", "in_progress", "Curator")]
        withdraw = by_label[("new", "closed", "customer")]
        resolve = by_label[("in_progress", "resolved", "Curator")]
    client = _client(app, "curator_n")
    card = client.get(f"/admin/appeals/{appeal_id}").get_data(as_text=True)
    assert f'name="transition_id" value="{take}"' in card
    assert f'value="{withdraw}"' not in card and f'value="{resolve}"' not in card
    for forged in (withdraw, resolve, 999999, "abc"):
        client.post(f"/admin/appeals/{appeal_id}/transition", data={"transition_id": forged})
        with app.app_context():
            assert db.session.get(Appeal, appeal_id).state_code == "new"
            assert db.session.scalar(select(func.count(AppealEvent.id)).where(AppealEvent.kind == "transition")) == 0
    response = client.post(f"/admin/appeals/{appeal_id}/transition", data={"transition_id": take, "comment": "Беру"},
                           follow_redirects=True)
    assert response.status_code == 200
    with app.app_context():
        appeal = db.session.get(Appeal, appeal_id)
        assert appeal.state_code == "in_progress"
        event = db.session.scalars(select(AppealEvent).where(AppealEvent.kind == "transition")).one()
        assert event.actor_id == desk.curator_n and event.detail["comment"] == "Беру"


def test_auditor_reads_the_card_but_cannot_reply_or_change_status(app, desk):
    with data(app):
        o = _objects(desk)
        appeal = make_appeal(o.customer_north, o.north)
        appeal_id, workflow_id = appeal.id, appeal.workflow_id
        take = db.session.scalars(select(WorkflowTransition.id).join(
            WorkflowState, WorkflowState.id == WorkflowTransition.to_state_id).where(
            WorkflowTransition.workflow_id == workflow_id, WorkflowState.code == "in_progress")).first()
    client = _client(app, "auditor")
    card = client.get(f"/admin/appeals/{appeal_id}").get_data(as_text=True)
    assert 'name="transition_id"' not in card and 'name="body"' not in card
    client.post(f"/admin/appeals/{appeal_id}/reply", data={"body": "Не должен пройти"})
    client.post(f"/admin/appeals/{appeal_id}/transition", data={"transition_id": take})
    with app.app_context():
        assert db.session.get(Appeal, appeal_id).state_code == "new"
        assert db.session.scalar(select(func.count(AppealMessage.id))) == 0


def test_assignment_to_branch_curator_or_self_and_refusal_for_other_branch(app, desk):
    with data(app):
        o = _objects(desk)
        appeal_id = make_appeal(o.customer_north, o.north).id
    client = _client(app, "curator_n")
    client.post(f"/admin/appeals/{appeal_id}/assign", data={"assignee_id": str(desk.curator_n2)})
    with app.app_context():
        assert db.session.get(Appeal, appeal_id).assignee_id == desk.curator_n2
    client.post(f"/admin/appeals/{appeal_id}/assign", data={"assignee_id": str(desk.curator_s)})
    with app.app_context():
        assert db.session.get(Appeal, appeal_id).assignee_id == desk.curator_n2
    with client.session_transaction() as session:
        flashes = [message for _cat, message in session.get("_flashes", [])]
    assert any("branch" in m or "филиал" in m for m in flashes)
    client.post(f"/admin/appeals/{appeal_id}/assign", data={"take": "1"})
    with app.app_context():
        assert db.session.get(Appeal, appeal_id).assignee_id == desk.curator_n
        kinds = db.session.scalars(select(AppealEvent.kind).where(AppealEvent.appeal_id == appeal_id)).all()
        assert kinds.count("assigned") == 2
    card = client.get(f"/admin/appeals/{appeal_id}").get_data(as_text=True)
    assert "Смирнова Анна Викторовна" in card


# --- canned replies --------------------------------------------------------------------------------

def test_canned_reply_fills_placeholders_in_the_reply_box_when_chosen(app, desk):
    with data(app):
        o = _objects(desk)
        appeal = make_appeal(o.customer_north, o.north, title="Нет доступа")
        reply = CannedReply(title="Приветствие", body="Здравствуйте, {{ customer_name }}! По обращению "
                            "{{ appeal_number }} ({{ contract_number }}) отвечает {{ curator_name }}, "
                            "тел. {{ curator_phone }}.")
        db.session.add(reply)
        db.session.flush()
        appeal_id, number, contract_number, reply_id = appeal.id, appeal.number, o.north.number, reply.id
    html = _client(app, "curator_n").get(f"/admin/appeals/{appeal_id}?canned={reply_id}").get_data(as_text=True)
    expected = (f"Здравствуйте, Иванова Ольга! По обращению {number} ({contract_number}) отвечает "
                "Смирнова Анна Викторовна, тел. +7 495 111-11-11.")
    assert expected in html


@pytest.mark.parametrize("body", ["{{ customer_name ", "{{ custmer_name }}", "{{ ''.__class__.__mro__ }}",
                                  "{% for x in range(10**9) %}{% endfor %}{{ 1/0 }}"])
def test_broken_canned_reply_shows_clear_message_not_a_server_error(app, desk, body):
    with data(app):
        o = _objects(desk)
        appeal_id = make_appeal(o.customer_north, o.north).id
        reply = CannedReply(title="Сломанный шаблон", body=body)
        db.session.add(reply)
        db.session.flush()
        reply_id = reply.id
    response = _client(app, "curator_n").get(f"/admin/appeals/{appeal_id}?canned={reply_id}")
    assert response.status_code == 200
    assert "Сломанный шаблон" in response.get_data(as_text=True)
    assert "alert-danger" in response.get_data(as_text=True)


def test_render_canned_reply_runs_in_a_sandbox_when_template_reaches_for_internals(app, desk):
    with data(app):
        o = _objects(desk)
        appeal = make_appeal(o.customer_north, o.north)
        unsafe = CannedReply(title="X", body="{{ customer_name.__class__.__base__.__subclasses__() }}")
        with pytest.raises(appeal_desk.CannedReplyError):
            appeal_desk.render_canned_reply(unsafe, appeal, o.curator_n)
        fine = CannedReply(title="Y", body="{{ appeal_title }} / {{ curator_name }}")
        assert appeal_desk.render_canned_reply(fine, appeal, o.curator_n) == f"{appeal.title} / Куратор Curator_N"


# --- "Access rights": grant the administrator role ---------------------------------------------------

def _access_appeal(app, desk, *, existing_admin: bool = False):
    with data(app):
        o = _objects(desk)
        if existing_admin:
            f.grant(f.user("admin@north.example"), o.north, "administrator")
        appeal = make_appeal(o.customer_north, o.north, section="access_rights", title="Запрос роли администратора")
        return appeal.id


def test_grant_administrator_makes_author_admin_with_audit_reply_and_closes_when_contract_has_none(app, desk):
    appeal_id = _access_appeal(app, desk)
    client = _client(app, "curator_n")
    card = client.get(f"/admin/appeals/{appeal_id}").get_data(as_text=True)
    assert "Grant administrator role" in card or "Предоставить роль администратора" in card
    response = client.post(f"/admin/appeals/{appeal_id}/grant-administrator")
    assert response.status_code == 302
    with app.app_context():
        appeal = db.session.get(Appeal, appeal_id)
        access = db.session.scalars(select(ContractAccess).where(
            ContractAccess.contract_id == desk.contract_north, ContractAccess.user_id == desk.customer_north)).one()
        assert access.role == "administrator"
        assert appeal.state_code == "granted" and appeal.closed_at is not None
        audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "contract_role.changed")).one()
        assert audit.actor_id == desk.curator_n and audit.detail["role"] == "administrator"
        message = db.session.scalars(select(AppealMessage).where(AppealMessage.appeal_id == appeal_id)).one()
        assert message.from_staff and not message.internal and desk_contract_number(desk) in message.body
        assert appeal.customer_unread is True
        assert db.session.scalar(select(func.count(EmailOutbox.id)).where(
            EmailOutbox.to_address == "director@north.example")) >= 1
    card = client.get(f"/admin/appeals/{appeal_id}").get_data(as_text=True)
    assert 'name="visibility" value="internal"' in card and 'value="public"' not in card
    assert "grant-administrator" not in card


def desk_contract_number(desk) -> str:
    from crm.models import Contract

    return db.session.get(Contract, desk.contract_north).number


def test_grant_administrator_refused_and_nothing_written_when_contract_already_has_one(app, desk):
    appeal_id = _access_appeal(app, desk, existing_admin=True)
    client = _client(app, "curator_n")
    response = client.post(f"/admin/appeals/{appeal_id}/grant-administrator", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "admin@north.example" in html
    with app.app_context():
        appeal = db.session.get(Appeal, appeal_id)
        assert appeal.state_code == "new" and appeal.closed_at is None
        assert db.session.scalars(select(ContractAccess.role).where(
            ContractAccess.user_id == desk.customer_north)).one() == "manager"
        assert db.session.scalar(select(func.count(AppealMessage.id))) == 0
        assert db.session.scalar(select(func.count(AppealEvent.id)).where(AppealEvent.appeal_id == appeal_id)) == 0
        assert db.session.scalar(select(func.count(AuditLog.id)).where(AuditLog.action.like("contract_role.%"))) == 0
        assert db.session.scalar(select(func.count(EmailOutbox.id))) == 0


def test_plain_transition_into_granted_is_refused_when_it_would_skip_the_grant(app, desk):
    appeal_id = _access_appeal(app, desk)
    with app.app_context():
        appeal = db.session.get(Appeal, appeal_id)
        granting = db.session.scalars(select(WorkflowTransition.id).join(
            WorkflowState, WorkflowState.id == WorkflowTransition.to_state_id).where(
            WorkflowTransition.workflow_id == appeal.workflow_id, WorkflowState.code == "granted")).first()
    client = _client(app, "curator_n")
    assert f'value="{granting}"' not in client.get(f"/admin/appeals/{appeal_id}").get_data(as_text=True)
    client.post(f"/admin/appeals/{appeal_id}/transition", data={"transition_id": granting})
    with app.app_context():
        assert db.session.get(Appeal, appeal_id).state_code == "new"


def test_grant_action_absent_when_appeal_is_not_an_access_request(app, desk):
    with data(app):
        o = _objects(desk)
        appeal_id = make_appeal(o.customer_north, o.north).id
    client = _client(app, "curator_n")
    assert "grant-administrator" not in client.get(f"/admin/appeals/{appeal_id}").get_data(as_text=True)
    client.post(f"/admin/appeals/{appeal_id}/grant-administrator")
    with app.app_context():
        assert db.session.scalars(select(ContractAccess.role).where(
            ContractAccess.user_id == desk.customer_north)).one() == "manager"


def test_appeals_menu_comes_first_when_staff_opens_back_office(app, desk):
    names = [item.name for item in app.appbuilder.menu.get_list()]
    assert names[0] == "Appeals"


def test_customer_360_links_each_appeal_to_its_desk_card_when_staff_may_open_it(app, desk):
    with data(app):
        o = _objects(desk)
        appeal = make_appeal(o.customer_north, o.north)
        appeal_id, counterparty_id = appeal.id, o.north.counterparty_id
    html = _client(app, "curator_n").get(f"/admin/customers/{counterparty_id}").get_data(as_text=True)
    assert f'href="/admin/appeals/{appeal_id}"' in html
    card = _client(app, "curator_n").get(f"/admin/appeals/{appeal_id}").get_data(as_text=True)
    assert f'href="/admin/customers/{counterparty_id}"' in card


def test_queue_says_more_than_cap_and_still_pages_when_count_exceeds_it(app, desk, monkeypatch):
    monkeypatch.setattr(appeal_desk, "COUNT_CAP", 30)
    with data(app):
        o = _objects(desk)
        numbers = [make_appeal(o.customer_north, o.north, sla_hours=i + 1).number for i in range(60)]
    client = _client(app, "curator_n")
    first = client.get("/admin/appeals/").get_data(as_text=True)
    assert "more than 30 appeals" in first or "более 30 обращений" in first
    assert 'rel="next"' in first
    third = client.get("/admin/appeals/?page=3").get_data(as_text=True)
    assert sum(n in third for n in numbers) == 10 and numbers[-1] in third and 'rel="next"' not in third


def test_number_search_matches_the_start_of_the_number_only_when_input_is_digits(app, desk):
    with data(app):
        o = _objects(desk)
        target = make_appeal(o.customer_north, o.north)
        target.number, target.title = "0123456-26-57-Ю-Л", "Первое"
        other = make_appeal(o.customer_north, o.north)
        other.number, other.title = "0999123-26-57-Ю-Л", "Второе"
    client = _client(app, "curator_n")
    html = client.get("/admin/appeals/?q=0123").get_data(as_text=True)
    assert "0123456-26-57" in html and "0999123-26-57" not in html
    html = client.get("/admin/appeals/?q=0123456-26").get_data(as_text=True)
    assert "0123456-26-57" in html and "0999123-26-57" not in html


def test_image_file_previews_inline_and_other_files_always_download(app, desk):
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
    with data(app):
        o = _objects(desk)
        appeal = make_appeal(o.customer_north, o.north)
        key = get_storage().put("appeals", png, ".png")
        image = AppealAttachment(appeal_id=appeal.id, filename="фото счётчика.png", content_type="image/png",
                                 size=len(png), storage_key=key)
        db.session.add(image)
        db.session.flush()
        appeal_id, image_id, pdf_id = appeal.id, image.id, _attach(appeal)
    client = _client(app, "curator_n")
    card = client.get(f"/admin/appeals/{appeal_id}").get_data(as_text=True)
    assert f"/admin/appeals/{appeal_id}/files/{image_id}?inline=1" in card
    assert f"/files/{pdf_id}?inline=1" not in card
    preview = client.get(f"/admin/appeals/{appeal_id}/files/{image_id}?inline=1")
    assert preview.mimetype == "image/png" and preview.headers["Content-Disposition"].startswith("inline")
    forced = client.get(f"/admin/appeals/{appeal_id}/files/{pdf_id}?inline=1")
    assert forced.mimetype == "application/octet-stream"
    assert forced.headers["Content-Disposition"].startswith("attachment")
