"""The back-office home (/admin/, issue 8): a curator's dashboard of the work in their branches —
numbers, branch isolation, links that carry the desk's filters, constant SQL, the empty state."""
from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy import select

from crm import clock
from crm.extensions import db
from crm.models import Appeal, AppealTopic, CrmUser, EmailOutbox, Reading
from crm.models.catalog import ContactQuestion, Service, ServiceOrder
from crm.services import appeal_desk
from crm.services.appeal_definitions import ensure_appeal_definitions
from crm.services.appeal_forms import current_workflow
from tests import factories as f

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
_seq = itertools.count(1)
TILES = ("mine", "unassigned", "breached", "due", "unread")


@pytest.fixture(autouse=True)
def _frozen_clock():
    clock.set_now(NOW)
    yield
    clock.set_now(None)


def _appeal(author, contract, *, assignee=None, due_in=None, closed_ago=None, unread=False,
            created_ago=timedelta(hours=1)) -> Appeal:
    """An appeal as the appeals service leaves it; `due_in` None = no SLA clock."""
    section = db.session.scalars(select(AppealTopic).where(AppealTopic.code == "support_other")).one()
    workflow = current_workflow(section)
    n = next(_seq)
    created = NOW - created_ago
    appeal = Appeal(number=f"{n:07d}-26-{contract.branch.code}-Ю-Л", sequence=n, author_id=author.id,
                    contract_id=contract.id, branch_id=contract.branch_id, topic_id=section.parent_id,
                    section_id=section.id, workflow_id=workflow.id,
                    state_code=next(s.code for s in workflow.states if s.is_initial), channel="portal",
                    title="Вопрос по договору", form_data={}, created_at=created, last_message_at=created,
                    state_entered_at=created, staff_unread=unread, customer_unread=False,
                    sla_due_at=None if due_in is None or closed_ago is not None else NOW + due_in,
                    closed_at=NOW - closed_ago if closed_ago is not None else None,
                    assignee_id=assignee.id if assignee else None)
    db.session.add(appeal)
    db.session.flush()
    return appeal


@pytest.fixture()
def home(app):
    """Two branches with a curator each, an Admin, customers; appeals and other work in both branches."""
    with app.app_context():
        ensure_appeal_definitions(commit=False)
        north, south = f.branch(code="57", name="Северный"), f.branch(code="58", name="Южный")
        contract_n = f.contract(f.counterparty(short_name="ООО «Север»"), north)
        contract_s = f.contract(f.counterparty(short_name="ООО «Юг»"), south)
        customer = f.user("director@north.example")
        f.grant(customer, contract_n, "manager")
        f.grant(customer, contract_s, "manager")
        staff = {name: f.user(f"{name}@energo.example", username=name, roles=(role,))
                 for name, role in (("curator_n", "Curator"), ("curator_s", "Curator"), ("boss", "Admin"))}
        f.curator(north, user_id=staff["curator_n"].id)
        f.curator(south, user_id=staff["curator_s"].id)
        me = staff["curator_n"]
        # North: mine (one breached, one due in 3 h), unassigned (due in 20 h, unread; and one due in 30 h),
        # closed ones (never counted), one mine unread without an SLA clock.
        _appeal(customer, contract_n, assignee=me, due_in=timedelta(hours=-2))
        _appeal(customer, contract_n, assignee=me, due_in=timedelta(hours=3))
        _appeal(customer, contract_n, assignee=me, unread=True)
        _appeal(customer, contract_n, due_in=timedelta(hours=20), unread=True)
        _appeal(customer, contract_n, due_in=timedelta(hours=30))
        _appeal(customer, contract_n, assignee=me, closed_ago=timedelta(hours=1), unread=True,
                created_ago=timedelta(days=2))
        # South: three unassigned, breached and unread; one assigned to the north curator by mistake.
        for _ in range(3):
            _appeal(customer, contract_s, due_in=timedelta(hours=-5), unread=True, created_ago=timedelta(days=3))
        _appeal(customer, contract_s, assignee=me, due_in=timedelta(hours=-1))
        # Other work: a submitted reading in each branch (plus an accepted one), a new order and a new
        # question in each branch and one of each with no contract, one processed order.
        for contract in (contract_n, contract_s):
            register = f.meter(f.energy_object(contract)).registers[0]
            db.session.add(Reading(register_id=register.id, period=date(2026, 2, 1), value=Decimal("100"),
                                   source="portal"))
        db.session.add(Reading(register_id=register.id, period=date(2026, 1, 1), value=Decimal("90"),
                               source="portal", status="accepted"))
        service = Service(name="Поверка прибора учёта")
        db.session.add(service)
        db.session.flush()
        for n, (contract, status) in enumerate(((contract_n, "new"), (contract_s, "new"), (None, "new"),
                                                (contract_n, "done"))):
            db.session.add(ServiceOrder(number=f"У-{n}", service_id=service.id, user_id=customer.id,
                                        contract_id=contract.id if contract else None, contact_name="Иванов",
                                        phone="+79990000000", task="Поверить счётчик", status=status))
            db.session.add(ContactQuestion(name="Иванов", email="q@example.com", text="Как передать показания?",
                                           contract_id=contract.id if contract else None, status=status
                                           if status == "new" else "answered"))
        db.session.add(EmailOutbox(to_address="x@example.com", subject="Счёт", body_text="…", status="failed"))
        db.session.commit()
        return SimpleNamespace(north=north.id, south=south.id, **{k: v.id for k, v in staff.items()})


