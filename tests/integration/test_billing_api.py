"""Billing records over the REST API (SPEC B9): token scope, 422 with every problem and nothing written,
idempotent upserts, GET by external id, PDFs, the batch of several kinds, and the OpenAPI document."""
from __future__ import annotations

import base64
import json
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from crm.models import BillingDocument, Contract, Counterparty, EnergyObject, Meter, Payment, Register, Tariff
from crm.services import api_tokens
from crm.storage import get_storage
from tests import factories as f

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

CONTRACT = {"external_id": "C-1", "number": "77010000000001", "counterparty_external_id": "CP-1",
            "counterparty_name": "Общество с ограниченной ответственностью «Ромашка»", "inn": "7707083893",
            "branch_code": "01", "signed_on": "2025-12-20", "starts_on": "2026-01-01", "opening_balance": 608822.79}
OBJECT = {"external_id": "O-1", "contract_external_id": "C-1", "code": "EO-0001", "name": "Цех № 1"}
METER = {"external_id": "M-1", "object_external_id": "O-1", "serial": "01234567", "registers": ["A+:day", "A+:night"],
         "transformation_ratio": "40", "losses_percent": 1.5}
DOCUMENT = {"external_id": "D-1", "contract_external_id": "C-1", "doc_type": "invoice", "number": "СФ-1",
            "doc_date": "2016-05-31", "period": "2016-05", "amount": "198685.01", "amount_due": 198685.01}
PAYMENT = {"external_id": "P-1", "contract_external_id": "C-1", "document_external_id": "D-1",
           "paid_on": "2016-06-10", "amount": 979990.44}
TARIFF = {"external_id": "T-1", "group_code": "G1", "name": "Одноставочный", "rate": 5.47, "valid_from": "2026-01-01"}


@pytest.fixture()
def token(db):
    """A bearer header with the `billing` scope, and branch 01."""
    f.branch(code="01")
    db.session.commit()
    _, secret = api_tokens.issue_token("Billing 1C", ["billing"])
    return {"Authorization": f"Bearer {secret}"}


def put(client, path: str, body, headers, method: str = "put"):
    return getattr(client, method)(path, data=json.dumps(body, ensure_ascii=False), headers=headers,
                                   content_type="application/json")


