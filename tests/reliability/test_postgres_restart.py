"""The app recovers from a PostgreSQL restart and outage by itself (issue 8 item 5, last bullet).

A private PostgreSQL cluster (initdb in a temporary directory, its own port: the shared server on 5432 is
never touched) holds a copy of the migrated test database and one customer. The real app runs under gunicorn
as in production (`--preload -k gthread`, CRM_CONFIG=prod; config.py sets `pool_pre_ping`), the customer
signs in through the portal form and loads pages, so every worker holds pooled connections. Then:

1. `pg_ctl restart -m fast`: every pooled connection is dead. The same browser session's next requests all
   answer 200, with no restart of the app and no manual action (the pre-ping replaces dead connections);
   /healthz says the database is ok.
2. `pg_ctl stop -m fast` for RELIABILITY_SECONDS (3 s here, 60 s in `make test-reliability`): every page
   answers a clean 503 page (crm/web.py's handler for OperationalError: no traceback, Retry-After), a
   readings form posted meanwhile answers 503 and writes nothing, /healthz answers 503 with the database
   reported down. After `pg_ctl start` the same session works again (200 pages, a readings submission
   saved) and /healthz is ok — again without touching the app.
"""
from __future__ import annotations

import time
from decimal import Decimal

import pytest
from sqlalchemy import create_engine, select

from tests.reliability.seeding import seed_customers
from tests.reliability.support import Browser, Gunicorn, PrivateCluster, copy_schema, csrf_token, seconds, seed_database

PASSWORD = "Restart2026pass"


@pytest.fixture()
def cluster():
    server = PrivateCluster()
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture()
def served(pg_app, cluster, tmp_path):
    url = cluster.url("crm_restart")
    storage = f"file://{tmp_path / 'files'}"
    copy_schema(pg_app, url)
    (customer,) = seed_database(url, storage, lambda: seed_customers(1, PASSWORD))
    server = Gunicorn(url, storage, workers=2, threads=2)
    try:
        server.start()
        yield url, server, customer
    finally:
        server.close()


def _all_pages_ok(browser: Browser, pages: list[str], rounds: int = 3) -> None:
    """Every page, `rounds` times (so both workers and their threads use their pooled connections): 200."""
    for _ in range(rounds):
        for path in pages:
            response = browser.get(path)
            assert response is not None, browser.calls[-1].error
            assert response.status_code == 200, f"{path}: {response.status_code} {response.headers.get('Location')}"


def _readings_form(browser: Browser, path: str) -> str:
    page = browser.get(path)
    assert page is not None and page.status_code == 200
    return csrf_token(page.text, marker='class="readings-entry-form"')


def _submit(browser: Browser, path: str, token: str, register_ids: list[int], value: str):
    data = {"csrf_token": token, **{f"reading-{rid}": value for rid in register_ids}}
    return browser.post(path, data, kind="readings submit")


def _stored_values(url: str, register_ids: list[int]) -> set[Decimal]:
    from crm.models import Reading

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return set(conn.scalars(select(Reading.value).where(Reading.register_id.in_(register_ids),
                                                                Reading.source == "portal")).all())
    finally:
        engine.dispose()


def test_app_recovers_from_a_postgres_restart_and_outage_without_manual_action(served, cluster):
    url, server, customer = served
    contract = f"/portal/contracts/{customer.contract_id}"
    submit = f"{contract}/readings/submit"
    pages = [f"{contract}/", submit, "/portal/appeals/", f"/portal/appeals/{customer.appeal_ids[0]}",
             "/portal/notifications"]
    browser = Browser(server.base, timeout=30)
    browser.sign_in(customer.email, PASSWORD)
    _all_pages_ok(browser, pages)

    # 1. A fast restart: the pooled connections die; the next requests reconnect by themselves.
    took = cluster.restart()
    _all_pages_ok(browser, pages)
    health = browser.get("/healthz")
    assert health.status_code == 200 and health.json()["db"] == "ok"
    print(f"\npg_ctl restart -m fast took {took:.1f} s; every page answered 200 right after it")

    # 2. Down for a while: clean 503s, nothing written, /healthz says so.
    token = _readings_form(browser, submit)
    outage = seconds(3)
    cluster.stop()
    stopped_at = time.monotonic()
    answers = 0
    while True:
        for path in pages:
            response = browser.get(path)
            assert response is not None, browser.calls[-1].error
            assert response.status_code == 503, (f"{path} while PostgreSQL is down: {response.status_code}\n"
                                                 f"{server.log()[-3000:]}")
            assert 'id="service-unavailable"' in response.text and "Traceback" not in response.text
            assert response.headers["Retry-After"] == "30"
            answers += 1
        health = browser.get("/healthz")
        assert health.status_code == 503
        assert health.json()["status"] == "error" and health.json()["db"].startswith("error")
        if time.monotonic() - stopped_at >= outage:
            break
        time.sleep(min(1.0, outage / 5))
    refused = _submit(browser, submit, token, customer.register_ids, "1011,5")
    assert refused is not None and refused.status_code == 503
    cluster.start()
    print(f"PostgreSQL down {time.monotonic() - stopped_at:.1f} s: {answers} page requests, each a clean 503")

    _all_pages_ok(browser, pages)
    assert browser.get("/healthz").json()["db"] == "ok"
    assert _stored_values(url, customer.register_ids) == set(), "the form posted during the outage wrote nothing"
    saved = _submit(browser, submit, _readings_form(browser, submit), customer.register_ids, "1022,5")
    assert saved is not None and saved.status_code == 302 and "saved=" in saved.headers["Location"]
    assert _stored_values(url, customer.register_ids) == {Decimal("1022.5")}
    assert "Traceback" not in server.log(), server.log()[-3000:]


def test_a_request_that_cannot_reach_the_database_answers_the_503_page_and_not_a_500():
    """The handler alone, in-process: a sign-in (which must read the user) against a closed port."""
    from app import create_app
    from tests.services import closed_port_url

    unreachable = create_app({"CRM_CONFIG": "test", "SQLALCHEMY_DATABASE_URI":
                              closed_port_url("postgresql+psycopg") + "/crm"})
    response = unreachable.test_client().post("/portal/login", data={"login": "ivanov@example.com",
                                                                      "password": "Secret2026pass"})

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30" and response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert "Сервис временно недоступен" in page and 'id="service-unavailable"' in page
    assert "Traceback" not in page and "OperationalError" not in page
