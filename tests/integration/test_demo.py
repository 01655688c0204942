"""`flask crm seed-demo`: the demo logins work and the data is what the README promises."""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from flask import g
from sqlalchemy import func, select

from crm.models import (
    Appeal,
    AppealAttachment,
    AppealDraft,
    BillingDocument,
    CannedReply,
    Contract,
    ContractAccess,
    Counterparty,
    CrmUser,
    EnergyObject,
    Meter,
    MeteringPoint,
    Payment,
    Reading,
    Register,
    WorkflowDefinition,
)
from crm.services.appeal_config import placeholder_problems
from crm.services.appeal_forms import validate_all
from crm.services.demo import DEMO_LOGINS, seed_demo
from crm.validators import is_valid_contract_number, is_valid_inn

CUSTOMERS = [login for login, _password, _what in DEMO_LOGINS if "@" in login]
STAFF = [(login, password) for login, password, _what in DEMO_LOGINS if "@" not in login]


@pytest.fixture()
def demo(db):
    assert seed_demo() is True
    return db


def _access(db, login: str) -> list[ContractAccess]:
    """The user's roles, leaving out seed 003's 2016 demo contract (tests/integration/test_settlements.py)."""
    from crm.services.demo_seed003 import CONTRACT_NUMBER

    user = db.session.scalar(select(CrmUser).where(CrmUser.username == login))
    return [access for access in db.session.scalars(select(ContractAccess).where(ContractAccess.user_id == user.id))
            if access.contract.number != CONTRACT_NUMBER]


def _shared_contract(db) -> Contract:
    (manager_access,) = _access(db, "manager@demo.example")
    return manager_access.contract


def test_every_demo_login_signs_in_when_the_demo_is_seeded(demo, app):
    assert {login for login, _p, _w in DEMO_LOGINS} == {
        "admin", "curator", "director@demo.example", "manager@demo.example", "engineer@demo.example",
        "accountant@demo.example", "other@demo.example", "household@demo.example"}
    for login, password, _what in DEMO_LOGINS:
        # Requests share the test's app context, so forget the previous request's user.
        g.pop("_login_user", None)
        g.pop("user", None)
        client = app.test_client()
        if "@" in login:
            response = client.post("/portal/login", data={"login": login, "password": password})
        else:
            response = client.post("/login/", data={"username": login, "password": password})
        assert response.status_code == 302, login
        user = demo.session.scalar(select(CrmUser).where(CrmUser.username == login))
        with client.session_transaction() as session:
            assert session.get("_user_id") == str(user.id), login
    staff_roles = {login: [r.name for r in demo.session.scalar(select(CrmUser).where(CrmUser.username == login)).roles]
                   for login, _p in STAFF}
    assert staff_roles == {"admin": ["Admin"], "curator": ["Curator"]}


def test_customers_are_confirmed_customers_with_confirmed_roles(demo):
    for login in CUSTOMERS:
        user = demo.session.scalar(select(CrmUser).where(CrmUser.username == login))
        assert user.email == login and user.email_confirmed_at is not None
        assert [r.name for r in user.roles] == ["Customer"]
        accesses = _access(demo, login)
        assert accesses and all(a.confirmed_at is not None for a in accesses)


def test_director_administers_two_contracts_of_one_counterparty_shared_with_three_colleagues(demo):
    director = _access(demo, "director@demo.example")
    assert len(director) == 2 and {a.role for a in director} == {"administrator"}
    assert len({a.contract.counterparty_id for a in director}) == 1
    shared = _shared_contract(demo)
    assert shared.id in {a.contract_id for a in director}
    roles = {login: [(a.contract_id, a.role) for a in _access(demo, login)]
             for login in ("manager@demo.example", "engineer@demo.example", "accountant@demo.example")}
    assert roles == {"manager@demo.example": [(shared.id, "manager")],
                     "engineer@demo.example": [(shared.id, "power_engineer")],
                     "accountant@demo.example": [(shared.id, "accountant")]}
    (engineer,) = _access(demo, "engineer@demo.example")
    scope = {o.id for o in engineer.energy_objects}
    all_objects = set(demo.session.scalars(select(EnergyObject.id).where(EnergyObject.contract_id == shared.id)))
    assert scope and scope < all_objects


def test_other_customer_cannot_see_the_shared_contract_but_sees_its_own(demo, client):
    shared = _shared_contract(demo)
    (own,) = _access(demo, "other@demo.example")
    assert own.role == "manager" and own.contract.counterparty_id != shared.counterparty_id
    client.post("/portal/login", data={"login": "other@demo.example", "password": "Demo2026pass"})
    assert client.get(f"/portal/contracts/{shared.id}/").status_code == 404
    assert client.get(f"/portal/contracts/{own.contract_id}/").status_code == 200


def test_household_has_one_flat_with_a_day_night_meter(demo):
    (access,) = _access(demo, "household@demo.example")
    contract = access.contract
    assert contract.counterparty.person_type == "individual" and contract.kind == "electricity"
    objects = list(demo.session.scalars(select(EnergyObject).where(EnergyObject.contract_id == contract.id)))
    assert [o.name for o in objects] in (["Квартира"], ["Дом"])
    meters = list(demo.session.scalars(select(Meter).join(MeteringPoint).where(
        MeteringPoint.energy_object_id == objects[0].id)))
    assert len(meters) == 1
    assert sorted(r.zone for r in meters[0].registers) == ["day", "night"]


