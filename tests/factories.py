"""Small builders for test data: realistic requisites, one call per thing a test needs."""
from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

from flask import current_app

from crm import clock
from crm.extensions import db
from crm.models import (
    CUSTOMER_ROLE,
    Branch,
    Contract,
    ContractAccess,
    Counterparty,
    Curator,
    EnergyObject,
    Meter,
    MeteringPoint,
    Register,
)
from crm.validators import complete_inn

_seq = itertools.count(1)
PASSWORD = "Test2026pass"


def branch(**kw) -> Branch:
    n = next(_seq)
    obj = Branch(code=kw.pop("code", f"{n:02d}"), name=kw.pop("name", f"Филиал {n}"), **kw)
    db.session.add(obj)
    db.session.flush()
    return obj


def counterparty(**kw) -> Counterparty:
    n = next(_seq)
    obj = Counterparty(full_name=kw.pop("full_name", f"Общество с ограниченной ответственностью «Тест {n}»"),
                       short_name=kw.pop("short_name", f"ООО «Тест {n}»"),
                       inn=kw.pop("inn", complete_inn(f"77{n:07d}")),
                       partner_code=kw.pop("partner_code", f"{1000000 + n}"), **kw)
    db.session.add(obj)
    db.session.flush()
    return obj


def contract(counterparty_=None, branch_=None, **kw) -> Contract:
    n = next(_seq)
    obj = Contract(number=kw.pop("number", f"{77000000000000 + n:014d}"),
                   counterparty=counterparty_ or counterparty(), branch=branch_ or branch(),
                   signed_on=kw.pop("signed_on", date(2023, 1, 1)), starts_on=kw.pop("starts_on", date(2023, 1, 1)),
                   **kw)
    db.session.add(obj)
    db.session.flush()
    return obj


def energy_object(contract_: Contract, **kw) -> EnergyObject:
    n = next(_seq)
    obj = EnergyObject(contract=contract_, code=kw.pop("code", f"EO-{n:04d}"), name=kw.pop("name", f"Объект {n}"),
                       address=kw.pop("address", f"г. Москва, ул. Тестовая, д. {n}"), **kw)
    db.session.add(obj)
    db.session.flush()
    return obj


def meter(energy_object_: EnergyObject, zones=("all_day",), **kw) -> Meter:
    n = next(_seq)
    point = MeteringPoint(energy_object=energy_object_, name=f"ТУ {n}", losses_percent=Decimal("0"),
                          transformation_ratio=Decimal("1"))
    obj = Meter(metering_point=point, serial=kw.pop("serial", f"SN{n:08d}"), model=kw.pop("model", "Меркурий 230"),
                **kw)
    for position, zone in enumerate(zones):
        obj.registers.append(Register(zone=zone, direction="A+", position=position))
    db.session.add(obj)
    db.session.flush()
    return obj


def user(email: str | None = None, *, roles=(CUSTOMER_ROLE,), password: str = PASSWORD, **kw):
    """A user with FAB roles (customers by default), e-mail confirmed."""
    sm = current_app.appbuilder.sm
    n = next(_seq)
    email = email or f"user{n}@test.example"
    role_objs = [sm.find_role(name) for name in roles]
    created = sm.add_user(username=kw.pop("username", email), first_name=kw.pop("first_name", "Иван"),
                          last_name=kw.pop("last_name", "Петров"), email=email, role=role_objs, password=password)
    assert created, "add_user failed"
    created.email_confirmed_at = clock.now()
    for key, value in kw.items():
        setattr(created, key, value)
    db.session.flush()
    return created


def grant(user_, contract_: Contract, role: str, objects=None) -> ContractAccess:
    access = ContractAccess(user_id=user_.id, contract_id=contract_.id, role=role, confirmed_at=clock.now())
    if objects:
        access.energy_objects = list(objects)
    db.session.add(access)
    db.session.flush()
    return access


def curator(branch_: Branch, **kw) -> Curator:
    obj = Curator(branch=branch_, full_name=kw.pop("full_name", "Смирнова Анна Викторовна"),
                  phone=kw.pop("phone", "+7 495 000-00-00"), email=kw.pop("email", "curator@energo.example"), **kw)
    db.session.add(obj)
    db.session.flush()
    return obj


def login(client, login_: str, password: str = PASSWORD):
    """Sign in through the portal form."""
    return client.post("/portal/login", data={"login": login_, "password": password})


def staff_login(client, username: str, password: str = PASSWORD):
    """Sign in through FAB's /login/."""
    return client.post("/login/", data={"username": username, "password": password})


