"""/healthz: the database decides up or down; the job queue is reported (see the view's docstring)."""
from __future__ import annotations


def test_healthz_reports_in_process_queue_when_no_redis_is_configured(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json == {"status": "ok", "db": "ok",
                             "queue": {"mode": "in-process", "state": "ok", "delayed": 0}}
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_reports_rq_queue_and_its_worker_when_redis_is_reachable(rq_app, rq_worker):
    response = rq_app.test_client().get("/healthz")

    assert response.status_code == 200
    body = response.json
    assert (body["status"], body["db"]) == ("ok", "ok")
    assert body["queue"] == {"mode": "rq", "state": "ok", "queue": "crm", "queued": 0, "scheduled": 0,
                             "failed": 0, "workers": 1}


def test_healthz_stays_up_and_reports_the_queue_error_when_redis_is_unreachable(rq_app, redis_server):
    client = rq_app.test_client()
    assert client.get("/healthz").json["queue"]["state"] == "ok"

    redis_server.stop()
    response = client.get("/healthz")

    # 200: the site still works and e-mail waits in the outbox; monitoring reads the body.
    assert response.status_code == 200
    assert response.json == {"status": "degraded", "db": "ok",
                             "queue": {"mode": "rq", "state": "error", "error": "ConnectionError"}}

    redis_server.start()
    assert client.get("/healthz").json["status"] == "ok", "it recovers without a restart"


def test_healthz_answers_503_when_the_database_is_unreachable(redis_server):
    from app import create_app
    from tests.services import closed_port_url

    unreachable = closed_port_url("postgresql+psycopg") + "/crm"
    broken = create_app({"CRM_CONFIG": "test", "SQLALCHEMY_DATABASE_URI": unreachable,
                         "REDIS_URL": redis_server.url, "JOBS_INLINE": False})
    response = broken.test_client().get("/healthz")

    assert response.status_code == 503
    assert response.json["status"] == "error"
    assert response.json["db"] == "error: OperationalError"
    assert response.json["queue"]["state"] == "ok"