def count(db, model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


# --- authentication ------------------------------------------------------------------------------

def test_upsert_is_refused_with_401_when_no_token_is_sent(client, db):
    assert put(client, "/api/v1/contracts/", [CONTRACT], {}).status_code == 401
    assert client.get("/api/v1/contracts/C-1").status_code == 401
    assert count(db, Contract) == 0


def test_upsert_is_refused_with_403_when_the_token_has_only_the_readings_scope(client, db):
    _, secret = api_tokens.issue_token("Readings only", ["readings"])
    response = put(client, "/api/v1/tariffs/", [TARIFF], {"Authorization": f"Bearer {secret}"})
    assert response.status_code == 403
    assert count(db, Tariff) == 0


def test_customer_browser_session_gets_401_from_the_billing_api(app, db):
    f.user("session-billing@test.example")
    db.session.commit()
    client = app.test_client()
    assert f.login(client, "session-billing@test.example").status_code == 302
    assert client.get("/api/v1/contracts/C-1").status_code == 401
    assert put(client, "/api/v1/tariffs/", [TARIFF], {}).status_code == 401


# --- idempotent upserts and reads ----------------------------------------------------------------

def test_same_list_twice_creates_once_then_reports_unchanged_for_every_kind(client, db, token):
    for path, body in (("tariffs", TARIFF), ("contracts", CONTRACT), ("objects", OBJECT), ("meters", METER),
                       ("documents", DOCUMENT), ("payments", PAYMENT)):
        first = put(client, f"/api/v1/{path}/", [body], token)
        second = put(client, f"/api/v1/{path}/", [body], token, method="post")
        assert first.status_code == 200, first.json
        assert (first.json["created"], first.json["updated"], first.json["unchanged"]) == (1, 0, 0)
        assert (second.json["created"], second.json["updated"], second.json["unchanged"]) == (0, 0, 1), path
    assert [count(db, model) for model in (Tariff, Counterparty, Contract, EnergyObject, Meter, Register,
                                           BillingDocument, Payment)] == [1, 1, 1, 1, 1, 2, 1, 1]
    assert db.session.scalar(select(Payment.amount)) == Decimal("979990.44")
    assert db.session.scalar(select(Contract.opening_balance)) == Decimal("608822.79")


def test_changed_field_is_updated_and_read_back_by_external_id(client, db, token):
    put(client, "/api/v1/contracts/", [CONTRACT], token)
    changed = put(client, "/api/v1/contracts/", [{**CONTRACT, "status": "suspended", "opening_balance": "0"}], token)

    assert changed.json["counts"] == {"counterparties": {"created": 0, "updated": 0, "unchanged": 1},
                                      "contracts": {"created": 0, "updated": 1, "unchanged": 0}}
    record = client.get("/api/v1/contracts/C-1", headers=token)
    assert record.status_code == 200
    assert record.json["status"] == "suspended" and record.json["opening_balance"] == "0.00"
    assert record.json["counterparty_external_id"] == "CP-1" and record.json["branch_code"] == "01"
    assert record.json["signed_on"] == "2025-12-20"


def test_record_read_back_and_sent_again_changes_nothing(client, db, token):
    put(client, "/api/v1/contracts/", [CONTRACT], token)
    put(client, "/api/v1/documents/", [{**DOCUMENT, "pdf": base64.b64encode(PDF).decode()}], token)
    for path, external_id in (("contracts", "C-1"), ("documents", "D-1")):
        record = client.get(f"/api/v1/{path}/{external_id}", headers=token).json

        again = put(client, f"/api/v1/{path}/", [record], token)

        assert again.status_code == 200, again.json
        assert (again.json["created"], again.json["updated"], again.json["unchanged"]) == (0, 0, 1)
    assert db.session.scalar(select(BillingDocument.file_key)) is not None


def test_meter_reads_back_with_its_point_and_registers(client, db, token):
    put(client, "/api/v1/contracts/", [CONTRACT], token)
    put(client, "/api/v1/objects/", [OBJECT], token)
    put(client, "/api/v1/meters/", [METER], token)

    record = client.get("/api/v1/meters/M-1", headers=token).json

    assert record["registers"] == ["A+:day", "A+:night"]
    assert (record["transformation_ratio"], record["losses_percent"]) == ("40.0000", "1.500")
    assert record["object_external_id"] == "O-1" and record["point_external_id"] == "M-1"


def test_records_are_listed_page_by_page_in_constant_statements(client, db, token, query_counter):
    put(client, "/api/v1/contracts/", [CONTRACT], token)
    objects = [{**OBJECT, "external_id": f"O-{i}", "code": f"EO-{i:04d}"} for i in range(5)]
    put(client, "/api/v1/objects/", objects, token)
    put(client, "/api/v1/meters/", [{**METER, "external_id": f"M-{i}", "object_external_id": f"O-{i}"}
                                    for i in range(5)], token)

    first = client.get("/api/v1/meters/?limit=3", headers=token).json
    with query_counter() as counter:
        second = client.get(f"/api/v1/meters/?limit=3&after_id={first['next_after_id']}", headers=token)
    bad = client.get("/api/v1/meters/?limit=0", headers=token)

    assert [item["external_id"] for item in first["items"]] == ["M-0", "M-1", "M-2"]
    assert [item["external_id"] for item in second.json["items"]] == ["M-3", "M-4"]
    assert second.json["next_after_id"] is None
    assert second.json["items"][0]["registers"] == ["A+:day", "A+:night"]
    assert counter.count == 6      # token (+ last used), meters, their points, registers, objects
    assert bad.status_code == 400


def test_unknown_external_id_answers_404(client, token):
    response = client.get("/api/v1/payments/nope", headers=token)
    assert response.status_code == 404
    assert response.json["message"] == "Нет записи с внешним идентификатором nope."


# --- 422: every problem, nothing written ---------------------------------------------------------

def test_bad_items_answer_422_with_every_problem_and_nothing_is_written(client, db, token):
    put(client, "/api/v1/contracts/", [CONTRACT], token)
    body = [
        {**PAYMENT, "document_external_id": None},                                     # item 1: good
        {**PAYMENT, "external_id": "P-2", "contract_external_id": "C-404",
         "document_external_id": None},                                                # item 2: unknown contract
        {**PAYMENT, "external_id": "P-3", "amount": "сто", "document_external_id": None},  # item 3: text amount
        {**PAYMENT, "document_external_id": None, "paid_on": "2016-13-01"},            # item 4: repeated id, date
        {**PAYMENT, "external_id": "P-5", "document_external_id": None, "colour": "red"},  # item 5: unknown field
    ]

    response = put(client, "/api/v1/payments/?_l_=en", body, token)

    assert response.status_code == 422
    assert response.json["message"] == "Nothing was imported: 5 problems were found."
    assert response.json["errors"] == [
        {"item": 2, "kind": "payments", "field": "contract_external_id",
         "message": "No contract with the external id C-404."},
        {"item": 3, "kind": "payments", "field": "amount", "message": "Not a number."},
        {"item": 4, "kind": "payments", "field": "paid_on",
         "message": "Not a date (expected DD.MM.YYYY or YYYY-MM-DD)."},
        {"item": 4, "kind": "payments", "field": "external_id",
         "message": "The external id P-1 is repeated: it is already in item 1."},
        {"item": 5, "kind": "payments", "field": "colour", "message": "Unknown field."},
    ]
    assert count(db, Payment) == 0


def test_problems_are_in_russian_unless_the_client_asks_for_english(client, db, token):
    russian = put(client, "/api/v1/tariffs/", [{**TARIFF, "rate": "abc"}], token)
    english = put(client, "/api/v1/tariffs/?_l_=en", [{**TARIFF, "rate": "abc"}], token)
    assert russian.status_code == english.status_code == 422
    assert russian.json["message"] == "Ничего не загружено: найдена 1 ошибка."
    assert russian.json["errors"][0]["message"] == "Не число."
    assert english.json["errors"][0]["message"] == "Not a number."


def test_body_that_is_not_a_list_or_not_json_is_refused(client, db, token):
    assert put(client, "/api/v1/tariffs/", {"external_id": "T-1"}, token).status_code == 422
    bad = client.put("/api/v1/tariffs/", data=b"{not json", headers=token, content_type="application/json")
    assert bad.status_code == 400
    assert count(db, Tariff) == 0


def test_more_items_than_the_limit_are_refused_with_413(client, db, token, monkeypatch):
    from crm.services import billing_import

    monkeypatch.setattr(billing_import, "MAX_ITEMS", 2)
    body = [{**TARIFF, "external_id": f"T-{i}"} for i in range(3)]
    assert put(client, "/api/v1/tariffs/", body, token).status_code == 413
    assert count(db, Tariff) == 0


# --- batch of several kinds ----------------------------------------------------------------------

def test_batch_resolves_references_to_records_of_the_same_batch(client, db, token):
    batch = {"tariffs": [TARIFF], "contracts": [{**CONTRACT, "tariff_external_id": "T-1"}], "objects": [OBJECT],
             "meters": [METER], "documents": [DOCUMENT], "payments": [PAYMENT]}

    first = put(client, "/api/v1/batch/", batch, token, method="post")
    second = put(client, "/api/v1/batch/", batch, token, method="post")

    assert first.status_code == 200, first.json
    assert {kind: c["created"] for kind, c in first.json["counts"].items()} == {
        "tariffs": 1, "counterparties": 1, "contracts": 1, "objects": 1, "metering_points": 1, "meters": 1,
        "documents": 1, "payments": 1}
    assert all(c == {"created": 0, "updated": 0, "unchanged": 1} for c in second.json["counts"].values())
    payment = db.session.scalar(select(Payment))
    assert payment.document.external_id == "D-1" and payment.contract.tariff.external_id == "T-1"


def test_batch_with_a_payment_for_another_contracts_document_writes_nothing(client, db, token):
    other = {**CONTRACT, "external_id": "C-2", "number": "77010000000002"}
    batch = {"contracts": [CONTRACT, other], "documents": [DOCUMENT],
             "payments": [{**PAYMENT, "contract_external_id": "C-2"}]}

    response = put(client, "/api/v1/batch/", batch, token, method="post")

    assert response.status_code == 422
    assert response.json["errors"] == [{"item": 1, "kind": "payments", "field": "document_external_id",
                                        "message": "Документ относится к другому договору."}]
    assert count(db, Contract) == 0 and count(db, BillingDocument) == 0


# --- PDFs ---------------------------------------------------------------------------------------

def _stored_pdf(app, db) -> bytes:
    key = db.session.scalar(select(BillingDocument.file_key))
    with get_storage().open(key) as stored:
        return stored.read()


def test_document_pdf_in_base64_is_stored_once_when_sent_twice(app, client, db, token):
    put(client, "/api/v1/contracts/", [CONTRACT], token)
    body = [{**DOCUMENT, "pdf": base64.b64encode(PDF).decode()}]

    put(client, "/api/v1/documents/", body, token)
    key = db.session.scalar(select(BillingDocument.file_key))
    again = put(client, "/api/v1/documents/", body, token)

    assert again.json["unchanged"] == 1
    assert count(db, BillingDocument) == 1
    assert db.session.scalar(select(BillingDocument.file_key)) == key
    assert _stored_pdf(app, db) == PDF
    assert client.get("/api/v1/documents/D-1", headers=token).json["has_pdf"] is True


def test_document_pdf_upload_replaces_the_file_and_refuses_what_is_not_a_pdf(app, client, db, token):
    put(client, "/api/v1/contracts/", [CONTRACT], token)
    put(client, "/api/v1/documents/", [DOCUMENT], token)
    newer = PDF.replace(b"Catalog", b"Catalog /Lang (ru)")

    first = client.put("/api/v1/documents/D-1/pdf", data=PDF, headers=token, content_type="application/pdf")
    same = client.put("/api/v1/documents/D-1/pdf", data=PDF, headers=token, content_type="application/pdf")
    replaced = client.put("/api/v1/documents/D-1/pdf", data=newer, headers=token, content_type="application/pdf")
    refused = client.put("/api/v1/documents/D-1/pdf", data=b"<html>", headers=token, content_type="application/pdf")
    missing = client.put("/api/v1/documents/D-404/pdf", data=PDF, headers=token, content_type="application/pdf")

    assert (first.json, same.json, replaced.json) == ({"changed": True}, {"changed": False}, {"changed": True})
    assert refused.status_code == 422 and refused.json["errors"][0]["message"] == "Файл не является PDF-документом."
    assert missing.status_code == 404
    assert _stored_pdf(app, db) == newer


# --- OpenAPI ------------------------------------------------------------------------------------

def test_openapi_document_lists_every_billing_path_with_request_and_response_schemas(client):
    document = client.get("/api/v1/openapi.json").json
    paths = document["paths"]
    for kind in ("contracts", "objects", "meters", "documents", "payments", "tariffs"):
        upsert = paths[f"/api/v1/{kind}/"]
        assert set(upsert) == {"put", "post", "get"}
        schema_ref = f"#/components/schemas/Billing{kind.capitalize()}Item"
        assert upsert["put"]["requestBody"]["content"]["application/json"]["schema"]["items"]["$ref"] == schema_ref
        assert upsert["put"]["security"] == [{"bearerAuth": []}]
        assert set(upsert["put"]["responses"]) >= {"200", "401", "403", "422"}
        assert paths[f"/api/v1/{kind}/{{external_id}}"]["get"]["responses"]["200"]["content"][
            "application/json"]["schema"]["$ref"] == schema_ref
    assert "put" in paths["/api/v1/documents/{external_id}/pdf"]
    assert "post" in paths["/api/v1/batch/"]
    schemas = document["components"]["schemas"]
    meters = schemas["BillingMetersItem"]
    assert {"external_id", "object_external_id", "serial"} <= set(meters["required"])
    assert meters["properties"]["registers"]["type"] == "array"
    assert schemas["BillingDocumentsItem"]["properties"]["doc_type"]["enum"][0] == "invoice"
    assert schemas["BillingPaymentsItem"]["properties"]["amount"]["format"] == "decimal"
    assert "errors" in schemas["BillingImportErrorSchema"]["properties"]


def test_document_date_field_is_typed_as_a_date_in_the_openapi_document(client):
    schemas = client.get("/api/v1/openapi.json").json["components"]["schemas"]
    assert schemas["BillingPaymentsItem"]["properties"]["paid_on"]["format"] == "date"
    assert date.fromisoformat("2016-06-10")


def test_database_refusal_answers_409_writes_nothing_and_removes_the_stored_pdf(app, client, db, token, monkeypatch):
    """A unique key taken by a concurrent import shows up only at flush: the batch still writes nothing."""
    from pathlib import Path
    from urllib.parse import urlparse

    from crm.models import Branch
    from crm.services.billing_import_money import PAYMENTS

    def clashing_apply(item, batch):
        db.session.add(Branch(code="01", name="Двойник"))       # branch 01 exists: IntegrityError at flush

    monkeypatch.setattr(PAYMENTS, "apply", clashing_apply)
    root = Path(urlparse(app.config["STORAGE_URL"]).path)
    before = sorted(root.rglob("*.pdf"))
    batch = {"contracts": [CONTRACT], "documents": [{**DOCUMENT, "pdf": base64.b64encode(PDF).decode()}],
             "payments": [PAYMENT]}

    response = put(client, "/api/v1/batch/", batch, token, method="post")

    assert response.status_code == 409
    assert count(db, Contract) == 0 and count(db, BillingDocument) == 0
    assert sorted(root.rglob("*.pdf")) == before


def test_fields_left_out_keep_their_values_when_a_record_is_sent_again(client, db, token):
    put(client, "/api/v1/contracts/", [CONTRACT], token)
    put(client, "/api/v1/objects/", [OBJECT], token)
    put(client, "/api/v1/meters/", [{**METER, "model": "Меркурий 230"}], token)
    short = {key: METER[key] for key in ("external_id", "object_external_id", "serial")}

    again = put(client, "/api/v1/meters/", [short], token)

    assert again.json["counts"]["meters"] == {"created": 0, "updated": 0, "unchanged": 1}
    record = client.get("/api/v1/meters/M-1", headers=token).json
    assert record["model"] == "Меркурий 230" and record["registers"] == ["A+:day", "A+:night"]
    assert record["transformation_ratio"] == "40.0000"


def test_contract_emails_are_replaced_by_the_list_sent_and_kept_when_left_out(client, db, token):
    from crm.models import ContractEmail

    put(client, "/api/v1/contracts/", [{**CONTRACT, "emails": "Buh@Romashka.example; boss@romashka.example"}], token)
    changed = put(client, "/api/v1/contracts/", [{**CONTRACT, "emails": ["buh@romashka.example",
                                                                        "new@romashka.example"]}], token)
    left_out = put(client, "/api/v1/contracts/", [CONTRACT], token)
    bad = put(client, "/api/v1/contracts/", [{**CONTRACT, "emails": "buh@romashka"}], {**token})

    assert changed.json["counts"]["contracts"]["updated"] == 1
    assert left_out.json["counts"]["contracts"]["unchanged"] == 1
    assert client.get("/api/v1/contracts/C-1", headers=token).json["emails"] == ["buh@romashka.example",
                                                                                 "new@romashka.example"]
    assert count(db, ContractEmail) == 2
    assert bad.status_code == 422 and bad.json["errors"][0]["field"] == "emails"


def test_empty_list_answers_zero_counts_and_writes_nothing(client, db, token):
    from crm.models import AuditLog

    response = put(client, "/api/v1/payments/", [], token)

    assert response.status_code == 200
    assert (response.json["created"], response.json["updated"], response.json["unchanged"]) == (0, 0, 0)
    # the token's own issue is audited; the empty batch adds nothing
    assert db.session.query(AuditLog).filter(AuditLog.action != "api_token.issued").count() == 0
