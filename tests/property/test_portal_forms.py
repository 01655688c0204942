"""Hostile input to every POST form of the customer portal (issue 8 item 6).

The routes are read from the app's url_map, so a new portal form is fuzzed without editing this file.
Each route's fields are found by reading the portal's own pages: every `<form method="post">` of
every GET page of the portal (filled with the ids of a small world) is parsed, and its action is matched
to the route; file inputs get arbitrary bytes. Hypothesis then sends, per route:

- path ids of the user's own objects, of another counterparty's, of nothing (0, 999999) and beyond the
  INTEGER range;
- per field: missing, one hostile value (empty, huge, RTL/zero-width/NUL, 1e309, NaN, -0, "12,5",
  impossible dates, ids of other users' objects …) or several values; plus extra fields.

Properties: never a 5xx; a rejected submission — a 4xx, the form shown again (200) or a redirect that
flashes a warning or an error — writes no row of any domain table (the e-mail outbox included), apart
from what a rejection legitimately records (REJECTION_MAY_WRITE: failed sign-in counters, audit).

Public routes (sign-in, sign-up, recovery, activation) are sent anonymously, the others signed in as
the administrator of a contract. CSRF is off in the test configuration (TestConfig), so no token is sent.
"""
from __future__ import annotations

import io
import re
from collections import defaultdict
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app import create_app
from tests import factories as f
from tests.property.helpers import changed, hostile_value, table_counts

