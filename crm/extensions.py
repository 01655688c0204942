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
