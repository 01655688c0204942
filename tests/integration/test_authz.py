"""Who may reach what, enumerated from the app itself (issue Foundation, acceptance 3).

Routes are read from the app's url_map at collection time, so a new view or portal route is
covered automatically: a new back-office view must refuse customers, and a new portal route
must require sign-in unless it is declared public.
"""
from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from app import create_app
from tests import factories as f

_COLLECTION_APP = create_app({"CRM_CONFIG": "test", "SQLALCHEMY_DATABASE_URI": "sqlite://"})

# FAB endpoints a signed-in customer may legitimately reach: signing in and out, the language
# switch, the "back" helper and the back-office home (which sends customers to the portal).
FAB_OPEN_VIEWS = {"AuthDBView", "LocaleView", "UtilView", "BackOfficeIndexView", "SecurityApi", "OpenApi",
                  "SwaggerView",
                  "OpenApiDocument"}  # the billing API's OpenAPI document: public, describes without giving access


def _fill(rule, view=None) -> str:
    def value(match):
        name = match.group(1).split(":")[-1]
        if name == "name" and view is not None and getattr(view, "actions", None):
            return next(iter(view.actions))
        if name == "filename":
            return "x.csv"
        if name == "version":
            return "v1"
        return "1"

    return re.sub(r"<([^>]+)>", value, rule.rule)


def _fab_routes():
    app = _COLLECTION_APP
    views = {v.endpoint: v for v in app.appbuilder.baseviews}
    routes = []
    for rule in app.url_map.iter_rules():
        view = views.get(rule.endpoint.split(".")[0])
        if view is None or type(view).__name__ in FAB_OPEN_VIEWS:
            continue
        if "<string:name>" in rule.rule and not getattr(view, "actions", None):
            continue  # FAB answers 500 for an unknown action name before checking permissions
        data = None
        if rule.rule.endswith("/action_post"):
            if not getattr(view, "actions", None):
                continue  # FAB answers 400 before checking permissions when there is no action
            data = {"action": next(iter(view.actions)), "rowid": "1"}
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append(pytest.param(method, _fill(rule, view), data,
                                       id=f"{type(view).__name__}:{method}:{rule.rule}"))
    return routes


def _portal_rules():
    return [rule for rule in _COLLECTION_APP.url_map.iter_rules() if rule.endpoint.startswith("portal.")]


def _portal_routes():
    from customer_portal import ROUTE_RULES

    routes = []
    for rule in _portal_rules():
        declared = ROUTE_RULES.get(rule.endpoint)
        if declared is not None and declared.kind == "public":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append(pytest.param(method, _fill(rule), id=f"{rule.endpoint}:{method}"))
    return routes


FAB_ROUTES = _fab_routes()
PORTAL_ROUTES = _portal_routes()


def test_every_portal_route_declares_who_may_call_it():
    from customer_portal import ROUTE_RULES

    undeclared = sorted({rule.endpoint for rule in _portal_rules()} - set(ROUTE_RULES))
    assert not undeclared, f"portal routes without public_route/account_route/contract_route: {undeclared}"


def test_route_enumeration_finds_the_views_it_must_cover():
    ids = " ".join(p.id for p in FAB_ROUTES)
    assert "ContractView" in ids and "UserDBModelView" in ids
    assert any("contract" in p.id for p in PORTAL_ROUTES)


@pytest.fixture()
def customer_client(app, db):
    contract = f.contract()
    person = f.user("customer@test.example")
    f.grant(person, contract, "administrator")
    db.session.commit()
    client = app.test_client()
    assert f.login(client, "customer@test.example").status_code == 302
    return client


@pytest.mark.parametrize(("method", "path", "data"), FAB_ROUTES)
def test_back_office_refuses_customer_when_route_is_any_registered_view(customer_client, method, path, data):
    response = customer_client.open(path, method=method, data=data)
    assert response.status_code in {302, 401, 403, 404, 405}, response.status_code
    if response.status_code == 302:
        assert path not in response.headers["Location"]
        with customer_client.session_transaction() as session:
            flashes = [message for _, message in session.get("_flashes", [])]
        assert flashes, "a refused request must say why"
        assert any(_is_access_denied(message) for message in flashes), flashes


def _is_access_denied(message: str) -> bool:
    return "Access is Denied" in message or "Отказано в доступе" in message


