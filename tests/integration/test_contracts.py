"""Contracts (SPEC C5): the selector's chosen contracts, the xlsx card, removal from the account and
contact persons (at most 9)."""
from __future__ import annotations

import io
from datetime import date
from urllib.parse import unquote

import pytest
from sqlalchemy import func, select

from crm.models import AuditLog, ContactPerson, ContractAccess, CrmUser
from tests import factories as f


@pytest.fixture()
def mine(app, db):
    """A manager with two contracts; the first has two objects and a meter, the user sees one object."""
    first = f.contract(account_number="1234567890")
    first.counterparty.bank_name = "ПАО «Сбербанк»"
    first.counterparty.bank_bik = "044525225"
    inside, outside = f.energy_object(first, name="Цех № 1"), f.energy_object(first, name="Склад")
    meter = f.meter(inside, next_verification_date=date(2031, 5, 1))
    f.meter(outside)
    second = f.contract()
    user = f.user("me@client.example")
    f.grant(user, first, "manager", objects=[inside])
    f.grant(user, second, "accountant")
    db.session.commit()
    client = app.test_client()
    assert f.login(client, "me@client.example").status_code == 302
    return {"client": client, "first": first.id, "second": second.id, "user": user.id, "number": first.number,
            "inside": inside, "outside": outside, "meter": meter.serial, "counterparty": first.counterparty}


def _count(db, model, **where):
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).filter_by(**where))


# --- selector ---------------------------------------------------------------------------------------

def test_selector_lists_only_the_kept_contracts_when_the_user_chose_them(mine, db):
    client = mine["client"]
    response = client.post("/portal/contracts/selector", data={"contracts": [str(mine["first"])]})
    assert response.status_code == 302
    assert db.session.get(CrmUser, mine["user"]).selector_contract_ids == [mine["first"]]
    page = client.get("/portal/contracts/").get_data(as_text=True)
    selector = page.split('id="contract-selector-items"')[1].split("</ul>")[0]
    assert f"/portal/contracts/{mine['first']}/" in selector
    assert f"/portal/contracts/{mine['second']}/" not in selector
    # the list of contracts still shows both
    assert f"/portal/contracts/{mine['second']}/" in page.split('id="contract-selector-items"')[0] + page.split(
        "</ul>", 1)[1]


def test_selector_refuses_to_keep_no_contract_and_nothing_changes(mine, db):
    response = mine["client"].post("/portal/contracts/selector", data={})
    assert response.status_code == 200
    assert "хотя бы один договор" in response.get_data(as_text=True)
    assert db.session.get(CrmUser, mine["user"]).selector_contract_ids is None


def test_selector_ignores_a_foreign_contract_id(mine, db):
    foreign = f.contract()
    db.session.commit()
    mine["client"].post("/portal/contracts/selector", data={"contracts": [str(foreign.id), str(mine["second"])]})
    assert db.session.get(CrmUser, mine["user"]).selector_contract_ids == [mine["second"]]


# --- xlsx card ----------------------------------------------------------------------------------------

def test_card_downloads_as_xlsx_with_the_data_and_only_the_objects_in_scope(mine):
    from python_calamine import CalamineWorkbook

    response = mine["client"].get(f"/portal/contracts/{mine['first']}/card.xlsx")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    disposition = response.headers["Content-Disposition"]
    assert "attachment" in disposition
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == f"Карточка договора {mine['number']}.xlsx"
    book = CalamineWorkbook.from_filelike(io.BytesIO(response.data))
    assert book.sheet_names == ["Договор", "Объекты и приборы учёта"]
    card = {row[0]: row[1] for row in book.get_sheet_by_index(0).to_python() if len(row) > 1 and row[0]}
    cp = mine["counterparty"]
    assert card["Номер договора"] == mine["number"]
    assert card["Лицевой счёт"] == "1234567890"
    assert card["ИНН"] == cp.inn
    assert card["Банк"] == "ПАО «Сбербанк»" and card["БИК"] == "044525225"
    assert card["Ваша роль"] == "Руководитель"
    objects = book.get_sheet_by_index(1).to_python()
    assert objects[0][0] == "Код объекта"
    body = objects[1:]
    assert [row[0] for row in body] == [mine["inside"].code]
    assert body[0][1] == "Цех № 1" and body[0][4] == mine["meter"]
    assert mine["outside"].code not in {row[0] for row in body}


def test_card_of_a_foreign_contract_is_404(mine, db):
    foreign = f.contract()
    db.session.commit()
    assert mine["client"].get(f"/portal/contracts/{foreign.id}/card.xlsx").status_code == 404


# --- removal from the account ------------------------------------------------------------------------