def test_requisites_are_valid(demo):
    counterparties = demo.session.scalars(select(Counterparty)).all()
    assert len(counterparties) >= 5
    assert all(is_valid_inn(c.inn) for c in counterparties)
    assert {c.person_type for c in counterparties} == {"legal", "sole_proprietor", "individual"}
    contracts = demo.session.scalars(select(Contract)).all()
    assert all(is_valid_contract_number(c.number) for c in contracts)
    assert {c.kind for c in contracts} == {"heat", "electricity"}
    assert {"III", "IV"} <= {c.price_category for c in contracts}
    assert all(c.payment_terms and c.emails and c.curators and c.tariff for c in contracts)


def test_readings_span_two_years_and_follow_the_consumption_rule(demo):
    rows = demo.session.execute(
        select(Reading, MeteringPoint.transformation_ratio, MeteringPoint.losses_percent, Meter.digits_integer)
        .join(Register, Register.id == Reading.register_id).join(Meter).join(MeteringPoint)
        .order_by(Reading.register_id, Reading.period)).all()
    accepted: dict[int, list[date]] = {}
    last: dict[int, Decimal] = {}
    for reading, ratio, losses, digits in rows:
        if reading.register_id in last:
            assert reading.previous_value == last[reading.register_id]
        assert reading.value > reading.previous_value and reading.value < 10 ** digits
        expected = (reading.value - reading.previous_value) * ratio * (1 + losses / 100)
        assert abs(reading.consumption - expected) < Decimal("0.001")
        last[reading.register_id] = reading.value
        if reading.status == "accepted":
            assert reading.source == "billing"
            accepted.setdefault(reading.register_id, []).append(reading.period)
    registers = demo.session.scalar(select(func.count(Register.id)))
    assert len(accepted) == registers
    for periods in accepted.values():
        first, latest = periods[0], periods[-1]
        assert len(periods) == 24
        assert (latest.year - first.year) * 12 + latest.month - first.month == 23
    submitted = demo.session.scalars(select(Reading).where(Reading.status == "submitted")).all()
    assert submitted and {r.source for r in submitted} <= {"portal", "file"}


def test_billing_has_two_years_of_documents_a_debt_and_matching_payments(demo):
    shared = _shared_contract(demo)
    docs = demo.session.scalars(select(BillingDocument).where(BillingDocument.contract_id == shared.id)).all()
    kinds = {d.doc_type for d in docs}
    assert {"invoice", "bill", "corrective_invoice", "reconciliation_act", "penalty_claim",
            "acceptance_act"} <= kinds
    invoices = [d for d in docs if d.doc_type == "invoice"]
    assert len(invoices) == 24 and all(isinstance(d.amount, Decimal) and d.amount > 0 for d in invoices)
    assert sum(len([d for d in docs if d.doc_type == "bill" and d.period == i.period]) for i in invoices) == 48
    assert any(d.amount_due > 0 for d in docs)
    payments = demo.session.scalars(select(Payment).where(Payment.contract_id == shared.id)).all()
    assert len(payments) > 40 and all(p.document_id and p.bank and p.number and p.purpose for p in payments)


def test_appeals_exist_in_every_workflow_state_with_a_dialogue(demo):
    appeals = demo.session.scalars(select(Appeal)).all()
    workflows = {w.code: w for w in demo.session.scalars(select(WorkflowDefinition))}
    used = {code: {a.state_code for a in appeals if a.workflow_id == w.id} for code, w in workflows.items()}
    assert used["default"] == {s.code for s in workflows["default"].states}
    assert used["access_rights"] == {"new", "granted", "rejected"}
    assert any(m.from_staff for a in appeals for m in a.messages)
    assert all(not m.from_staff for a in appeals for m in a.messages[:1])
    assert all(re.fullmatch(r"\d{7}-\d{2}-\d{2}-[ЮИФ]-[ЛП]", a.number) for a in appeals)
    assert all(a.number.endswith(a.person_type) for a in appeals)


def test_demo_appeal_form_data_passes_its_pinned_form_when_loaded(demo):
    appeals = demo.session.scalars(select(Appeal)).all()
    for appeal in appeals:
        assert appeal.form is not None and appeal.form.code == appeal.section.form_code
        assert validate_all(appeal.form, appeal.form_data) is not None, appeal.title
        for field, names in appeal.form_data.items():
            if isinstance(names, list):
                stored = [f.filename for f in demo.session.scalars(select(AppealAttachment).where(
                    AppealAttachment.appeal_id == appeal.id, AppealAttachment.field_name == field))]
                assert stored == names
    replies = demo.session.scalars(select(CannedReply)).all()
    assert replies and all(placeholder_problems(r.body) == [] for r in replies)
    assert any(r.section is not None and r.section.code == "access_rights" for r in replies)
    drafts = demo.session.scalars(select(AppealDraft)).all()
    assert {d.form.code for d in drafts} >= {"energy_supply_contract"}
    for draft in drafts:
        done = [step.fields for step in draft.form.steps[:draft.steps_completed]]
        for fields in done:
            assert not [f.name for f in fields if f.required and f.field_type != "file"
                        and f.name not in draft.form_data]


def test_second_seed_if_empty_changes_nothing(demo):
    tables = [t for t in demo.metadata.sorted_tables if not t.name.startswith("ab_permission")]
    before = {t.name: demo.session.scalar(select(func.count()).select_from(t)) for t in tables}
    assert seed_demo(only_if_empty=True) is False
    after = {t.name: demo.session.scalar(select(func.count()).select_from(t)) for t in tables}
    assert after == before


def test_a_failing_seed_leaves_nothing_behind(db, monkeypatch):
    import crm.services.demo_desk as desk

    def broken(builder):
        raise RuntimeError("boom")

    monkeypatch.setattr(desk, "seed_desk", broken)
    with pytest.raises(RuntimeError, match="boom"):
        seed_demo()
    assert db.session.scalar(select(func.count(Contract.id))) == 0
    assert db.session.scalar(select(func.count(CrmUser.id))) == 0