def _client(app, username: str):
    client = app.test_client()
    assert f.staff_login(client, username).status_code == 302
    return client


def _figures(html: str) -> dict[str, str]:
    """data-figure key → the number shown on its tile."""
    return dict(re.findall(r'data-figure="(\w+)"[^>]*>\s*<span class="staff-home-count">([^<]+)</span>', html))


def _links(html: str) -> dict[str, str]:
    return {key: href.replace("&amp;", "&")
            for href, key in re.findall(r'href="([^"]+)"\s+data-figure="(\w+)"', html)}


def test_curator_sees_numbers_of_own_branch_when_opening_home(app, home):
    html = _client(app, "curator_n").get("/admin/").get_data(as_text=True)

    figures = _figures(html)
    # mine: 3 open in north (the closed one and the south one out of scope are not counted)
    assert {key: figures[key] for key in TILES} == {"mine": "3", "unassigned": "2", "breached": "1", "due": "2",
                                                   "unread": "2"}
    # other work: north's own plus the rows with no contract (nobody's branch)
    assert (figures["readings"], figures["acts"], figures["orders"], figures["questions"]) == ("1", "0", "2", "2")
    assert "outbox_failed" not in figures and "Операции" not in html


def test_curator_of_another_branch_never_sees_north_numbers(app, home):
    html = _client(app, "curator_s").get("/admin/").get_data(as_text=True)

    figures = _figures(html)
    assert {key: figures[key] for key in TILES} == {"mine": "0", "unassigned": "3", "breached": "4", "due": "0",
                                                   "unread": "3"}
    assert (figures["readings"], figures["orders"], figures["questions"]) == ("1", "2", "2")


def test_admin_sees_every_branch_and_operations_when_opening_home(app, home):
    html = _client(app, "boss").get("/admin/").get_data(as_text=True)

    figures = _figures(html)
    assert {key: figures[key] for key in TILES} == {"mine": "0", "unassigned": "5", "breached": "5", "due": "2",
                                                   "unread": "5"}
    assert (figures["readings"], figures["orders"], figures["questions"]) == ("2", "3", "3")
    assert (figures["outbox_failed"], figures["tasks_failed"], figures["jobs_failed"]) == ("1", "0", "0")
    assert 'href="/admin/operations/"' in html


def test_tile_links_open_the_desk_with_the_filter_that_gives_the_same_number(app, home):
    client = _client(app, "curator_n")
    html = client.get("/admin/").get_data(as_text=True)
    figures, links = _figures(html), _links(html)

    with app.app_context():
        curator = db.session.get(CrmUser, home.curator_n)
        for key in TILES:
            url = urlsplit(links[key])
            assert url.path == "/admin/appeals/"
            chosen = appeal_desk.parse_filter(dict(parse_qsl(url.query)))
            assert appeal_desk.queue(curator, chosen).total == int(figures[key]), key
    assert dict(parse_qsl(urlsplit(links["due"]).query))["hours"] == "24"
    assert client.get(links["breached"]).status_code == 200
    assert urlsplit(links["readings"]).query == f"branch={home.north}"
    assert dict(parse_qsl(urlsplit(links["orders"]).query)) == {"_flt_3_status": "new"}


def test_order_and_question_links_list_only_the_new_ones(app, home):
    client = _client(app, "curator_n")
    links = _links(client.get("/admin/").get_data(as_text=True))

    orders = client.get(links["orders"]).get_data(as_text=True)
    questions = client.get(links["questions"]).get_data(as_text=True)

    assert "У-0" in orders and "У-3" not in orders          # У-3 is done
    assert questions.count("q@example.com") == 3            # the answered one is filtered out


