"""The appeals report (SPEC B8, issue 6 item 8): counts by status, section, curator and branch, SLA
compliance, average first response and resolution, the xlsx export, branch scoping for curators, a
constant number of statements, and a clear message for a bad period."""
from __future__ import annotations

import io
import itertools
from datetime import UTC, date, datetime, timedelta

import openpyxl
import pytest
from sqlalchemy import select

from crm import clock
from crm.extensions import db
from crm.models import Appeal, AppealTopic, WorkflowDefinition
from crm.services import appeal_reports as reports
from crm.services.appeal_definitions import ensure_appeal_definitions
from tests import factories as f

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
_seq = itertools.count(900000)


@pytest.fixture(autouse=True)
def _frozen_clock():
    clock.set_now(NOW)
    yield
    clock.set_now(None)


def _appeal(author, contract, section, *, state, created, branch, assignee=None, first_response_h=None,
            closed_h=None, due=None, escalated=False):
    workflow = db.session.scalar(select(WorkflowDefinition).where(
        WorkflowDefinition.code == (section.workflow_code or "default"), WorkflowDefinition.is_current.is_(True)))
    seq = next(_seq)
    appeal = Appeal(number=f"{seq:07d}-26-{branch.code}-Ю-Л", sequence=seq, author_id=author.id,
                    contract_id=contract.id, branch_id=branch.id, topic_id=section.parent_id, section_id=section.id,
                    workflow_id=workflow.id, state_code=state, title="Вопрос",
                    assignee_id=assignee.id if assignee else None,
                    created_at=created, last_message_at=created, state_entered_at=created, sla_due_at=due,
                    first_response_at=created + timedelta(hours=first_response_h) if first_response_h else None,
                    closed_at=created + timedelta(hours=closed_h) if closed_h else None,
                    escalated_at=created + timedelta(hours=30) if escalated else None)
    db.session.add(appeal)
    return appeal


@pytest.fixture()
def site(app):
    """Branch N: three appeals (one closed in 10 h, one open and breached, one open within its SLA);
    branch S: one closed appeal; one appeal filed long before the period."""
    with app.app_context():
        ensure_appeal_definitions()
        tag = next(_seq)
        north, south = f.branch(code=f"N{tag % 1000}", name=f"Северный {tag}"), \
            f.branch(code=f"S{tag % 1000}", name=f"Южный {tag}")
        customer = f.user(f"report{tag}@example.com")
        contract_n = f.contract(f.counterparty(), north)
        contract_s = f.contract(f.counterparty(), south)
        curator_user = f.user(f"curator{tag}@energo.example", roles=("Curator",))
        admin = f.user(f"report-admin{tag}@energo.example", roles=("Admin",))
        f.curator(north, user_id=curator_user.id, full_name="Кураторова Анна")
        support = db.session.scalar(select(AppealTopic).where(AppealTopic.code == "support_other"))
        readings = db.session.scalar(select(AppealTopic).where(AppealTopic.code == "readings_question"))
        day = NOW - timedelta(days=5)
        _appeal(customer, contract_n, support, state="closed", created=day, branch=north, assignee=curator_user,
                first_response_h=2, closed_h=10)
        _appeal(customer, contract_n, readings, state="in_progress", created=day, branch=north, assignee=curator_user,
                first_response_h=4, due=NOW - timedelta(hours=3))
        _appeal(customer, contract_n, readings, state="new", created=NOW - timedelta(days=1), branch=north,
                due=NOW + timedelta(hours=20))
        _appeal(customer, contract_s, support, state="closed", created=day, branch=south, first_response_h=6,
                closed_h=30, escalated=True)
        _appeal(customer, contract_s, support, state="new", created=NOW - timedelta(days=90), branch=south)
        db.session.commit()
        yield dict(north=north.id, south=south.id, curator=curator_user.username, admin=admin.username)


def test_report_counts_groupings_and_sla_when_filtered_by_branch(app, site):
    with app.app_context():
        chosen = reports.parse_filter({"branch": str(site["north"])})
        report = reports.build_report(chosen)
    assert (report.total, report.open, report.closed) == (3, 2, 1)
    assert (report.with_sla, report.breached, report.sla_compliance) == (2, 1, 50.0)
    assert report.avg_first_response_hours == 3.0          # (2 h + 4 h) / 2
    assert report.avg_resolution_hours == 10.0
    by = {part.title: {row[0]: row[1:] for row in part.rows} for part in report.breakdowns}
    assert by["По статусам"] == {"Закрыто": (1, 0, 1), "В работе": (1, 1, 0), "Новое": (1, 1, 0)}
    assert by["По разделу"] == {"Вопрос по показаниям": (2, 2, 0), "Другой вопрос": (1, 0, 1)}
    assert sum(row[0] for row in by["По куратору"].values()) == 3
    assert by["По куратору"]["Не назначен"] == (1, 1, 0)
    assert sum(count for _day, count in report.per_day) == 3
    assert len(report.per_day) == 30


