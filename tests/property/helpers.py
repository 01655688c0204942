"""Shared helpers of the property tests: row counts of every domain table in one statement,
and hostile values for form fields."""
from __future__ import annotations

from hypothesis import strategies as st
from sqlalchemy import text

from tests.conftest import KEEP_TABLES


def table_counts(db, *, exclude: frozenset[str] | set[str] = frozenset()) -> dict[str, int]:
    """{table: row count} of every table except FAB's catalogue and `exclude`, in one round trip."""
    tables = [t.name for t in db.metadata.sorted_tables if t.name not in KEEP_TABLES and t.name not in exclude]
    select = ", ".join(f'(SELECT count(*) FROM "{name}") AS "c{i}"' for i, name in enumerate(tables))
    db.session.rollback()
    row = db.session.execute(text(f"SELECT {select}")).one()
    db.session.rollback()
    return dict(zip(tables, row, strict=True))


def changed(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {name: (before[name], after[name]) for name in before if before[name] != after[name]}


# --- hostile values ---------------------------------------------------------------------------

SPECIAL_STRINGS = [
    "", " ", "\t\n", "0", "-0", "-1", "1e309", "-1e309", "NaN", "nan", "inf", "-Infinity", "12,5", "12.5",
    "1 000,00", "1,2,3", "0x10", "9" * 40, "-" + "9" * 30, "1e-400", "١٢٣",  # Arabic-Indic digits
    "31.02.2026", "2026-02-31", "0000-00-00", "9999-12-31", "10000-01-01", "1899-12-31", "01.13.2026",
    "2026-13", "2026-00", "\x00", "a\x00b", "\u202eevil\u202c", "\u200b", "\ufeff", "\u200d\u200d",
    "😀" * 5, "ß" * 3, "İ", "<script>alert(1)</script>", "' OR 1=1 --", "%s%s%n", "{{7*7}}", "../../etc/passwd",
    "x" * 5000, "я" * 70000, "on", "true", "false", "None", "null", "[]", "{}",
    "user@example.com", "a@b", "@", "+7 (999) 000-00-00", "+79990000000",
]


def hostile_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(SPECIAL_STRINGS),
        st.text(max_size=40),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=12),
        st.integers(min_value=-(10 ** 20), max_value=10 ** 20).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.dates().map(lambda d: d.strftime("%d.%m.%Y") if d.year >= 1000 else d.isoformat()),
    )


def hostile_value(ids: list[int] | None = None) -> st.SearchStrategy:
    """A single value, a list of values (a field sent several times) or an id of somebody's object."""
    single = hostile_text() if not ids else st.one_of(hostile_text(), st.sampled_from(ids).map(str))
    return st.one_of(single, single, st.lists(single, min_size=2, max_size=3))
