"""Session settings the app gives its PostgreSQL connections."""
from __future__ import annotations

from sqlalchemy import text


def test_jit_is_off_on_every_app_connection(app_ctx, db):
    """With JIT on, a large table makes PostgreSQL compile short page queries for seconds each time."""
    if db.engine.dialect.name != "postgresql":
        assert db.session.scalar(text("PRAGMA foreign_keys")) == 1  # SQLite: its own per-connection setting
        return
    assert db.session.scalar(text("SHOW jit")) == "off"
    with db.engine.connect() as other:  # a second pooled connection is set up the same way
        assert other.scalar(text("SHOW jit")) == "off"