_COLLECTION_APP = create_app({"CRM_CONFIG": "test", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
EMAIL, OTHER_EMAIL = "fuzz@test.example", "fuzz-other@test.example"
NOWHERE = [0, 999_999, 2 ** 31 + 7, 2 ** 63 + 1]
#: tables a rejection may still write: the audit log and sign-in bookkeeping (failed attempts, sessions)
REJECTION_MAY_WRITE = {"audit_log", "login_attempt", "user_session", "api_token"}


def _post_rules():
    from customer_portal import ROUTE_RULES

    rules = []
    for rule in _COLLECTION_APP.url_map.iter_rules():
        if not rule.endpoint.startswith("portal.") or "POST" not in rule.methods:
            continue
        declared = ROUTE_RULES.get(rule.endpoint)
        module = _COLLECTION_APP.view_functions[rule.endpoint].__module__.rsplit(".", 1)[-1]
        rules.append((module, rule.endpoint, rule.rule, declared is not None and declared.kind == "public"))
    return rules


POST_RULES = _post_rules()
GROUPS = sorted({module for module, *_ in POST_RULES})


def test_every_portal_post_route_is_fuzzed_and_the_list_covers_the_forms_of_the_issue():
    endpoints = {endpoint for _, endpoint, _, _ in POST_RULES}
    for expected in ("portal.login", "portal.signup_email", "portal.recover_password", "portal.profile_personal",
                     "portal.profile_notifications", "portal.bind_contract", "portal.contract_user_add",
                     "portal.readings_entry", "portal.readings_upload", "portal.interval_profile",
                     "portal.appeal_new", "portal.appeal_form", "portal.appeal_reply", "portal.appeal_rate",
                     "portal.pay_debt", "portal.service_order", "portal.help_ask", "portal.notification_confirm",
                     "portal.notification_dismiss"):
        assert expected in endpoints
    assert len(endpoints) >= 60


# --- the world ---------------------------------------------------------------------------------

def _world(db) -> dict:
    """The signed-in user (administrator of a contract with an object, an interval meter, a document
    with an amount due, an appeal with a curator's message, a draft and a notification), and another
    counterparty's user with the same things: their ids are what "someone else's object" means."""
    from crm.models import IntervalProfile
    from crm.models.billing import BillingDocument

    f.workflow_definition()
    f.appeal_form()
    section = f.appeal_section()
    own, other = defaultdict(list), defaultdict(list)
    for email, ids in ((EMAIL, own), (OTHER_EMAIL, other)):
        contract = f.contract()
        energy_object = f.energy_object(contract)
        meter = f.meter(energy_object, interval_metering=True)
        person = f.user(email)
        access = f.grant(person, contract, "administrator")
        document = BillingDocument(contract_id=contract.id, doc_type="invoice", number=f"F-{contract.id}",
                                   doc_date=date(2026, 1, 31), amount=Decimal("10.00"), amount_due=Decimal("10.00"))
        act = IntervalProfile(meter_id=meter.id, month=date(2026, 1, 1), hourly_values={}, total=Decimal("0"),
                              act_number=f"ПА-FUZZ-{contract.id}")
        db.session.add_all([document, act])
        modal = f.delivery(person, "Плановое отключение", kind="modal", confirm_text="Ознакомлен")
        banner = f.delivery(person, "Новый тариф", kind="banner")
        db.session.flush()
        appeal_ids = _appeal(person, contract, section)
        for name, value in (("contract_id", contract.id), ("object_id", energy_object.id), ("meter_id", meter.id),
                            ("document_id", document.id), ("act_id", act.id), ("access_id", access.id),
                            ("delivery_id", modal.id), ("delivery_id", banner.id), ("user_id", person.id),
                            *appeal_ids.items()):
            ids[name].append(value)
    db.session.commit()
    return {"own": dict(own), "other": dict(other)}


def _appeal(author, contract, section) -> dict:
    from werkzeug.datastructures import FileStorage

    from workflows import appeals

    appeal = appeals.submit_appeal(author, section_id=section.id, contract_id=contract.id,
                                   form_data={"description": "Нет напряжения"},
                                   files={"document": [FileStorage(io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "a.pdf")]})
    draft = appeals.save_draft(author, topic_id=section.parent_id, section_id=section.id, steps_completed=1,
                               form_data={"description": "Черновик"})
    return {"appeal_id": appeal.id, "draft_id": draft.id}


# --- fields of the forms, read from the portal's own pages -------------------------------------

class _Forms(HTMLParser):
    """Collects, per POST form action, the names of its fields and which of them are files."""

    def __init__(self):
        super().__init__()
        self.forms: dict[str, dict[str, str]] = {}
        self._current: dict[str, str] | None = None
        self._select: str | None = None
        self.page = "/"
        #: a value the page itself offers per field name (prefilled, selected or first option): often valid
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "").lower() == "post":
            action = urljoin(self.page, attrs.get("action") or self.page)  # no action: the page itself
            self._current = self.forms.setdefault(action, {})
        elif tag == "form":
            self._current = None
        elif self._current is not None and tag in ("input", "select", "textarea", "button") and attrs.get("name"):
            self._current.setdefault(attrs["name"], (attrs.get("type") or tag).lower())
            self._select = attrs["name"] if tag == "select" else None
            if attrs.get("value") and (tag != "input" or attrs.get("type") not in ("checkbox", "radio")
                                       or "checked" in attrs):
                self.values.setdefault(attrs["name"], attrs["value"])
        elif tag == "option" and self._current is not None and self._select and attrs.get("value"):
            self.values.setdefault(self._select, attrs["value"])

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None


def _fill(rule: str, ids: dict[str, list[int]]) -> str:
    def value(match):
        name = match.group(1).split(":")[-1]
        found = ids.get(name)
        return str(found[0]) if found else "1"

    return re.sub(r"<([^>]+)>", value, rule)


def _discover_fields(app, client, ids) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """{endpoint: {field: input type}} from every GET page of the portal, filled with the user's ids,
    and {field: a value the pages offer for it}."""
    parser = _Forms()
    anonymous = app.test_client()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("portal.") or "GET" not in rule.methods:
            continue
        path = _fill(rule.rule, ids)
        for who in (client, anonymous):
            response = who.get(path)
            if response.status_code == 200 and response.mimetype == "text/html":
                parser.page = path
                parser.feed(response.get_data(as_text=True))
    adapter = app.url_map.bind("localhost")
    fields: dict[str, dict[str, str]] = defaultdict(dict)
    for action, names in parser.forms.items():
        try:
            endpoint, _ = adapter.match(urlsplit(action).path or "/", method="POST")
        except Exception:  # noqa: BLE001 - an action outside the portal or a GET-only path
            continue
        fields[endpoint].update(names)
    return fields, parser.values


FALLBACK_FIELDS = {"value": "text", "text": "text", "comment": "text", "amount": "text", "code": "text",
                   "email": "text", "password": "password", "confirm": "text"}


# --- the property ------------------------------------------------------------------------------

def _is_rejection(response, client) -> bool:
    if 400 <= response.status_code < 500 or response.status_code == 200:
        return True
    if response.status_code in (301, 302, 303):
        with client.session_transaction() as session:
            categories = {category for category, _ in session.get("_flashes", [])}
        return bool(categories & {"danger", "warning", "error"})
    return False


def _signed_in(client) -> bool:
    response = client.get("/portal/profile")
    return response.status_code == 200


def _fuzz_route(app, db, rule, fields, page_values, public, own, other, some_ids, session):
    """The Hypothesis test of one route (a function per route: @given takes no bound defaults)."""
    path_names = re.findall(r"<(?:\w+:)?(\w+)>", rule)

    @given(path_ids=st.fixed_dictionaries({
               name: st.one_of(st.sampled_from(own.get(name, [1])), st.sampled_from(own.get(name, [1])),
                               st.sampled_from([*other.get(name, [2]), *NOWHERE])) for name in path_names}),
           data=st.data())
    def run(path_ids, data):
        client = session["client"]
        path = re.sub(r"<([^>]+)>", lambda m: str(path_ids[m.group(1).split(":")[-1]]), rule)
        form = {}
        for name, kind in fields.items():
            choice = data.draw(st.integers(0, 4), label=f"{name}?")
            if choice == 0:
                continue
            if kind == "file":
                content = data.draw(st.one_of(st.binary(max_size=2000), st.just(b"PK\x03\x04" + b"\x00" * 100),
                                              st.just(b"%PDF-1.4\n%%EOF\n")), label=name)
                filename = data.draw(st.sampled_from(["r.xlsx", "r.xls", "a.pdf", "../../x.exe", "", "я.csv"]))
                form[name] = (io.BytesIO(content), filename)
            elif choice == 1 and name in page_values:
                form[name] = page_values[name]
            else:
                form[name] = data.draw(hostile_value(some_ids), label=name)
        extra = data.draw(st.dictionaries(st.sampled_from(["id", "user_id", "contract_id", "role", "status",
                                                           "x" * 300]), hostile_value(some_ids), max_size=2))
        for key, value in extra.items():
            form.setdefault(key, value)
        sender = app.test_client() if public else client
        before = table_counts(db)
        response = sender.post(path, data=form, content_type="multipart/form-data")
        after = table_counts(db)
        session.setdefault("statuses", defaultdict(lambda: defaultdict(int)))[rule][response.status_code] += 1
        assert response.status_code < 500, (path, form, response.status_code)
        if _is_rejection(response, sender):
            written = {name: counts for name, counts in changed(before, after).items()
                       if name not in REJECTION_MAY_WRITE}
            assert not written, (path, form, response.status_code, written)
        if not public and response.status_code in (302, 303) and not _signed_in(client):  # signed out …
            session["client"] = app.test_client()
            f.login(session["client"], EMAIL)

    return run


@pytest.mark.parametrize("group", GROUPS)
def test_portal_forms_survive_hostile_input_and_rejections_write_nothing(app, db, group):
    world = _world(db)
    own, other = world["own"], world["other"]
    client = app.test_client()
    assert f.login(client, EMAIL).status_code == 302
    session = {"client": client}
    fields_by_endpoint, page_values = _discover_fields(app, client, own)
    some_ids = sorted({value for ids in (*own.values(), *other.values()) for value in ids})
    failures = []

    for module, endpoint, rule, public in POST_RULES:
        if module != group:
            continue
        fields = fields_by_endpoint.get(endpoint) or FALLBACK_FIELDS

        run = _fuzz_route(app, db, rule, fields, page_values, public, own, other, some_ids, session)
        try:
            run()
        except Exception as error:  # noqa: BLE001 - collected: every route of the group is tried
            failures.append(f"--- {endpoint} {rule}\n{str(error)[:4000]}")
    for rule, statuses in session.get("statuses", {}).items():  # shown with -s or on failure
        fields = fields_by_endpoint.get(next(e for _, e, r, _ in POST_RULES if r == rule)) or {}
        print(f"{rule}: statuses {dict(statuses)}; fields {sorted(fields) or 'fallback'}")
    assert not failures, f"{len(failures)} route(s) failed:\n" + "\n".join(failures)


# --- Regressions found by the runs above --------------------------------------------------------

INT_RULES = sorted({rule.rule for rule in _COLLECTION_APP.url_map.iter_rules()
                    if rule.endpoint.startswith("portal.") and "<int:" in rule.rule})


@pytest.mark.parametrize("big", [2 ** 31, 2 ** 63 + 1])
def test_an_id_beyond_the_integer_range_is_a_404_on_every_portal_route(app, db, big):
    """Was a 500: the id reached the database (SQLite: "Python int too large"; PostgreSQL: integer out
    of range) on the appeal, draft, document, house, card, service and interval-profile routes."""
    f.user(EMAIL)
    db.session.commit()
    client = app.test_client()
    assert f.login(client, EMAIL).status_code == 302
    assert len(INT_RULES) >= 20
    for rule in INT_RULES:
        path = re.sub(r"<int:[^>]+>", str(big), rule)
        assert client.get(path).status_code in (404, 405), path
        assert client.post(path).status_code in (404, 405), path


# --- A valid submission writes exactly its rows ------------------------------------------------

_NAME = st.text(alphabet="АБВГДЕЖЗИКЛМНОПРСТабвгдежзиклмнопрст -", min_size=1, max_size=60).filter(str.strip)
_PHONE = st.from_regex(r"\+7 \d{3} \d{3}-\d{2}-\d{2}", fullmatch=True)
_EMAIL = st.from_regex(r"[a-z]{1,10}@[a-z]{1,10}\.ru", fullmatch=True)


def test_contact_person_form_adds_exactly_one_row_when_valid_and_nothing_when_refused(app, db):
    world = _world(db)
    contract_id = world["own"]["contract_id"][0]
    client = app.test_client()
    assert f.login(client, EMAIL).status_code == 302
    outcomes = defaultdict(int)

    @given(full_name=st.one_of(_NAME, hostile_value()), phone=st.one_of(_PHONE, hostile_value()),
           email=st.one_of(_EMAIL, hostile_value()), position=st.one_of(_NAME, st.just("")))
    def run(full_name, phone, email, position):
        with app.app_context():
            from crm.models import ContactPerson

            db.session.execute(db.delete(ContactPerson))  # stay below the limit of 9 per contract
            db.session.commit()
        before = table_counts(db)
        response = client.post(f"/portal/contracts/{contract_id}/contacts/add",
                               data={"full_name": full_name, "phone": phone, "email": email, "position": position})
        after = table_counts(db)
        outcomes[response.status_code] += 1
        assert response.status_code in (302, 400, 422), response.status_code  # 400: a NUL character
        if response.status_code == 302:
            assert changed(before, after) == {"contact_person": (0, 1), "audit_log": (before["audit_log"],
                                                                                      before["audit_log"] + 1)}
        else:
            assert not changed(before, after)
            if response.status_code == 422:  # the form again, with the message
                assert "<form" in response.get_data(as_text=True)

    run()
    assert outcomes[302] and outcomes[422], dict(outcomes)  # both kinds were really tried


@pytest.mark.parametrize(("path", "data"), [
    ("/portal/profile/personal", {"first_name": "Иван", "last_name": "a\x00b", "patronymic": "", "position": ""}),
    ("/portal/signup/about", {"first_name": "Иван", "last_name": "Петров", "patronymic": "a\x00b"}),
])
def test_a_nul_character_in_a_form_is_refused_with_400_and_nothing_is_written(app, db, path, data):
    """Was a 500 on PostgreSQL ("text fields cannot contain NUL") once the value reached an UPDATE."""
    f.user(EMAIL)
    db.session.commit()
    client = app.test_client()
    assert f.login(client, EMAIL).status_code == 302
    before = table_counts(db)
    assert client.post(path, data=data).status_code == 400
    assert client.get("/portal/login?next=%00").status_code == 400
    assert not changed(before, table_counts(db))
