"""Roles on contracts (SPEC C6, B5): the administrator's "Users of the contract" page, invitations and
role e-mails through the real SMTP sink, the one-administrator rule in the portal and back office."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from crm.models import AuditLog, ContractAccess, CrmUser
from tests import factories as f


@pytest.fixture()
def smtp(app, mailbox, monkeypatch):
    """Deliver the outbox in-process to the SMTP sink on loopback."""
    monkeypatch.setitem(app.config, "SMTP_URL", mailbox.url)
    return mailbox


@pytest.fixture()
def setup(app, db):
    contract = f.contract()
    objects = [f.energy_object(contract), f.energy_object(contract)]
    admin = f.user("boss@client.example")
    f.grant(admin, contract, "administrator")
    db.session.commit()
    client = app.test_client()
    assert f.login(client, "boss@client.example").status_code == 302
    return {"contract": contract, "contract_id": contract.id, "objects": [o.id for o in objects],
            "admin_id": admin.id, "client": client}


def _count(db, model, **where):
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).filter_by(**where))


def _body(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_administrator_sees_every_user_of_the_contract_with_role_and_scope(setup, db):
    contract = db.session.merge(setup["contract"])
    clerk = f.user("clerk@client.example")
    f.grant(clerk, contract, "accountant")
    engineer = f.user("eng@client.example")
    scoped = f.grant(engineer, contract, "power_engineer", objects=[contract_object(db, setup["objects"][0])])
    db.session.commit()
    page = setup["client"].get(f"/portal/contracts/{setup['contract_id']}/users").get_data(as_text=True)
    assert "clerk@client.example" in page and "eng@client.example" in page and "boss@client.example" in page
    assert "Бухгалтер" in page and "Энергетик" in page and "Администратор" in page
    assert scoped.energy_objects[0].code in page
    assert "Все объекты" in page


def contract_object(db, object_id):
    from crm.models import EnergyObject

    return db.session.get(EnergyObject, object_id)


def test_administrator_adds_existing_user_with_role_and_scope_when_e_mail_is_registered(setup, db, smtp):
    f.user("clerk@client.example")
    db.session.commit()
    response = setup["client"].post(f"/portal/contracts/{setup['contract_id']}/users/add", data={
        "email": " Clerk@Client.example ", "role": "accountant", "objects": [str(setup["objects"][1])]})
    assert response.status_code == 302
    access = db.session.scalars(select(ContractAccess).join(CrmUser, CrmUser.id == ContractAccess.user_id)
                                .where(CrmUser.email == "clerk@client.example")).one()
    assert access.role == "accountant" and access.confirmed_at is not None
    assert [o.id for o in access.energy_objects] == [setup["objects"][1]]
    message = smtp.wait_for(1)[0]
    assert message["To"] == "clerk@client.example"
    assert message["Subject"] == f"Договор {setup['contract'].number}: вам назначена роль Бухгалтер"
    assert _count(db, AuditLog, action="contract_role.granted") == 1
    audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "contract_role.granted")).one()
    assert audit.counterparty_id == setup["contract"].counterparty_id and audit.actor_id == setup["admin_id"]


def test_unknown_e_mail_gets_an_account_and_an_invitation_link_when_added(setup, db, smtp):
    response = setup["client"].post(f"/portal/contracts/{setup['contract_id']}/users/add",
                                    data={"email": "newcomer@client.example", "role": "power_engineer"})
    assert response.status_code == 302
    user = db.session.scalars(select(CrmUser).where(CrmUser.email == "newcomer@client.example")).one()
    assert user.username == "newcomer@client.example" and user.is_customer and not user.is_staff
    access = db.session.scalars(select(ContractAccess).where(ContractAccess.user_id == user.id)).one()
    assert access.role == "power_engineer" and access.energy_objects == []
    message = smtp.wait_for(1)[0]
    assert message["To"] == "newcomer@client.example"
    assert "вам назначена роль Энергетик" in message["Subject"]
    body = _body(message)
    link = re.search(r"http://\S+/portal/password/reset/(\S+)", body)
    assert link, body
    from crm.services import codes

    with_app_context_code = codes.consume("password_reset", link.group(1))
    assert with_app_context_code.user_id == user.id


def test_changing_a_role_replaces_it_and_removing_it_sends_an_e_mail(setup, db, smtp):
    contract = db.session.merge(setup["contract"])
    clerk = f.user("clerk@client.example")
    access = f.grant(clerk, contract, "accountant")
    db.session.commit()
    client = setup["client"]
    response = client.post(f"/portal/contracts/{setup['contract_id']}/users/{access.id}/edit",
                           data={"role": "manager"})
    assert response.status_code == 302
    assert _count(db, ContractAccess, user_id=clerk.id) == 1
    assert db.session.get(ContractAccess, access.id).role == "manager"
    assert "вам назначена роль Руководитель" in smtp.wait_for(1)[0]["Subject"]
    response = client.post(f"/portal/contracts/{setup['contract_id']}/users/{access.id}/remove")
    assert response.status_code == 302
    assert _count(db, ContractAccess, user_id=clerk.id) == 0
    assert "роль" in smtp.wait_for(2)[1]["Subject"]
    assert _count(db, AuditLog, action="contract_role.revoked") == 1


def test_customer_administrator_cannot_grant_administrator_and_nothing_is_added(setup, db):
    f.user("second@client.example")
    db.session.commit()
    before = _count(db, ContractAccess)
    response = setup["client"].post(f"/portal/contracts/{setup['contract_id']}/users/add",
                                    data={"email": "second@client.example", "role": "administrator"})
    assert response.status_code == 422
    assert "Роль администратора назначает" in response.get_data(as_text=True)
    assert _count(db, ContractAccess) == before


def test_second_administrator_is_refused_by_the_service_with_a_clear_message(setup, db):
    from crm.models import Contract
    from crm.services import contract_access

    f.user("second@client.example")
    db.session.commit()
    before = _count(db, ContractAccess)
    with pytest.raises(contract_access.ContractAccessError) as refused:
        contract_access.grant_administrator(db.session.get(Contract, setup["contract_id"]), "second@client.example",
                                            actor=None)
    assert "boss@client.example" in refused.value.message
    db.session.rollback()
    assert _count(db, ContractAccess) == before


@pytest.mark.parametrize("field", ["not-an-email", "a@b", "", "two@@client.example"])
def test_malformed_e_mail_is_refused_and_nothing_is_added(setup, db, field):
    before = (_count(db, ContractAccess), _count(db, CrmUser))
    response = setup["client"].post(f"/portal/contracts/{setup['contract_id']}/users/add",
                                    data={"email": field, "role": "manager"})
    assert response.status_code == 422
    assert "Введите правильный адрес" in response.get_data(as_text=True)
    assert (_count(db, ContractAccess), _count(db, CrmUser)) == before


def test_scope_with_a_foreign_object_is_refused_and_nothing_is_added(setup, db):
    other = f.energy_object(f.contract())
    f.user("clerk@client.example")
    db.session.commit()
    before = _count(db, ContractAccess)
    response = setup["client"].post(f"/portal/contracts/{setup['contract_id']}/users/add",
                                    data={"email": "clerk@client.example", "role": "manager", "objects": [other.id]})
    assert response.status_code == 422
    assert _count(db, ContractAccess) == before


def test_users_page_of_a_foreign_contract_is_404_and_nothing_changes(setup, db):
    foreign = f.contract()
    f.user("clerk@client.example")
    db.session.commit()
    client = setup["client"]
    assert client.get(f"/portal/contracts/{foreign.id}/users").status_code == 404
    response = client.post(f"/portal/contracts/{foreign.id}/users/add",
                           data={"email": "clerk@client.example", "role": "manager"})
    assert response.status_code == 404
    assert _count(db, ContractAccess, contract_id=foreign.id) == 0


def test_manager_cannot_open_users_page_and_menu_has_no_users_entry(app, db):
    contract = f.contract()
    f.grant(f.user("mgr@client.example"), contract, "manager")
    db.session.commit()
    client = app.test_client()
    f.login(client, "mgr@client.example")
    assert client.get(f"/portal/contracts/{contract.id}/users").status_code == 403
    card = client.get(f"/portal/contracts/{contract.id}/").get_data(as_text=True)
    assert f"/portal/contracts/{contract.id}/users" not in card


def test_accountant_sees_the_contract_but_no_readings_menu_entry(app, db):
    from crm.access import Capability
    from customer_portal.navigation import MENU

    contract = f.contract()
    f.grant(f.user("acc@client.example"), contract, "accountant")
    db.session.commit()
    client = app.test_client()
    f.login(client, "acc@client.example")
    page = client.get(f"/portal/contracts/{contract.id}/")
    assert page.status_code == 200 and contract.number in page.get_data(as_text=True)
    readings = [item for item in MENU if item.capability in {Capability.VIEW_READINGS, Capability.SUBMIT_READINGS}]
    html = page.get_data(as_text=True)
    for item in readings:
        assert f'href="/portal/contracts/{contract.id}/' + item.key not in html


# --- back office (B5) ---------------------------------------------------------------------------

@pytest.fixture()
def staff(app, db):
    f.user("admin1", roles=("Admin",))
    db.session.commit()
    client = app.test_client()
    f.staff_login(client, "admin1")
    return client


def _flashes(client) -> list[str]:
    with client.session_transaction() as session:
        return [message for _, message in session.get("_flashes", [])]


def test_staff_grants_administrator_and_user_gets_the_e_mail(app, db, staff, smtp):
    contract = f.contract()
    user = f.user("future-admin@client.example")
    db.session.commit()
    response = staff.post(f"/admin/contract-roles/{contract.id}",
                          data={"operation": "grant", "email": "future-admin@client.example"})
    assert response.status_code == 302
    access = db.session.scalars(select(ContractAccess).where(ContractAccess.user_id == user.id)).one()
    assert access.role == "administrator"
    assert "вам назначена роль Администратор" in smtp.wait_for(1)[0]["Subject"]
    assert _count(db, AuditLog, action="contract_role.granted") == 1
    page = staff.get(f"/admin/contract-roles/{contract.id}").get_data(as_text=True)
    assert "future-admin@client.example" in page


def test_staff_second_administrator_is_refused_with_a_flash_and_no_row(app, db, staff):
    contract = f.contract()
    f.grant(f.user("first@client.example"), contract, "administrator")
    f.user("second@client.example")
    db.session.commit()
    before = _count(db, ContractAccess)
    response = staff.post(f"/admin/contract-roles/{contract.id}",
                          data={"operation": "grant", "email": "second@client.example"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "уже есть администратор" in html and "first@client.example" in html
    assert _count(db, ContractAccess) == before


def test_staff_revokes_administrator_and_contract_has_none(app, db, staff, smtp):
    contract = f.contract()
    f.grant(f.user("first@client.example"), contract, "administrator")
    db.session.commit()
    refused = staff.post(f"/admin/contract-roles/{contract.id}", data={"operation": "revoke"})
    assert refused.status_code == 200 and _count(db, ContractAccess, contract_id=contract.id) == 1
    response = staff.post(f"/admin/contract-roles/{contract.id}", data={"operation": "revoke", "confirm": "1"})
    assert response.status_code == 302
    assert _count(db, ContractAccess, contract_id=contract.id) == 0
    assert smtp.wait_for(1)[0]["To"] == "first@client.example"


def test_curator_cannot_grant_administrator_when_the_view_is_admin_only(app, db):
    contract = f.contract()
    f.user("future@client.example")
    f.user("curator9", roles=("Curator",))
    db.session.commit()
    client = app.test_client()
    f.staff_login(client, "curator9")
    client.post(f"/admin/contract-roles/{contract.id}", data={"operation": "grant", "email": "future@client.example"})
    assert _count(db, ContractAccess) == 0


def test_staff_unblocks_a_blocked_account_with_the_action(app, db, staff):
    blocked = f.user("blocked@client.example", active=False, blocked_reason="not_activated")
    db.session.commit()
    listing = staff.get("/admin/blocked-accounts/list/").get_data(as_text=True)
    assert "blocked@client.example" in listing
    response = staff.post("/admin/blocked-accounts/action_post", data={"action": "unblock", "rowid": [blocked.id]})
    assert response.status_code == 302
    db.session.expire_all()
    user = db.session.get(CrmUser, blocked.id)
    assert user.active and user.blocked_reason is None
    assert _count(db, AuditLog, action="account.unblocked") == 1
    client = app.test_client()
    assert f.login(client, "blocked@client.example").status_code == 302
