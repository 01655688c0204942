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