def test_chart_counts_appeals_opened_and_closed_per_day_in_scope(app, home):
    html = _client(app, "curator_n").get("/admin/").get_data(as_text=True)

    rows = dict((day, (int(opened), int(closed))) for day, opened, closed in re.findall(
        r'<tr><th scope="row">([\d.]+)</th><td>(\d+)</td><td>(\d+)</td></tr>', html))
    assert len(rows) == 14 and "<svg" in html and 'role="img"' in html
    # today: five north appeals opened an hour ago, one north appeal closed; the south ones are not here
    assert rows["10.03.2026"] == (5, 1)
    assert rows["08.03.2026"] == (1, 0)
    assert rows["07.03.2026"] == (0, 0)


def test_empty_state_says_there_is_no_work_when_curator_has_no_appeals(app, db):
    ensure_appeal_definitions(commit=False)
    branch = f.branch()
    curator = f.user("lonely@energo.example", username="lonely", roles=("Curator",))
    f.curator(branch, user_id=curator.id)
    db.session.commit()

    html = _client(app, "lonely").get("/admin/").get_data(as_text=True)

    assert 'data-empty="appeals"' in html and "Нет обращений в работе" in html
    assert "Нет показаний, заказов и вопросов, ожидающих обработки" in html


def test_statements_do_not_grow_with_appeals_when_opening_home(app, home, query_counter):
    client = _client(app, "curator_n")
    client.get("/admin/")

    def statements() -> int:
        with query_counter() as counted:
            assert client.get("/admin/").status_code == 200
        return counted.count

    few = statements()
    with app.app_context():
        from crm.models import Contract

        contract = db.session.scalars(select(Contract).where(Contract.branch_id == home.north)).first()
        customer = db.session.scalars(select(CrmUser).where(CrmUser.email == "director@north.example")).one()
        me = db.session.get(CrmUser, home.curator_n)
        for k in range(45):
            _appeal(customer, contract, assignee=me if k % 2 else None, due_in=timedelta(hours=k - 20),
                    unread=k % 3 == 0, created_ago=timedelta(days=k % 14, hours=1))
        db.session.commit()
    many = statements()

    # FAB: user, session, groups, permissions (4–5); the home: branches, the appeal pass, the other counts
    assert few == many and many <= 8


def test_customer_is_sent_to_portal_when_opening_staff_home(app, db, client):
    contract = f.contract()
    f.grant(f.user("buh@zavod.example"), contract, "accountant")
    db.session.commit()
    f.login(client, "buh@zavod.example")

    response = client.get("/admin/")

    assert response.status_code == 302 and "/portal" in response.headers["Location"]


def test_home_is_russian_by_default_and_english_when_staff_switch_language(app, home):
    client = _client(app, "curator_n")
    russian = client.get("/admin/").get_data(as_text=True)
    client.get("/lang/en")
    english = client.get("/admin/").get_data(as_text=True)

    assert "Назначены мне, открытые" in russian and "Assigned to me, open" not in russian
    assert "Assigned to me, open" in english and "SLA due within 24 hours" in english


def test_admin_sees_failed_rq_jobs_when_jobs_go_to_redis(rq_app, redis_server):
    from workflows.queue import get_rq_queue

    queue = get_rq_queue()
    queue.connection.zadd(queue.failed_job_registry.key, {"job-a": 1, "job-b": 2})
    f.user("ops@energo.example", username="ops", roles=("Admin",))
    db.session.commit()
    client = rq_app.test_client()
    assert f.staff_login(client, "ops").status_code == 302

    html = client.get("/admin/").get_data(as_text=True)

    assert _figures(html)["jobs_failed"] == "2"
    assert "очередь недоступна" not in html


def test_home_answers_200_saying_the_queue_is_unavailable_when_redis_is_down(rq_app, redis_server):
    f.user("ops@energo.example", username="ops", roles=("Admin",))
    db.session.add(EmailOutbox(to_address="x@example.com", subject="Счёт", body_text="…", status="failed"))
    db.session.commit()
    client = rq_app.test_client()
    assert f.staff_login(client, "ops").status_code == 302
    redis_server.stop()

    response = client.get("/admin/")

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Задания очереди с ошибкой: очередь недоступна" in html
    assert _figures(html)["outbox_failed"] == "1"


def test_auditor_reads_every_branch_and_billing_operator_gets_no_appeal_numbers(app, home):
    with app.app_context():
        f.user("audit@energo.example", username="audit", roles=("Auditor",))
        f.user("billing@energo.example", username="billing", roles=("Billing operator",))
        db.session.commit()

    auditor = _figures(_client(app, "audit").get("/admin/").get_data(as_text=True))
    billing = _client(app, "billing").get("/admin/").get_data(as_text=True)

    assert {key: auditor[key] for key in ("unassigned", "breached", "readings")} == {
        "unassigned": "5", "breached": "5", "readings": "2"}
    assert "outbox_failed" not in auditor
    assert _figures(billing) == {} and "Выберите раздел в меню выше" in billing