# --- Appeals: a small workflow, form and catalogue of their own (engine tests; issue 6) -----------

#: states of the test workflow: code → (is_initial, is_closing, sla_hours, sla_paused, dialogue_allowed)
SUPPORT_STATES = {
    "new": (True, False, 24, False, True),
    "in_progress": (False, False, 72, False, True),
    "waiting_customer": (False, False, None, True, True),
    "closed": (False, True, None, False, False),
    "withdrawn": (False, True, None, False, False),
}
#: (from, to, allowed role, label)
SUPPORT_TRANSITIONS = [
    ("new", "in_progress", "Curator", "Take into work"),
    ("in_progress", "waiting_customer", "Curator", "Ask the customer"),
    ("waiting_customer", "in_progress", "Curator", "Resume"),
    ("in_progress", "closed", "Curator", "Close"),
    ("new", "withdrawn", "customer", "Withdraw"),
]


def workflow_definition(code: str = "support", version: int = 1, *, is_current: bool = True,
                        states: dict | None = None, transitions: list | None = None):
    """A workflow version built from SUPPORT_STATES / SUPPORT_TRANSITIONS (or the given ones)."""
    from crm.models import WorkflowDefinition, WorkflowState, WorkflowTransition

    definition = WorkflowDefinition(code=code, version=version, name=f"Workflow {code}", is_current=is_current)
    db.session.add(definition)
    by_code = {}
    for position, (state_code, flags) in enumerate((states or SUPPORT_STATES).items()):
        initial, closing, sla_hours, paused, dialogue = flags
        by_code[state_code] = WorkflowState(workflow=definition, code=state_code, staff_label=f"Staff {state_code}",
                                            customer_label=f"Customer {state_code}", position=position,
                                            is_initial=initial, is_closing=closing, sla_hours=sla_hours,
                                            sla_paused=paused, dialogue_allowed=dialogue)
        db.session.add(by_code[state_code])
    for source, target, role, label in (transitions if transitions is not None else SUPPORT_TRANSITIONS):
        db.session.add(WorkflowTransition(workflow=definition, from_state=by_code[source], to_state=by_code[target],
                                          allowed_role=role, label=label))
    db.session.flush()
    return definition


def appeal_form(code: str = "support_form", version: int = 1):
    """A two-step form: a required description, then an optional document and a phone with a regex."""
    from crm.models import FormDefinition, FormField, FormStep

    form = FormDefinition(code=code, version=version, name="Support form", is_current=True)
    first = FormStep(form=form, position=0, title="Problem")
    second = FormStep(form=form, position=1, title="Documents")
    first.fields = [FormField(position=0, name="description", label="Description", field_type="long_text",
                              required=True)]
    second.fields = [FormField(position=0, name="document", label="Document", field_type="file"),
                     FormField(position=1, name="phone", label="Phone", field_type="text",
                               regex=r"\+7\d{10}", help_text="+7XXXXXXXXXX")]
    db.session.add(form)
    db.session.flush()
    return form


def appeal_section(*, workflow_code: str = "support", form_code: str | None = "support_form",
                   requires_contract: bool = False, name: str = "Технические вопросы"):
    """A topic with one active section (and one subsection) naming the workflow and form codes."""
    from crm.models import AppealTopic

    n = next(_seq)
    topic = AppealTopic(level="topic", code=f"topic{n}", name="Техническая поддержка", position=n)
    section = AppealTopic(level="section", code=f"section{n}", name=name, parent=topic, position=0,
                          form_code=form_code, workflow_code=workflow_code, requires_contract=requires_contract)
    AppealTopic(level="subsection", code=f"subsection{n}", name="Вход в личный кабинет", parent=section,
                position=0)
    db.session.add(topic)
    db.session.flush()
    return section


# --- Notifications: one delivered notification per call, as the fan-out would leave it (issue 7) ------

def delivery(user_, subject: str, *, kind: str = "bell", body: str = "Текст уведомления.", delivered_at=None,
             read_at=None, **notification_fields):
    """A notification addressed to `user_` alone and its delivery row (display window etc. as keywords)."""
    from crm.models import Notification, NotificationDelivery

    at = delivered_at or clock.now()
    notification = Notification(kind=kind, subject=subject, body_markdown=body, audience={"type": "user",
                                                                                          "ids": [user_.id]},
                                created_at=at, sent_at=at, **notification_fields)
    db.session.add(notification)
    db.session.flush()
    obj = NotificationDelivery(notification_id=notification.id, user_id=user_.id, delivered_at=at, read_at=read_at)
    db.session.add(obj)
    db.session.flush()
    return obj