@pytest.mark.parametrize(("method", "path"), PORTAL_ROUTES)
def test_portal_redirects_anonymous_to_sign_in_when_route_is_any_portal_route(client, method, path):
    response = client.open(path, method=method)
    assert response.status_code == 302, response.status_code
    assert "/portal/login" in response.headers["Location"]


def test_customer_never_sees_another_counterpartys_contract_when_listing_or_by_id(app, db):
    mine, theirs = f.contract(), f.contract()
    me, them = f.user("me@test.example"), f.user("them@test.example")
    f.grant(me, mine, "manager")
    f.grant(them, theirs, "manager")
    db.session.commit()
    client = app.test_client()
    f.login(client, "me@test.example")
    listing = client.get("/portal/contracts/").get_data(as_text=True)
    assert mine.number in listing
    assert theirs.number not in listing
    assert client.get(f"/portal/contracts/{theirs.id}/").status_code == 404
    assert client.get(f"/portal/contracts/{mine.id}/").status_code == 200


def test_unconfirmed_binding_gives_no_access_when_link_not_followed(app, db):
    contract = f.contract()
    person = f.user("pending@test.example")
    access = f.grant(person, contract, "manager")
    access.confirmed_at = None
    db.session.commit()
    client = app.test_client()
    f.login(client, "pending@test.example")
    assert client.get(f"/portal/contracts/{contract.id}/").status_code == 404


def test_staff_role_without_permission_is_refused_when_opening_admin_only_view(app, db):
    f.user("auditor", roles=("Auditor",))
    db.session.commit()
    client = app.test_client()
    f.staff_login(client, "auditor")
    response = client.get("/users/list/")
    assert response.status_code in {302, 403}
    assert "/users/list" not in response.headers.get("Location", "")


def test_curator_cannot_delete_a_contract_when_edit_level_excludes_delete(app, db):
    from crm.models import Contract

    contract = f.contract()
    f.user("curator1", roles=("Curator",))
    db.session.commit()
    client = app.test_client()
    f.staff_login(client, "curator1")
    assert client.get(f"/admin/contracts/edit/{contract.id}").status_code == 200
    client.post(f"/admin/contracts/delete/{contract.id}")
    db.session.expire_all()
    assert db.session.get(Contract, contract.id) is not None


# --- The C6 matrix: every contract route × every kind of user -------------------------------------

ACTORS = ["anonymous", "power_engineer", "accountant", "manager", "administrator", "other_counterparty",
          "engineer_outside_scope"]


def _contract_routes():
    from customer_portal import ROUTE_RULES

    routes = []
    for rule in _portal_rules():
        declared = ROUTE_RULES.get(rule.endpoint)
        if declared is None or declared.kind != "contract":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for actor in ACTORS:
                routes.append(pytest.param(rule.rule, method, declared.capability, actor,
                                           id=f"{rule.endpoint}:{method}:{actor}"))
    return routes


@pytest.fixture()
def matrix(app, db):
    """One shared contract with two objects, a user per role, a stranger and a scoped engineer."""
    contract = f.contract()
    inside, outside = f.energy_object(contract), f.energy_object(contract)
    meter_inside = f.meter(inside, interval_metering=True)  # meter_id routes (meter card, hourly profile)
    users = {}
    for role in ("power_engineer", "accountant", "manager", "administrator"):
        users[role] = f.user(f"{role}@matrix.example")
        f.grant(users[role], contract, role)
    users["engineer_outside_scope"] = f.user("scoped@matrix.example")
    f.grant(users["engineer_outside_scope"], contract, "power_engineer", objects=[outside])
    users["other_counterparty"] = f.user("other@matrix.example")
    f.grant(users["other_counterparty"], f.contract(), "administrator")
    from crm.models.billing import BillingDocument  # a document of the contract with an amount due (pay)

    document = BillingDocument(contract_id=contract.id, doc_type="invoice", number="M-1", doc_date=date(2026, 1, 31),
                               amount=Decimal("10.00"), amount_due=Decimal("10.00"))
    db.session.add(document)
    from crm.models import IntervalProfile  # act_id routes (primary act download): an act of that meter

    act = IntervalProfile(meter_id=meter_inside.id, month=date(2026, 1, 1), hourly_values={}, total=Decimal("0"),
                          act_number="ПА-MATRIX-1")
    db.session.add(act)
    appeal_ids = _matrix_appeal(users["administrator"], contract)
    db.session.commit()
    return {**appeal_ids, "act_id": act.id,
            "contract_id": contract.id, "object_id": inside.id, "emails": {k: v.email for k, v in users.items()},
            "document_id": document.id, "meter_id": meter_inside.id}