def test_states_are_named_by_the_appeals_own_workflow_when_codes_repeat(app, site):
    """"new" is «Новое» in the default workflow and «Новый запрос» in the access-rights one."""
    with app.app_context():
        from crm.models import Branch, CrmUser

        north = db.session.get(Branch, site["north"])
        customer = db.session.scalar(select(CrmUser).where(CrmUser.username == site["curator"]))
        access = db.session.scalar(select(AppealTopic).where(AppealTopic.code == "access_rights"))
        _appeal(customer, f.contract(f.counterparty(), north), access, state="new", created=NOW - timedelta(hours=2),
                branch=north)
        db.session.commit()
        report = reports.build_report(reports.parse_filter({"branch": str(site["north"])}))
    statuses = {row[0]: row[1] for row in report.breakdowns[0].rows}
    assert statuses["Новое"] == 1 and statuses["Новый запрос"] == 1


def test_period_excludes_older_appeals_and_every_branch_is_counted_without_a_filter(app, site):
    with app.app_context():
        everything = reports.build_report(reports.parse_filter({}))
        both = {site["north"], site["south"]}
        scoped = reports.build_report(reports.parse_filter({}), branch_ids=both)
    assert scoped.total == 4                       # the 90-day-old appeal is outside the last 30 days
    assert scoped.breached == 2 and scoped.with_sla == 3
    assert everything.total >= scoped.total


@pytest.mark.parametrize("args, message", [
    ({"from": "31.02.2026"}, "Введите дату начала в формате дд.мм.гггг."),
    ({"from": "2026-03-10", "to": "2026-03-01"}, "Начало периода позже его конца."),
    ({"from": "2024-01-01", "to": "2026-03-01"}, "Отчёт охватывает не больше года: сократите период."),
])
def test_bad_period_is_refused_with_a_specific_message(app, args, message):
    with app.test_request_context():
        with pytest.raises(reports.ReportError) as error:
            reports.parse_filter(args)
    assert error.value.messages == [message]


def test_admin_page_shows_figures_and_the_xlsx_has_the_same_numbers(app, site, client):
    f.staff_login(client, site["admin"])
    page = client.get(f"/admin/appeals/report/?branch={site['north']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "50,0 %" in html and "3,0" in html and "Вопрос по показаниям" in html
    assert "data-report-days" in html
    export = client.get(f"/admin/appeals/report/export?branch={site['north']}")
    assert export.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(export.data))
    summary = {row[0]: row[1] for row in book["Сводка"].iter_rows(values_only=True) if row[0]}
    assert summary["Обращения"] == 3 and summary["Нарушен срок"] == 1 and summary["Соблюдение срока, %"] == 50
    sections = {row[0]: row[1:] for row in book["По разделу"].iter_rows(min_row=2, values_only=True)}
    assert sections["Вопрос по показаниям"] == (2, 2, 0)


def test_curator_sees_only_their_branch(app, site, client):
    f.staff_login(client, site["curator"])
    html = client.get("/admin/appeals/report/").get_data(as_text=True)
    assert "Южный" not in html
    with app.app_context():
        from crm.models import CrmUser
        from crm.services.appeal_desk import desk_branch_ids

        user = db.session.scalar(select(CrmUser).where(CrmUser.username == site["curator"]))
        report = reports.build_report(reports.parse_filter({}), desk_branch_ids(user))
    assert report.total == 3


def test_report_costs_the_same_statements_with_more_appeals(app, site, client, query_counter):
    f.staff_login(client, site["admin"])
    client.get("/admin/appeals/report/")
    with query_counter() as few:
        client.get("/admin/appeals/report/")
    with app.app_context():
        customer = f.user(f"more{next(_seq)}@example.com")
        section = db.session.scalar(select(AppealTopic).where(AppealTopic.code == "support_other"))
        from crm.models import Branch

        branch = db.session.get(Branch, site["north"])
        contract = f.contract(f.counterparty(), branch)
        for k in range(20):
            _appeal(customer, contract, section, state="new", created=NOW - timedelta(hours=k + 1), branch=branch)
        db.session.commit()
    with query_counter() as many:
        client.get("/admin/appeals/report/")
    assert many.count == few.count


def test_report_dates_default_to_the_last_30_days(app):
    with app.test_request_context():
        chosen = reports.parse_filter({}, today=date(2026, 3, 20))
    assert (chosen.date_from, chosen.date_to) == (date(2026, 2, 19), date(2026, 3, 20))
