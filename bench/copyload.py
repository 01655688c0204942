"""Bulk loading for the benchmark generators: PostgreSQL COPY, an executemany fallback elsewhere.

`Loader(engine).load(table, columns, rows)` streams an iterable of tuples into `table`:
on PostgreSQL through psycopg's `cursor.copy()` (text COPY, one statement per table), on any other
backend (SQLite, small scales only) through SQLAlchemy Core `insert()` in chunks, so the column types
convert the values (JSON columns take JSON text here, as COPY does). Rows may carry explicit ids;
`reset_sequences()` moves PostgreSQL's id sequences past them afterwards.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence

from sqlalchemy import JSON, Numeric, Table
from sqlalchemy.engine import Engine


def _server_cpu(conn) -> float | None:
    """CPU seconds used so far by this connection's PostgreSQL server process (local server, Linux), else None."""
    try:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def copy_rows(conn, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> int:
    """COPY rows into `table` over the raw psycopg connection of a SQLAlchemy connection; returns the count."""
    raw = conn.connection.driver_connection
    count = 0
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
    return count


class Loader:
    """Loads tables one after another and remembers rows and seconds per table."""

    def __init__(self, engine: Engine, chunk: int = 5000):
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self.chunk = chunk
        self.stats: dict[str, list[float]] = {}   # table -> [rows, seconds, server CPU seconds]
        self.explicit_ids: set[str] = set()

    def _table(self, name: str) -> Table:
        from crm.extensions import db

        return db.metadata.tables[name]

    def load(self, table: str, columns: Sequence[str], rows: Iterable[tuple], defer_indexes: bool = False) -> int:
        """Stream `rows` into `table`. `defer_indexes` (PostgreSQL, for big loads): drop the table's non-unique
        secondary indexes, COPY, and create them again from their own definitions — all in one transaction, so
        an error leaves the indexes as they were."""
        started = time.perf_counter()
        if "id" in columns:
            self.explicit_ids.add(table)
        if self.postgres:
            with self.engine.begin() as conn:
                conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
                cpu_before = _server_cpu(conn)
                deferred = []
                if defer_indexes:
                    conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
                    deferred = conn.exec_driver_sql(
                        "SELECT i.indexname, i.indexdef FROM pg_indexes i JOIN pg_class c ON c.relname = i.indexname "
                        "JOIN pg_index x ON x.indexrelid = c.oid WHERE i.schemaname = current_schema() "
                        "AND i.tablename = %(t)s AND NOT x.indisunique AND NOT x.indisprimary",
                        {"t": table}).all()
                    for name, _definition in deferred:
                        conn.exec_driver_sql(f'DROP INDEX "{name}"')
                count = copy_rows(conn, table, columns, rows)
                for _name, definition in deferred:
                    conn.exec_driver_sql(definition)
                cpu_after = _server_cpu(conn)
            server_cpu = cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else 0.0
        else:
            count = self._insert(self._table(table), list(columns), rows)
            server_cpu = 0.0
        entry = self.stats.setdefault(table, [0, 0.0, 0.0])
        entry[0] += count
        entry[1] += time.perf_counter() - started
        entry[2] += server_cpu
        return count

    def _insert(self, table: Table, columns: list[str], rows: Iterable[tuple]) -> int:
        json_at = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, JSON)]
        numeric_at = [i for i, c in enumerate(columns) if isinstance(table.c[c].type, Numeric)]
        count, batch = 0, []
        with self.engine.begin() as conn:
            for row in rows:
                if json_at or numeric_at:
                    row = list(row)
                    for i in json_at:
                        if isinstance(row[i], str):
                            row[i] = json.loads(row[i])
                    for i in numeric_at:
                        if isinstance(row[i], float | int | str):
                            from decimal import Decimal

                            row[i] = Decimal(str(row[i]))
                batch.append(dict(zip(columns, row, strict=True)))
                if len(batch) >= self.chunk:
                    conn.execute(table.insert(), batch)
                    count += len(batch)
                    batch = []
            if batch:
                conn.execute(table.insert(), batch)
                count += len(batch)
        return count

    def next_id(self, table: str) -> int:
        with self.engine.connect() as conn:
            return (conn.exec_driver_sql(f"SELECT max(id) FROM {table}").scalar() or 0) + 1

    def reset_sequences(self) -> None:
        """After explicit ids: PostgreSQL's serial sequences continue after the largest id."""
        if not self.postgres:
            return
        with self.engine.begin() as conn:
            for table in sorted(self.explicit_ids):
                conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                     f"(SELECT coalesce(max(id), 1) FROM {table}))")

    def analyze(self) -> float:
        started = time.perf_counter()
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
        return time.perf_counter() - started
