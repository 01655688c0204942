"""Back-office lists at scale (issue 8): typed filters on big relations, one statement per relation column."""
from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

from tests import factories as f

_seq = itertools.count(1)


def _admin(client) -> None:
    from crm.extensions import db

    username = f"lists_admin{next(_seq)}"
    f.user(f"{username}@energo.example", username=username, roles=("Admin",))
    db.session.commit()
    assert f.staff_login(client, username).status_code == 302


def _contracts(count: int):
    from crm.extensions import db
    from crm.models import BillingDocument, Payment

    contracts = []
    for n in range(count):
        contract = f.contract()
        db.session.add(BillingDocument(contract=contract, doc_type="invoice", number=f"СФ-{n}",
                                       doc_date=date(2024, 1, 1 + n), period=date(2024, 1, 1),
                                       amount=Decimal("100.00"), amount_due=Decimal("100.00"),
                                       due_date=date(2024, 2, 18)))
        db.session.add(Payment(contract=contract, number=f"ПП-{n}", paid_on=date(2024, 2, 1 + n),
                               amount=Decimal("50.00"), bank="Банк", purpose="Оплата"))
        contracts.append(contract)
    db.session.commit()
    return contracts


def test_list_search_forms_offer_typed_filters_instead_of_a_select_of_every_contract(app, db, client):
    contracts = _contracts(3)
    _admin(client)
    for path in ("/admin/documents/list/", "/admin/payments/list/"):
        page = client.get(path).get_data(as_text=True)
        for contract in contracts:
            assert page.count(contract.number) == 1, f"{path}: the number only in its row, not in a <select>"
        assert 'name="contract"' in page and "<select" not in page.split('name="contract"')[1][:200]
    page = client.get("/admin/contracts/list/").get_data(as_text=True)
    for contract in contracts:
        assert f'value="{contract.counterparty_id}"' not in page, "no counterparty <option> in the search form"


def test_documents_and_payments_filter_by_contract_number_typed_as_text(app, db, client):
    first, second, _third = _contracts(3)
    _admin(client)
    # Filter index 0 = "contract number equal to", 1 = "starts with".
    for path in ("/admin/documents/list/", "/admin/payments/list/"):
        page = client.get(f"{path}?_flt_0_contract={second.number}").get_data(as_text=True)
        assert second.number in page and first.number not in page
        page = client.get(f"{path}?_flt_1_contract={first.number[:-2]}").get_data(as_text=True)
        assert first.number in page and second.number in page  # same prefix in the factory's numbers
        page = client.get(f"{path}?_flt_1_contract=99%25").get_data(as_text=True)  # a typed % is literal
        assert first.number not in page and second.number not in page


def test_contracts_filter_by_counterparty_inn_and_name(app, db, client):
    first, second = _contracts(2)
    _admin(client)
    page = client.get(f"/admin/contracts/list/?_flt_0_counterparty={second.counterparty.inn}").get_data(as_text=True)
    assert second.number in page and first.number not in page
    name = first.counterparty.short_name
    page = client.get(f"/admin/contracts/list/?_flt_1_counterparty={name[4:]}").get_data(as_text=True)
    assert first.number in page and second.number not in page


def test_list_loads_each_relation_column_with_one_statement(app, db, client, query_counter):
    _contracts(2)
    _admin(client)
    client.get("/admin/payments/list/")
    with query_counter() as few:
        client.get("/admin/payments/list/")
    _contracts(10)
    with query_counter() as many:
        page = client.get("/admin/payments/list/")
    assert page.status_code == 200
    assert many.count == few.count, "a lazy load per row would add a statement per contract"


def _payment_form(contract_number: str, number: str) -> dict:
    return {"contract": contract_number, "paid_on": "2024-03-05", "number": number, "amount": "123.45",
            "status": "paid", "bank": "Банк", "purpose": "Оплата"}


def test_payment_form_takes_the_contract_number_typed_and_refuses_an_unknown_one(app, db, client):
    from sqlalchemy import select

    from crm.models import Payment

    first, second = _contracts(2)
    _admin(client)
    form = client.get("/admin/payments/add").get_data(as_text=True)
    assert second.number not in form, "no <option> per contract"
    assert client.post("/admin/payments/add", data=_payment_form(second.number, "ПП-new")).status_code == 302
    added = db.session.scalars(select(Payment).where(Payment.number == "ПП-new")).one()
    assert added.contract_id == second.id
    refused = client.post("/admin/payments/add", data=_payment_form("99999999999999", "ПП-bad"))
    assert refused.status_code == 200 and "99999999999999" in refused.get_data(as_text=True)
    assert db.session.scalars(select(Payment).where(Payment.number == "ПП-bad")).first() is None
    edit = client.get(f"/admin/payments/edit/{added.id}").get_data(as_text=True)
    assert f'value="{second.number}"' in edit
    assert client.post(f"/admin/payments/edit/{added.id}",
                       data=_payment_form(first.number, "ПП-new")).status_code == 302
    db.session.expire_all()
    assert db.session.get(Payment, added.id).contract_id == first.id


