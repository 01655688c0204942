"""The back-office home in headless Chromium (issue 8): a curator signs in, reads their numbers and the
chart, and a tile opens the appeal queue with its filter applied."""
from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from crm import clock
from crm.extensions import db
from crm.models import Appeal, AppealTopic
from crm.services.appeal_definitions import ensure_appeal_definitions
from crm.services.appeal_forms import current_workflow
from tests import factories as f


@pytest.fixture()
def morning(app):
    """A branch with its curator and three open appeals: one breached, assigned to the curator."""
    with app.app_context():
        ensure_appeal_definitions()
        branch = f.branch(name="Центральный филиал")
        contract = f.contract(f.counterparty(short_name="ООО «Утро»"), branch)
        customer = f.user("morning@journey.example")
        curator = f.user("home-curator@energo.example", username="home-curator", roles=("Curator",))
        f.curator(branch, user_id=curator.id)
        section = db.session.scalars(select(AppealTopic).where(AppealTopic.code == "support_other")).one()
        workflow = current_workflow(section)
        now = clock.now()
        for n, (assignee, due) in enumerate(((curator, -2), (None, 5), (None, 40)), start=1):
            db.session.add(Appeal(
                number=f"{900 + n:07d}-26-{branch.code}-Ю-Л", sequence=900 + n, author_id=customer.id,
                contract_id=contract.id, branch_id=branch.id, topic_id=section.parent_id, section_id=section.id,
                workflow_id=workflow.id, state_code=next(s.code for s in workflow.states if s.is_initial),
                channel="portal", title=f"Утреннее обращение {n}", form_data={}, created_at=now,
                last_message_at=now, state_entered_at=now, staff_unread=True,
                sla_due_at=now + timedelta(hours=due), assignee_id=assignee.id if assignee else None))
        db.session.commit()


def test_curator_opens_breached_appeals_from_home_when_starting_the_day(page, live_server, morning):
    page.goto(live_server + "/login/")
    page.fill("input[name=username]", "home-curator")
    page.fill("input[name=password]", f.PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.goto(live_server + "/admin/")

    expect(page.locator('[data-figure="unassigned"] .staff-home-count')).to_have_text("2")
    expect(page.locator('[data-figure="breached"] .staff-home-count')).to_have_text("1")
    expect(page.get_by_role("img", name="Поступившие и закрытые обращения по дням")).to_be_visible()

    page.click('[data-figure="breached"]')

    assert "/admin/appeals/" in page.url and "sla=breached" in page.url
    expect(page.get_by_text("Утреннее обращение 1")).to_be_visible()
    expect(page.get_by_text("Утреннее обращение 2")).to_have_count(0)
