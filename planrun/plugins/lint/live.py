"""What ``planrun lint --url`` reads from the live database, on one read-only connection: its
column types and indexes (so type changes and new foreign keys are judged against what is
there), and, after the lint, the sizes that rank the findings."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ..pg.fingerprint import USER_NAMESPACE

_TYPES = f"""
    SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p') AND {USER_NAMESPACE}"""
_INDEXES = f"""
    SELECT c.relname, array(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(attnum, n)
                            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE {USER_NAMESPACE}"""


@contextlib.contextmanager
def live_connection(url: str) -> Iterator:
    from ..pg.connect import connect

    conn = connect(url, application_name="planrun lint", readonly=True, autocommit=True)
    try:
        yield conn
    finally:
        conn.close()


def catalog(conn) -> tuple[dict, dict]:
    """``({(table, column): "character varying(120)"}, {table: [indexed column lists]})``."""
    from ..pg.connect import query_all

    types = {(table, column): text for table, column, text in query_all(conn, _TYPES)}
    indexes: dict[str, list[tuple[str, ...]]] = {table: [] for table, _ in types}
    for table, columns in query_all(conn, _INDEXES):
        indexes.setdefault(table, []).append(tuple(columns))
    return types, indexes
