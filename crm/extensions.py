"""Unbound extensions; app.create_app() initialises them (one set per app)."""
from flask_appbuilder.models.sqla import Model
from flask_appbuilder.models.sqla.base import SQLA
from flask_babel import Babel
from flask_migrate import Migrate
from flask_wtf import CSRFProtect

db = SQLA(model_class=Model)
migrate = Migrate()
babel = Babel()
csrf = CSRFProtect()


def enable_sqlite_foreign_keys(engine) -> None:
    """SQLite ignores foreign keys (and so ON DELETE) unless each connection asks for them."""
    from sqlalchemy import event

    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, connection_record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def disable_postgres_jit(engine) -> None:
    """Turn PostgreSQL's JIT off for the app's connections.

    Every page's queries are short OLTP look-ups, but on large tables the planner's cost estimate of
    a query with an OR over a big table crosses jit_above_cost and PostgreSQL then spends seconds
    compiling it on every execution (measured: 2.3 s of compilation for a 66 ms header query at
    100 000 appeals). JIT only pays off for long analytical scans, which the app does not run."""
    from sqlalchemy import event

    if engine.dialect.name != "postgresql":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, connection_record):
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True  # a SET outside any transaction, so it lasts for the session
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET jit = off")
        dbapi_connection.autocommit = autocommit
