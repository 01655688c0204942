"""Customers for the reliability suites, built with the app's own factories and services."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal


@dataclass
class Customer:
    """A signed-up customer: their e-mail, contract, the registers of its meters and their two appeals."""
    email: str
    contract_id: int
    register_ids: list[int]
    appeal_ids: list[int]


def seed_customers(count: int, password: str) -> list[Customer]:
    """`count` customers (`load000@load.example`, … with `password`), each administrator of their own contract
    (one branch for all) with an object and two meters (one day/night: three registers), six months of
    accepted readings (1000 in the last month, 100 a month), an open readings window for this month, two
    appeals in the "new" state (dialogue open; one about the contract) and three notifications."""
    from crm import clock
    from crm.extensions import db
    from crm.models import Reading, ReadingsWindow
    from crm.services.readings import add_months
    from tests import factories as f
    from workflows import appeals

    today = clock.today()
    period = today.replace(day=1)
    db.session.add(ReadingsWindow(period=period, opens_on=period, closes_on=today + timedelta(days=7)))
    f.workflow_definition()
    f.appeal_form()
    section = f.appeal_section()
    branch = f.branch()
    customers = []
    for n in range(count):
        contract = f.contract(branch_=branch)
        obj = f.energy_object(contract)
        registers = f.meter(obj).registers + f.meter(obj, zones=("day", "night")).registers
        for register in registers:
            for months_back in range(1, 7):   # 1000, 900, … 500: 100 a month, so up to 300 is not a "jump"
                db.session.add(Reading(register_id=register.id, period=add_months(period, -months_back),
                                       value=Decimal(1100 - 100 * months_back), consumption=Decimal(100),
                                       source="billing", status="accepted"))
        user = f.user(f"load{n:03d}@load.example", password=password)
        f.grant(user, contract, "administrator")
        for subject in ("Плановое отключение", "Новый тариф", "Показания за месяц"):
            f.delivery(user, subject)
        db.session.commit()
        appeal_ids = [appeals.submit_appeal(user, section_id=section.id, subsection_id=section.children[0].id,
                                            contract_id=contract.id if k else None,
                                            form_data={"description": f"Вопрос {k + 1} клиента {n}"}).id
                      for k in range(2)]
        customers.append(Customer(user.email, contract.id, [r.id for r in registers], appeal_ids))
    return customers