def test_contract_is_removed_from_the_account_after_confirmation(mine, db):
    client = mine["client"]
    page = client.get(f"/portal/contracts/{mine['first']}/remove")
    assert page.status_code == 200 and "Удалить договор" in page.get_data(as_text=True)
    assert _count(db, ContractAccess, user_id=mine["user"]) == 2  # asking changes nothing
    client.post(f"/portal/contracts/{mine['first']}/remove", data={})
    assert _count(db, ContractAccess, user_id=mine["user"]) == 2  # no confirmation, no change
    response = client.post(f"/portal/contracts/{mine['first']}/remove", data={"confirm": "1"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/portal/contracts/")
    assert _count(db, ContractAccess, user_id=mine["user"]) == 1
    assert client.get(f"/portal/contracts/{mine['first']}/").status_code == 404
    assert _count(db, AuditLog, action="contract.removed_from_account") == 1


def test_administrator_removing_the_contract_leaves_it_without_administrator(app, db):
    contract = f.contract()
    f.grant(f.user("boss@client.example"), contract, "administrator")
    f.grant(f.user("clerk@client.example"), contract, "accountant")
    db.session.commit()
    client = app.test_client()
    f.login(client, "boss@client.example")
    client.post(f"/portal/contracts/{contract.id}/remove", data={"confirm": "1"})
    assert _count(db, ContractAccess, contract_id=contract.id, role="administrator") == 0
    assert _count(db, ContractAccess, contract_id=contract.id) == 1


def test_foreign_contract_cannot_be_removed_and_nothing_changes(mine, db):
    foreign = f.contract()
    f.grant(f.user("other@client.example"), foreign, "manager")
    db.session.commit()
    response = mine["client"].post(f"/portal/contracts/{foreign.id}/remove", data={"confirm": "1"})
    assert response.status_code == 404
    assert _count(db, ContractAccess, contract_id=foreign.id) == 1


# --- contact persons ---------------------------------------------------------------------------------

def _person(n: int) -> dict:
    return {"full_name": f"Иванова Мария {n}", "position": "Главный энергетик", "phone": "+7 495 123-45-67",
            "email": f"person{n}@client.example"}


def test_manager_adds_edits_and_deletes_contact_persons(mine, db):
    client, cid = mine["client"], mine["first"]
    response = client.post(f"/portal/contracts/{cid}/contacts/add", data=_person(1))
    assert response.status_code == 302
    person = db.session.scalars(select(ContactPerson).where(ContactPerson.contract_id == cid)).one()
    assert "person1@client.example" in client.get(f"/portal/contracts/{cid}/").get_data(as_text=True)
    client.post(f"/portal/contracts/{cid}/contacts/{person.id}/edit", data={**_person(1), "full_name": "Петрова Анна"})
    db.session.expire_all()
    assert db.session.get(ContactPerson, person.id).full_name == "Петрова Анна"
    client.post(f"/portal/contracts/{cid}/contacts/{person.id}/delete")
    assert _count(db, ContactPerson, contract_id=cid) == 0
    actions = set(db.session.scalars(select(AuditLog.action)))
    assert {"contact_person.added", "contact_person.changed", "contact_person.deleted"} <= actions


def test_tenth_contact_person_is_refused_and_nothing_is_added(mine, db):
    client, cid = mine["client"], mine["first"]
    for n in range(9):
        assert client.post(f"/portal/contracts/{cid}/contacts/add", data=_person(n)).status_code == 302
    assert _count(db, ContactPerson, contract_id=cid) == 9
    response = client.post(f"/portal/contracts/{cid}/contacts/add", data=_person(10))
    assert response.status_code == 422
    assert "не больше 9 контактных лиц" in response.get_data(as_text=True)
    assert _count(db, ContactPerson, contract_id=cid) == 9


def test_contact_person_without_a_name_is_refused(mine, db):
    response = mine["client"].post(f"/portal/contracts/{mine['first']}/contacts/add",
                                   data={"full_name": " ", "email": "bad"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Введите ФИО контактного лица" in html and "Введите правильный адрес" in html
    assert _count(db, ContactPerson) == 0


def test_accountant_sees_contact_persons_but_cannot_edit_them(mine, db):
    client, cid = mine["client"], mine["second"]
    db.session.add(ContactPerson(contract_id=cid, full_name="Сидоров Пётр"))
    db.session.commit()
    page = client.get(f"/portal/contracts/{cid}/contacts")
    assert page.status_code == 200 and "Сидоров Пётр" in page.get_data(as_text=True)
    assert client.post(f"/portal/contracts/{cid}/contacts/add", data=_person(1)).status_code == 403
    assert _count(db, ContactPerson, contract_id=cid) == 1


def test_contact_person_of_another_contract_is_not_edited_through_mine(mine, db):
    foreign = f.contract()
    other = ContactPerson(contract_id=foreign.id, full_name="Чужой Контакт")
    db.session.add(other)
    db.session.commit()
    client = mine["client"]
    response = client.post(f"/portal/contracts/{mine['first']}/contacts/{other.id}/edit", data=_person(1))
    assert response.status_code == 302
    client.post(f"/portal/contracts/{mine['first']}/contacts/{other.id}/delete")
    db.session.expire_all()
    assert db.session.get(ContactPerson, other.id).full_name == "Чужой Контакт"
    assert client.post(f"/portal/contracts/{foreign.id}/contacts/add", data=_person(1)).status_code == 404
    assert _count(db, ContactPerson, contract_id=foreign.id) == 1
