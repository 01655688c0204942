"""The billing API for readings (SPEC B9; issue 4 item 7): token and scope, keyset paging of submitted
readings, accepted readings upserted by external id (idempotent, all or nothing with 422), OpenAPI."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from crm import clock
from crm.extensions import db
from crm.models import Reading
from crm.services import api_tokens
from tests import factories as f

TODAY = datetime(2024, 2, 10, 9, 0, tzinfo=UTC)
JAN = date(2024, 1, 1)


@contextmanager
def data(app):
    with app.app_context():
        yield
        db.session.commit()


@pytest.fixture(autouse=True)
def _frozen_clock():
    clock.set_now(TODAY)
    yield
    clock.set_now(None)


@pytest.fixture()
def site(app):
    """Seven submitted January readings on two branches (N1: 5, S1: 2), one accepted one."""
    with data(app):
        north, south = f.branch(code="N1"), f.branch(code="S1")
        obj_n = f.energy_object(f.contract(branch_=north, number="77000000000101"), code="EO-N")
        obj_s = f.energy_object(f.contract(branch_=south, number="77000000000202"), code="EO-S")
        ids = []
        for number in range(5):
            meter = f.meter(obj_n, serial=f"N-{number}")
            row = Reading(register_id=meter.registers[0].id, period=JAN, value=Decimal(f"{100 + number}.125"),
                          previous_value=Decimal("100"), consumption=Decimal(f"{number}.125"), source="portal",
                          submitted_at=TODAY)
            db.session.add(row)
            db.session.flush()
            ids.append(row.id)
        two_zone = f.meter(obj_s, zones=("day", "night"), serial="S-TZ")
        for register, value in zip(two_zone.registers, ("10", "20"), strict=True):
            row = Reading(register_id=register.id, period=JAN, value=Decimal(value), source="file",
                          submitted_at=TODAY)
            db.session.add(row)
            db.session.flush()
            ids.append(row.id)
        db.session.add(Reading(register_id=two_zone.registers[0].id, period=date(2023, 12, 1), value=Decimal("5"),
                               source="billing", status="accepted"))
        _, secret = api_tokens.issue_token("Биллинг", ["readings"])
        _, billing_only = api_tokens.issue_token("Только биллинг", ["billing"])
    return SimpleNamespace(ids=ids, secret=secret, billing_only=billing_only)


def _auth(secret):
    return {"Authorization": f"Bearer {secret}"}


def _snapshot(app):
    with app.app_context():
        return [(r.id, r.register_id, r.period, r.value, r.previous_value, r.consumption, r.status, r.source,
                 r.external_id, r.reviewed_at) for r in db.session.query(Reading).order_by(Reading.id)]


# --- token and scope ------------------------------------------------------------------------------

def test_submitted_readings_need_a_token_with_the_readings_scope(app, client, site):
    assert client.get("/api/v1/readings/submitted?period=2024-01").status_code == 401
    assert client.get("/api/v1/readings/submitted?period=2024-01", headers=_auth(site.billing_only)).status_code == 403
    assert client.post("/api/v1/readings/accepted", json=[], headers=_auth(site.billing_only)).status_code == 403
    assert client.post("/api/v1/readings/accepted", json=[]).status_code == 401


# --- export ---------------------------------------------------------------------------------------

def test_submitted_readings_come_as_exact_strings_with_the_export_fields(app, client, site):
    response = client.get("/api/v1/readings/submitted?period=2024-01&branch=N1", headers=_auth(site.secret))
    assert response.status_code == 200
    body = response.json
    assert body["next_after_id"] is None
    assert [item["reading_id"] for item in body["items"]] == site.ids[:5]
    assert body["items"][0] == {
        "reading_id": site.ids[0], "contract": "77000000000101", "account": None, "object_code": "EO-N",
        "meter_serial": "N-0", "zone": "all_day", "direction": "A+", "period": "2024-01", "value": "100.125",
        "previous": "100", "consumption": "0.125", "submitted_at": "2024-02-10T09:00:00+00:00", "source": "portal"}


def test_keyset_pages_cover_every_submitted_reading_once(app, client, site):
    seen, after, pages = [], 0, 0
    while after is not None:
        response = client.get(f"/api/v1/readings/submitted?period=2024-01&limit=3&after_id={after}",
                              headers=_auth(site.secret))
        assert response.status_code == 200
        seen += [item["reading_id"] for item in response.json["items"]]
        after = response.json["next_after_id"]
        pages += 1
    assert seen == site.ids and pages == 3


@pytest.mark.parametrize("query", ["", "?period=2024-13", "?period=2024-01&limit=0", "?period=2024-01&limit=5001",
                                   "?period=2024-01&after_id=x"])
def test_bad_export_parameters_answer_400(app, client, site, query):
    response = client.get(f"/api/v1/readings/submitted{query}", headers=_auth(site.secret))
    assert response.status_code == 400
    assert response.json["message"]


# --- import ---------------------------------------------------------------------------------------

ACCEPTED = [
    {"external_id": "1C-1", "meter_serial": "N-0", "zone": "all_day", "direction": "A+", "period": "2024-01",
     "value": "100.125"},
    {"external_id": "1C-2", "meter_serial": "S-TZ", "zone": "day", "direction": "A+", "period": "2024-01",
     "value": 12.5, "contract": "77000000000202"},
    {"external_id": "1C-3", "meter_serial": "S-TZ", "zone": "night", "direction": "A+", "period": "2023-12",
     "value": "7"},
]


def test_accepted_readings_are_upserted_and_a_second_identical_post_changes_nothing(app, client, site):
    response = client.post("/api/v1/readings/accepted", json=ACCEPTED, headers=_auth(site.secret))
    assert response.status_code == 200
    assert response.json == {"created": 1, "updated": 2, "unchanged": 0}
    first = _snapshot(app)
    with app.app_context():
        day = db.session.get(Reading, site.ids[5])
        assert (day.status, day.value, day.external_id, day.previous_value, day.consumption) == (
            "accepted", Decimal("12.5"), "1C-2", Decimal("5"), Decimal("7.5"))
        assert db.session.query(Reading).filter_by(external_id="1C-3").one().source == "billing"
    response = client.post("/api/v1/readings/accepted", json=ACCEPTED, headers=_auth(site.secret))
    assert response.json == {"created": 0, "updated": 0, "unchanged": 3}
    assert _snapshot(app) == first
    # They are no longer submitted: the export leaves them out.
    listed = client.get("/api/v1/readings/submitted?period=2024-01", headers=_auth(site.secret)).json["items"]
    assert [item["reading_id"] for item in listed] == site.ids[1:5] + [site.ids[6]]


def test_a_list_with_bad_items_answers_422_listing_each_and_writes_nothing(app, client, site):
    before = _snapshot(app)
    items = [ACCEPTED[0],
             {"external_id": "1C-9", "meter_serial": "GHOST", "zone": "all_day", "direction": "A+",
              "period": "2024-01", "value": "1"},
             "not an object",
             {"external_id": "1C-8", "meter_serial": "S-TZ", "zone": "day", "direction": "A+", "period": "2024-01",
              "value": "-3", "contract": "123"}]
    response = client.post("/api/v1/readings/accepted", json=items, headers=_auth(site.secret))
    assert response.status_code == 422
    assert response.json["errors"] == [
        {"item": 2, "message": "нет счётчика с заводским номером GHOST"},
        {"item": 3, "message": "элемент не является JSON-объектом"},
        {"item": 4, "message": "показание отрицательное"},
        {"item": 4, "message": "номер договора должен состоять из 14 цифр"},
    ]
    assert _snapshot(app) == before


def test_an_empty_or_non_list_body_answers_422(app, client, site):
    for body in ([], {"external_id": "x"}):
        response = client.post("/api/v1/readings/accepted", json=body, headers=_auth(site.secret))
        assert response.status_code == 422
        assert response.json["errors"][0]["item"] == 0


# --- the OpenAPI document -------------------------------------------------------------------------

def test_openapi_document_describes_both_readings_endpoints(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    submitted, accepted = paths["/api/v1/readings/submitted"]["get"], paths["/api/v1/readings/accepted"]["post"]
    assert {parameter["name"] for parameter in submitted["parameters"]} == {"period", "branch", "after_id", "limit"}
    assert submitted["security"] == [{"bearerAuth": []}]
    assert "422" in accepted["responses"] and "requestBody" in accepted


# --- the API tokens page (Admin only) -------------------------------------------------------------

def _staff(app, role: str, username: str):
    client = app.test_client()
    with data(app):
        f.user(f"{username}@energo.example", username=username, roles=(role,))
    assert f.staff_login(client, username).status_code == 302
    return client


def test_admin_issues_a_token_sees_its_secret_once_and_revokes_it(app, site):
    admin = _staff(app, "Admin", "tokenadmin")
    page = admin.get("/admin/api-tokens/").get_data(as_text=True)
    assert 'for="token-name"' in page and 'id="scope-readings"' in page and "Биллинг" in page
    response = admin.post("/admin/api-tokens/issue", data={"name": "1С:Биллинг", "scopes": ["readings"]})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    secret = html.split('id="token-secret" class="form-control" readonly value="')[1].split('"')[0]
    assert secret.startswith("crm_") and "показывается только один раз" in html
    assert admin.get("/api/v1/readings/submitted?period=2024-01", headers=_auth(secret)).status_code == 200
    listing = admin.get("/admin/api-tokens/").get_data(as_text=True)
    assert "1С:Биллинг" in listing and secret[:10] in listing and secret not in listing
    with app.app_context():
        from crm.models import ApiToken

        token_id = db.session.query(ApiToken).filter_by(name="1С:Биллинг").one().id
    assert admin.post(f"/admin/api-tokens/{token_id}/revoke").status_code == 302
    assert admin.get("/api/v1/readings/submitted?period=2024-01", headers=_auth(secret)).status_code == 401


def test_issuing_a_token_without_a_name_or_scope_shows_both_messages(app, site):
    admin = _staff(app, "Admin", "tokenadmin2")
    response = admin.post("/admin/api-tokens/issue", data={"name": " ", "scopes": []})
    assert response.status_code == 400
    assert "Укажите название токена длиной от 1 до 128 символов." in response.get_data(as_text=True)
    response = admin.post("/admin/api-tokens/issue", data={"name": "Без областей"})
    assert "Выберите области действия токена" in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["Curator", "Auditor", "Billing operator"])
def test_only_admin_may_open_the_tokens_page(app, site, role):
    client = _staff(app, role, f"notadmin{role.split()[0].lower()}")
    assert client.get("/admin/api-tokens/").status_code == 403
    assert client.post("/admin/api-tokens/issue", data={"name": "x", "scopes": ["readings"]}).status_code == 403