def test_contract_form_takes_the_counterparty_inn_and_asks_for_the_kpp_when_the_inn_is_shared(app, db, client):
    contract = _contracts(1)[0]
    head = f.counterparty(inn="7707083893", kpp="773601001")
    branch_office = f.counterparty(inn="7707083893", kpp="780243001")
    db.session.commit()
    _admin(client)
    form = client.get(f"/admin/contracts/edit/{contract.id}").get_data(as_text=True)
    assert f'value="{contract.counterparty.inn}"' in form
    data = {"number": contract.number, "account_number": "", "branch": str(contract.branch_id),
            "kind": contract.kind, "status": contract.status, "price_category": "",
            "signed_on": contract.signed_on.isoformat(), "starts_on": contract.starts_on.isoformat(),
            "ends_on": "", "contract_volume": "", "opening_balance": "0", "opening_balance_on": "", "tariff": ""}
    refused = client.post(f"/admin/contracts/edit/{contract.id}", data={**data, "counterparty": "7707083893"})
    assert refused.status_code == 200 and "7707083893" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert contract.counterparty_id not in (head.id, branch_office.id)
    saved = client.post(f"/admin/contracts/edit/{contract.id}", data={**data, "counterparty": "7707083893/780243001"})
    assert saved.status_code == 302
    db.session.expire_all()
    assert contract.counterparty_id == branch_office.id


def test_customer_360_lists_the_first_objects_of_a_big_contract_and_counts_all(app, db, client):
    from crm.services.customer360 import SHOWN_OBJECTS

    contract = f.contract()
    objects = [f.energy_object(contract, code=f"EO-C{i:03d}") for i in range(SHOWN_OBJECTS + 3)]
    for obj in objects:
        f.meter(obj)
    db.session.commit()
    _admin(client)
    page = client.get(f"/admin/customers/{contract.counterparty_id}").get_data(as_text=True)
    assert f"EO-C{SHOWN_OBJECTS - 1:03d}" in page and f"EO-C{SHOWN_OBJECTS:03d}" not in page
    assert "c360-objects-more" in page and str(SHOWN_OBJECTS + 3) in page.split("c360-objects-more")[1][:300]


def test_metering_lists_filter_by_typed_related_keys_without_a_select_of_every_row(app, db, client):
    first, second = _contracts(2)
    meters = [f.meter(f.energy_object(contract, code=f"EO-M{i}")) for i, contract in enumerate((first, second))]
    db.session.commit()
    _admin(client)
    objects = client.get(f"/admin/energy-objects/list/?_flt_0_contract={second.number}").get_data(as_text=True)
    assert "EO-M1" in objects and "EO-M0" not in objects
    registers = client.get(f"/admin/registers/list/?_flt_0_meter={meters[0].serial}").get_data(as_text=True)
    assert f'value="{meters[1].id}"' not in registers
    listing = client.get("/admin/meters/list/").get_data(as_text=True)
    point = meters[0].metering_point
    assert f'<option value="{point.id}"' not in listing, "no metering point <option> in the search form"
    found = client.get(f"/admin/meters/list/?_flt_0_metering_point={point.name}").get_data(as_text=True)
    assert meters[0].serial in found and meters[1].serial not in found


def test_metering_point_form_takes_the_object_by_its_id_and_refuses_text(app, db, client):
    from sqlalchemy import select

    from crm.models import MeteringPoint

    contract = _contracts(1)[0]
    obj = f.energy_object(contract)
    db.session.commit()
    _admin(client)
    assert f'<option value="{obj.id}"' not in client.get("/admin/metering-points/add").get_data(as_text=True)
    data = {"name": "ТУ typed", "voltage_level": "", "transformation_ratio": "1", "losses_percent": "0"}
    refused = client.post("/admin/metering-points/add", data={**data, "energy_object": "abc"})
    assert refused.status_code == 200
    assert db.session.scalars(select(MeteringPoint).where(MeteringPoint.name == "ТУ typed")).first() is None
    saved = client.post("/admin/metering-points/add", data={**data, "energy_object": str(obj.id)})
    assert saved.status_code == 302, saved.get_data(as_text=True)[-3000:]
    assert db.session.scalars(select(MeteringPoint).where(MeteringPoint.name == "ТУ typed")).one().energy_object_id \
        == obj.id


def test_contract_access_list_keeps_the_contract_id_link_and_filters_by_user_email(app, db, client):
    first, second = _contracts(2)
    f.grant(f.user("first-holder@client.example"), first, "manager")
    f.grant(f.user("second-holder@client.example"), second, "manager")
    db.session.commit()
    _admin(client)
    page = client.get(f"/admin/contract-access/list/?_flt_0_contract={second.id}").get_data(as_text=True)
    assert second.number in page and first.number not in page
    page = client.get("/admin/contract-access/list/?_flt_0_user=first-holder").get_data(as_text=True)
    assert first.number in page and second.number not in page
    assert client.get("/admin/contract-access/list/?_flt_0_contract=abc").status_code == 200
