"""The billing API against its own OpenAPI document (issue 8 item 6), driven by schemathesis.

For every operation of `/api/v1/openapi.json`, schemathesis generates requests that fit the document
(positive) and requests that break it (negative), sent in-process through the WSGI app with a valid
token (scopes `billing` and `readings`):

- never a 5xx, the status is one the document declares, and a JSON answer matches its declared schema;
- a rejected request (4xx) changes no row of any domain table (the token's `last_used_at` aside);
- without a token, with a wrong one or a malformed header: 401 with `WWW-Authenticate`, nothing written.

All operations run inside one test per property (one database reset, not one per operation); every
operation is tried and the failures of all of them are reported together.
"""
from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.transport.serialization import serialize_binary

from crm.services import api_tokens
from tests import factories as f
from tests.property.helpers import changed, table_counts

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
IGNORED_TABLES = frozenset({"api_token"})  # last_used_at only; rows are never added by the API
#: examples per operation and generation mode: a third of the profile's (29 operations × 2 modes)
EXAMPLES = max(4, settings.default.max_examples // 3)


@schemathesis.serializer("application/pdf")
def _pdf(ctx, value) -> bytes:
    """`PUT /documents/{external_id}/pdf` takes the raw file: whatever was generated, as bytes."""
    return serialize_binary(value)


@pytest.fixture()
def api(app, db):
    """The schema loaded from the running app, a token with both scopes, and branch 01 so that
    generated upserts can succeed."""
    f.branch(code="01")
    db.session.commit()
    _, secret = api_tokens.issue_token("Fuzz", ["billing", "readings"])
    db.session.commit()
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    return {"schema": schema, "operations": operations, "headers": {"Authorization": f"Bearer {secret}"}}


def _label(operation) -> str:
    return f"{operation.method.upper()} {operation.path}"


def _run_for_each(operations, run) -> None:
    failures = []
    for operation in operations:
        try:
            run(operation)
        except Exception as error:  # noqa: BLE001 - collected, reported together below
            failures.append(f"--- {_label(operation)}\n{str(error)[:3000]}")
    assert not failures, f"{len(failures)} operation(s) failed:\n" + "\n".join(failures)


def test_the_document_lists_every_billing_and_readings_operation(api):
    labels = {_label(op) for op in api["operations"]}
    assert "PUT /api/v1/contracts/" in labels and "POST /api/v1/batch/" in labels
    assert "PUT /api/v1/documents/{external_id}/pdf" in labels and "GET /api/v1/readings/submitted" in labels
    assert len(labels) >= 25


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_every_operation_never_fails_and_its_rejections_write_nothing(api, db, mode):
    def check(operation):
        @settings(max_examples=EXAMPLES)
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case):
            before = table_counts(db, exclude=IGNORED_TABLES)
            response = case.call_and_validate(headers=api["headers"], checks=CHECKS)
            after = table_counts(db, exclude=IGNORED_TABLES)
            if mode is GenerationMode.POSITIVE:  # negative cases may break the security header itself
                assert response.status_code != 401, "a valid token with both scopes must be accepted"
            if response.status_code >= 400:
                assert not changed(before, after), (response.status_code, changed(before, after))

        run()

    _run_for_each(api["operations"], check)


BAD_AUTHORIZATION = [None, "", "Bearer", "Bearer ", "Bearer wrong-token", "Basic dXNlcjpwYXNz", "Token abc",
                     "Bearer " + "x" * 5000, "Bearer ' OR 1=1 --", "Bearer \u202etoken", "Bearer crm_\u0000"]


def test_every_operation_answers_401_and_writes_nothing_without_a_valid_token(api, db):
    def check(operation):
        @settings(max_examples=max(3, EXAMPLES // 2))
        @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
               authorization=st.sampled_from(BAD_AUTHORIZATION))
        def run(case, authorization):
            headers = {key: value for key, value in (case.headers or {}).items() if key.lower() != "authorization"}
            if authorization is not None:
                headers["Authorization"] = authorization
            case.headers = headers
            before = table_counts(db)
            response = case.call()
            assert response.status_code == 401, (response.status_code, authorization)
            headers = {key.lower(): value for key, value in response.headers.items()}
            assert "Bearer" in str(headers.get("www-authenticate")), headers
            assert not changed(before, table_counts(db))

        run()

    _run_for_each(api["operations"], check)


# --- Regressions found by the runs above (each was a 500 on PostgreSQL) --------------------------

@pytest.mark.parametrize("path", ["/api/v1/contracts/", "/api/v1/documents/", "/api/v1/payments/",
                                  "/api/v1/readings/submitted?period=2026-01"])
def test_paging_past_the_largest_integer_id_answers_an_empty_last_page(client, api, path):
    separator = "&" if "?" in path else "?"
    response = client.get(f"{path}{separator}after_id=20438107441", headers=api["headers"])
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["items"] == [] and response.get_json()["next_after_id"] is None


def test_a_nul_character_in_a_text_field_is_a_422_problem_and_nothing_is_written(client, api, db):
    tariff = {"external_id": "T-\x00", "group_code": "G1", "name": "Одно\x00ставочный", "rate": 5.47,
              "valid_from": "2026-01-01"}
    before = table_counts(db, exclude=IGNORED_TABLES)
    response = client.put("/api/v1/tariffs/", data=json.dumps([tariff]), headers=api["headers"],
                          content_type="application/json")
    assert response.status_code == 422, response.get_data(as_text=True)
    assert {problem["field"] for problem in response.get_json()["errors"]} >= {"external_id", "name"}
    assert not changed(before, table_counts(db, exclude=IGNORED_TABLES))


def test_a_nul_character_in_an_external_id_of_the_path_is_a_404(client, api):
    assert client.get("/api/v1/contracts/C%00-1", headers=api["headers"]).status_code == 404
    response = client.put("/api/v1/documents/D%00-1/pdf", data=b"%PDF-1.4\n%%EOF\n", headers=api["headers"],
                          content_type="application/pdf")
    assert response.status_code == 404
