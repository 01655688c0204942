"""The billing API's token authentication and its public OpenAPI document (SPEC B9)."""
from __future__ import annotations

from crm.extensions import db
from crm.models import ApiToken
from crm.services import api_tokens


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_ping_answers_with_the_tokens_name_when_the_token_is_valid(app, client):
    with app.app_context():
        _, secret = api_tokens.issue_token("Billing 1C", ["readings"])
    response = client.get("/api/v1/ping/", headers=_bearer(secret))
    assert response.status_code == 200
    assert response.json == {"name": "Billing 1C", "scopes": ["readings"]}
    with app.app_context():
        assert db.session.query(ApiToken).one().last_used_at is not None


def test_api_refuses_missing_unknown_and_revoked_tokens_with_401(app, client):
    assert client.get("/api/v1/ping/").status_code == 401
    assert client.get("/api/v1/ping/", headers=_bearer("crm_not-a-token")).status_code == 401
    with app.app_context():
        token, secret = api_tokens.issue_token("Old", ["readings"])
        api_tokens.revoke_token(token.id)
    response = client.get("/api/v1/ping/", headers=_bearer(secret))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_api_refuses_a_token_without_the_scope_with_403(app, client):
    with app.app_context():
        _, secret = api_tokens.issue_token("Billing only", ["billing"])
    assert client.get("/api/v1/ping/", headers=_bearer(secret)).status_code == 403


def test_only_the_hash_of_the_secret_is_stored(app):
    with app.app_context():
        token, secret = api_tokens.issue_token("Hash check", ["readings", "billing"])
        stored = db.session.get(ApiToken, token.id)
        assert secret not in (stored.token_hash, stored.prefix)
        assert stored.token_hash == api_tokens.hash_secret(secret)


def test_openapi_document_is_public_and_declares_bearer_security(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json
    assert document["openapi"].startswith("3.")
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert "/api/v1/ping/" in document["paths"]


def test_every_billing_api_method_requires_a_token_scope(app):
    """A resource method without `token_required` would be open to anyone: none may exist."""
    from crm.api import BillingApi

    unguarded = []
    for view in app.appbuilder.baseviews:
        if not isinstance(view, BillingApi):
            continue
        for name in dir(view):
            method = getattr(view, name)
            if hasattr(method, "_urls") and not hasattr(method, "_api_scope"):
                unguarded.append(f"{type(view).__name__}.{name}")
    assert not unguarded, unguarded


def test_a_signed_in_customer_session_gives_no_api_access(app, db):
    from tests import factories as f

    f.user("session@test.example")
    db.session.commit()
    client = app.test_client()
    assert f.login(client, "session@test.example").status_code == 302
    assert client.get("/api/v1/ping/").status_code == 401


def test_issuing_and_revoking_a_token_is_audited_without_the_secret(app):
    from crm.models import AuditLog

    with app.app_context():
        token, secret = api_tokens.issue_token("Audited", ["billing"])
        api_tokens.revoke_token(token.id)
        api_tokens.revoke_token(token.id)          # idempotent: no second row
        rows = db.session.query(AuditLog).filter(AuditLog.subject_type == "api_token").order_by(AuditLog.id).all()
        assert [row.action for row in rows] == ["api_token.issued", "api_token.revoked"]
        assert all(secret not in str(row.detail) for row in rows)
