"""Application factory: the only place that wires extensions, views, the portal and jobs."""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from dotenv import load_dotenv

load_dotenv()  # before config.py reads the environment

from flask import Flask, abort, redirect, request, url_for  # noqa: E402
from flask_appbuilder import AppBuilder  # noqa: E402
from werkzeug.routing import IntegerConverter  # noqa: E402

import config as config_module  # noqa: E402
from crm.extensions import csrf, db, disable_postgres_jit, enable_sqlite_foreign_keys, migrate  # noqa: E402

log = logging.getLogger(__name__)


def _load_config(app: Flask, config: Any) -> None:
    if config is None:
        config = os.environ.get("CRM_CONFIG", "dev")
    if isinstance(config, str):
        config = config_module.CONFIGS[config]
    explicit_inline = None
    if isinstance(config, Mapping):
        app.config.from_object(config_module.CONFIGS[config.get("CRM_CONFIG", "test")])
        app.config.update(config)
        explicit_inline = config.get("JOBS_INLINE")
    else:
        app.config.from_object(config)
    # Jobs go to RQ exactly when Redis is configured (unless a caller says otherwise explicitly).
    inline = not app.config.get("REDIS_URL") if explicit_inline is None else explicit_inline
    app.config["JOBS_INLINE"] = inline or not app.config.get("REDIS_URL")


class RowIdConverter(IntegerConverter):
    """`<int:…>` names a row: a number beyond the INTEGER key range matches no route (404) instead of
    reaching the database, which refuses it (a 500 on PostgreSQL and SQLite alike)."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002 - werkzeug's parameter name
        kwargs.setdefault("max", 2 ** 31 - 1)
        super().__init__(map, *args, **kwargs)


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _refuse_nul_characters():
    """A query or form value holding NUL (0x00) is refused with 400 before any view sees it: PostgreSQL
    cannot store NUL in text, so its first write was a 500 (profile, sign-up "about you", …)."""
    values = [value for _, vs in request.args.lists() for value in vs]
    if request.method in ("POST", "PUT", "PATCH") and request.mimetype in _FORM_TYPES:
        values += [value for _, vs in request.form.lists() for value in vs]
    if any("\x00" in value for value in values):
        abort(400)


def create_app(config: Any = None) -> Flask:
    """Build the app. `config` is a Config class, a name ("dev", "test", "prod") or a dict of overrides."""
    app = Flask(__name__, template_folder="crm/templates", static_folder="crm/static",
                static_url_path="/static/crm")
    app.url_map.converters["int"] = RowIdConverter
    _load_config(app, config)
    os.makedirs(app.instance_path, exist_ok=True)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        os.makedirs(os.path.dirname(app.config["SQLALCHEMY_DATABASE_URI"][len("sqlite:///"):]), exist_ok=True)

    import crm.models  # noqa: F401  (register every table before Alembic or FAB look)

    db.init_app(app)
    with app.app_context():
        enable_sqlite_foreign_keys(db.engine)
        disable_postgres_jit(db.engine)
    # CSRF before FAB, so FAB can exempt its API blueprints.
    csrf.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "migrations"),
                     render_as_batch=True, compare_type=True)

    from crm.formatting import register_template_filters
    from crm.views import register_views

    with app.app_context():
        appbuilder = AppBuilder(update_perms=False)
        appbuilder.init_app(app, db.session)
        register_views(appbuilder)
        from customer_portal import register_portal
        register_portal(app, appbuilder)
        from crm.test_acquirer import register_test_acquirer
        register_test_acquirer(app)

    register_template_filters(app)

    from crm.cli import register_cli
    register_cli(app)

    from crm.web import register_web
    register_web(app)

    @app.route("/")
    def root():
        return redirect(url_for("portal.index"))

    app.before_request(_refuse_nul_characters)

    from workflows.queue import init_queue
    init_queue(app)
    return app
