"""Test fixtures: one app per session on a fresh database built by the real migrations.

TEST_DATABASE_URL chooses the backend (`make test` runs the suites on PostgreSQL, then SQLite);
without it a SQLite file in a temporary directory is used.
"""
from __future__ import annotations

import contextvars
import os
import tempfile
from contextlib import contextmanager

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, text
from sqlalchemy.engine import make_url

from crm import clock
from tests.services import IN_CI, RedisServer, start_smtp_sink, unavailable

KEEP_TABLES = {"ab_permission", "ab_view_menu", "ab_permission_view", "ab_role", "ab_permission_view_role",
               "alembic_version"}


def _test_database_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tempfile.mkdtemp(prefix='crm-test-')}/test.sqlite"


def _recreate_database(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database
        if path and os.path.exists(path):
            os.remove(path)
        return
    import psycopg

    admin_dsn = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    try:
        with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{parsed.database}"')
    except psycopg.OperationalError as exc:
        unavailable(f"PostgreSQL unavailable: {exc}")


class IsolatedClient(FlaskClient):
    """A test client whose every request gets its own app context, as in production.

    Without this, a request made while a test holds an app context (the `db` fixture) would reuse
    that context: `g` (Flask-Login's cached user, the locale) and the SQLAlchemy session would leak
    between requests and make query counts and sign-outs lie.
    """

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture(scope="session")
def database_url() -> str:
    return _test_database_url()


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    """The app on a database migrated from empty to head, with roles and permissions; files are
    stored in a temporary directory of the test session."""
    from flask_migrate import upgrade

    from app import create_app
    from crm.services.roles import sync_roles

    _recreate_database(database_url)
    application = create_app({"CRM_CONFIG": "test", "SQLALCHEMY_DATABASE_URI": database_url,
                              "STORAGE_URL": f"file://{tmp_path_factory.mktemp('files')}"})
    application.test_client_class = IsolatedClient
    with application.app_context():
        upgrade()
        sync_roles(application.appbuilder)
    yield application


@pytest.fixture()
def app_ctx(app):
    with app.app_context():
        yield app


@pytest.fixture(autouse=True)
def _clean_state(request):
    """Every test starts with no domain data, a real clock and no pending in-process jobs."""
    yield
    clock.set_now(None)
    if "app" not in request.fixturenames:
        return
    application = request.getfixturevalue("app")
    from crm.extensions import db
    from workflows.queue import clear_delayed

    clear_delayed()
    with application.app_context():
        db.session.rollback()
        reset_data(db)


def reset_data(db) -> None:
    """Delete every row except FAB's permission catalogue."""
    tables = [t for t in reversed(db.metadata.sorted_tables) if t.name not in KEEP_TABLES]
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()
    db.session.remove()


@pytest.fixture()
def db(app_ctx):
    from crm.extensions import db as database

    return database


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def query_counter(app):
    """`with query_counter() as q: ...; q.count` counts SQL statements sent to the database."""
    from crm.extensions import db as database

    @contextmanager
    def counter():
        class Box:
            count = 0
            statements: list[str] = []

        box = Box()
        box.statements = []

        def before(conn, cursor, statement, parameters, context, executemany):
            box.count += 1
            box.statements.append(statement)

        with app.app_context():
            engine = database.engine
        event.listen(engine, "before_cursor_execute", before)
        try:
            yield box
        finally:
            event.remove(engine, "before_cursor_execute", before)

    return counter


@pytest.fixture(scope="session")
def smtp_sink():
    sink = start_smtp_sink()
    yield sink
    sink.controller.stop()


@pytest.fixture()
def redis_server():
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def in_ci() -> bool:
    return IN_CI


# --- Job queue and e-mail outbox fixtures (W1) -------------------------------------------------
# Defined in tests/services.py next to the services they drive: mailbox (the SMTP sink, emptied),
# rq_app (a second app on RQ + a private Redis, same test database), start_worker / rq_worker
# (real `python -m workflows.worker` processes).
from tests.services import mailbox, rq_app, rq_worker, start_worker  # noqa: E402,F401