def _matrix_appeal(author, contract) -> dict:
    """An appeal of the contract with a file, and a draft, both by its administrator (appeal routes)."""
    import io

    from werkzeug.datastructures import FileStorage

    from crm.extensions import db
    from crm.models import AppealAttachment
    from workflows import appeals

    f.workflow_definition()
    f.appeal_form()
    section = f.appeal_section()
    appeal = appeals.submit_appeal(author, section_id=section.id, contract_id=contract.id,
                                   form_data={"description": "Матрица доступа"},
                                   files={"document": [FileStorage(io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "m.pdf")]})
    draft = appeals.save_draft(author, topic_id=section.parent_id, section_id=section.id, steps_completed=1,
                               form_data={"description": "Черновик"})
    attachment_id = db.session.scalar(db.select(AppealAttachment.id).where(AppealAttachment.appeal_id == appeal.id))
    return {"appeal_id": appeal.id, "attachment_id": attachment_id, "draft_id": draft.id}


def _fill_contract_route(path: str, matrix: dict) -> str:
    path = re.sub(r"<(?:int:)?contract_id>", str(matrix["contract_id"]), path)
    path = re.sub(r"<(?:int:)?object_id>", str(matrix["object_id"]), path)
    path = re.sub(r"<(?:int:)?document_id>", str(matrix["document_id"]), path)
    path = re.sub(r"<(?:int:)?meter_id>", str(matrix["meter_id"]), path)
    path = re.sub(r"<(?:int:)?act_id>", str(matrix["act_id"]), path)
    for name in ("appeal_id", "attachment_id", "draft_id"):
        path = re.sub(rf"<(?:int:)?{name}>", str(matrix[name]), path)
    return re.sub(r"<[^>]+>", "1", path)


@pytest.mark.parametrize(("rule", "method", "capability", "actor"), _contract_routes())
def test_contract_route_answers_exactly_as_the_role_matrix_says(app, matrix, rule, method, capability, actor):
    from crm.access import role_can

    client = app.test_client()
    if actor != "anonymous":
        assert f.login(client, matrix["emails"][actor]).status_code == 302
    path = _fill_contract_route(rule, matrix)
    response = client.open(path, method=method)
    if actor == "anonymous":
        assert response.status_code == 302 and "/portal/login" in response.headers["Location"]
        return
    if actor == "other_counterparty":
        assert response.status_code == 404
        return
    scoped_ids = ("object_id", "meter_id", "act_id")
    if actor == "engineer_outside_scope" and any(f"<int:{name}>" in rule for name in scoped_ids):
        assert response.status_code == 404
        return
    role = "power_engineer" if actor == "engineer_outside_scope" else actor
    if role_can(role, capability):
        assert response.status_code not in {401, 403, 404}, response.status_code
        assert "/portal/login" not in response.headers.get("Location", "")
    else:
        assert response.status_code == 403


# --- Appeals: account routes whose path names an appeal, a file or a draft (issue 6 acceptance 3) -------

def _appeal_routes():
    routes = []
    for rule in _portal_rules():
        if not rule.endpoint.startswith("portal.appeal") or not any(
                f"<int:{name}>" in rule.rule for name in ("appeal_id", "attachment_id", "draft_id")):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for actor in ("administrator", "power_engineer", "other_counterparty"):
                routes.append(pytest.param(rule.rule, method, actor, id=f"{rule.endpoint}:{method}:{actor}"))
    return routes


@pytest.mark.parametrize(("rule", "method", "actor"), _appeal_routes())
def test_appeal_route_hides_what_the_customer_may_not_see(app, matrix, rule, method, actor):
    """The administrator's appeal and draft: the contract's administrator reaches them; a power engineer
    of the same contract (not the author) and another counterparty get 404, never a hint it exists."""
    client = app.test_client()
    assert f.login(client, matrix["emails"][actor]).status_code == 302
    response = client.open(_fill_contract_route(rule, matrix), method=method)
    if actor == "administrator":
        assert response.status_code not in {401, 403, 404}, response.status_code
    else:
        assert response.status_code == 404, response.status_code
