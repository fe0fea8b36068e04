"""Which tables an Alembic command wrote to, read from inside the command's own transactions
just before each commit (PostgreSQL counts this transaction's inserts, updates
and deletes per table, including those made by triggers and cascades). The stairway re-hashes
only those tables instead of scanning every table after every step.

The counters are the backend's pending ones: they also hold earlier transactions of the same
connection not yet flushed to the server's statistics, which only makes the list longer; within
a transaction nothing is flushed, so its own writes are always there.

Whenever the watch cannot be sure it saw every write, it says "unknown" (``None``) and the
fingerprint falls back to scanning: a statement run in autocommit mode (``autocommit_block``),
a commit it could not inspect (one on another driver than psycopg2), or statements left without
a commit or rollback it saw (a commit made on the driver's connection directly).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import psycopg2.extensions

from planrun.plugins.events import OwnTransaction
from planrun.zdt.sql import REPORTS_ITS_TRANSACTION

from .fingerprint import USER_NAMESPACE

# the tables this transaction wrote to, and the tables they inherit from or are partitions of
# (a parent's rows include its children's); pg_class with the counters directly, as the
# pg_stat_xact_user_tables view computes every counter of every table and costs twice as much
WRITTEN_TABLES = """
    WITH RECURSIVE written(relid) AS (
        SELECT c.oid FROM pg_class c WHERE c.relkind IN ('r', 'p') AND c.relnamespace <> 'pg_catalog'::regnamespace
           AND pg_stat_get_xact_tuples_inserted(c.oid) + pg_stat_get_xact_tuples_updated(c.oid)
               + pg_stat_get_xact_tuples_deleted(c.oid) > 0
        UNION
        SELECT i.inhparent FROM pg_inherits i JOIN written w ON i.inhrelid = w.relid)
    SELECT NULL, NULL::bigint, pg_current_xact_id_if_assigned()::text
    UNION ALL
    SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
    , pg_stat_get_xact_tuples_deleted(w.relid), NULL FROM written w
    JOIN pg_class c ON c.oid = w.relid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE {USER_NAMESPACE}""".format(USER_NAMESPACE=USER_NAMESPACE.replace("%%", "%"))


class WriteWatch:
    def __init__(self) -> None:
        self.tables: set[str] = set()
        self.sure = True
        self.why = ""  # what could not be seen, once ``sure`` is off
        self.xids: list[int] = []  # the committed transactions' ids (64-bit): rows whose xmin is one are the run's
        self.deleted: dict[str, int] = {}  # rows deleted per table by those transactions
        self.rolled_back_writes = False  # a transaction with statements was rolled back: its deletes were not seen
        self._pending: dict[int, object] = {}  # driver connections with statements not yet committed or rolled back

    def written(self) -> set[str] | None:
        """The tables written to, or ``None`` when that is not known for certain."""
        return set(self.tables) if self.sure and not self._pending else None

    def unseen(self) -> str:
        """Why :meth:`written` is ``None``."""
        if self._pending and not self.why:
            return "statements ended without a commit or rollback planrun saw"
        return self.why

    def _statement(self, conn, _cursor=None, statement: str = "", *_args) -> None:
        driver = _driver(conn)
        if driver is None or getattr(driver, "autocommit", False):
            # in autocommit each statement commits on its own: no commit to look into, so the
            # statement itself must be one that writes no table's rows (CREATE INDEX CONCURRENTLY...),
            # or one that tells the run its transaction and table (zdt's batches: see watch_writes)
            if not statement.startswith(REPORTS_ITS_TRANSACTION) and not _writes_no_rows(statement):
                self.sure, self.why = False, self.why or f"a statement ran in autocommit mode: {statement[:80]}"
        elif statement.lstrip()[:19].upper() == "PREPARE TRANSACTION":
            self._commit(conn)  # a two-phase run's transaction ends here, not in a commit: look inside it now
        else:
            self._pending[id(driver)] = driver

    def _commit(self, conn) -> None:
        driver = _driver(conn)
        if isinstance(driver, psycopg2.extensions.connection) and driver.autocommit:
            return  # nothing to commit: each statement was judged as it ran (see _statement)
        if not isinstance(driver, psycopg2.extensions.connection):
            # other drivers (asyncpg...) are not looked into: a query of ours must never abort their commit
            self.sure, self.why = False, self.why or "a commit on a driver other than psycopg2"
            return
        try:
            for table, deleted, xid in _read_written_tables(driver):
                if xid is not None:
                    self.xids.append(int(xid))
                elif table is not None:
                    self.tables.add(table)
                    self.deleted[table] = self.deleted.get(table, 0) + (deleted or 0)
        except Exception as exc:  # never let the watch break the migration's commit
            self.sure, self.why = False, self.why or f"a commit could not be looked into ({type(exc).__name__})"
            return
        self._pending.pop(id(driver), None)

    def _rollback(self, conn) -> None:
        driver = _driver(conn)
        if driver is None:
            self.sure, self.why = False, self.why or "a connection was closed before its rollback"
        elif self._pending.pop(id(driver), None) is not None:
            self.rolled_back_writes = True


def _writes_no_rows(statement: str) -> bool:
    """An autocommit statement that writes no table's rows: DDL that moves none (CREATE INDEX
    CONCURRENTLY, VACUUM...), or a plain SELECT of catalog and built-in functions (Alembic's and
    zdt's looks at the catalog). A SELECT calling anything else may write through it."""
    from pglast import ast, parse_sql

    from ..sql.nodes import called_functions
    from ..sql.touched import touched_tables

    if not statement:
        return False
    try:  # the driver's placeholders (%(name)s, %s) read as values
        statements = parse_sql(re.sub(r"%\(\w+\)s|%s", "NULL", statement))
    except Exception:
        return False
    if all(isinstance(s.stmt, ast.SelectStmt) for s in statements):
        return all(
            s.stmt.intoClause is None
            and not s.stmt.lockingClause
            and not s.stmt.withClause
            and called_functions(s.stmt) <= _READ_ONLY_BUILTINS
            for s in statements
        )
    found = touched_tables(statement, ignore=())
    return not found.tables and not found.unknown


# built-in functions a SELECT of Alembic's or zdt's calls in autocommit mode, none of which writes
_READ_ONLY_BUILTINS = {
    "to_regclass",
    "to_regtype",
    "to_regproc",
    "to_regnamespace",
    "current_setting",
    "current_database",
    "current_schema",
    "version",
    "count",
    "min",
    "max",
    "sum",
    "coalesce",
    "pg_get_indexdef",
    "pg_get_constraintdef",
    "pg_relation_size",
    "pg_total_relation_size",
    "format_type",
    "pg_backend_pid",
    "now",
    "pg_current_xact_id_if_assigned",
    "obj_description",
    "has_table_privilege",
}


def _driver(conn):
    try:
        return conn.connection.dbapi_connection
    except Exception:  # closed or invalidated: whatever it did cannot be looked into
        return None


def _read_written_tables(driver) -> list[tuple]:
    """In a savepoint (set in the same round trip), so a failure here leaves the migration's
    transaction as it was; the commit that follows releases it."""
    cursor = driver.cursor()
    try:
        try:
            cursor.execute(f"SAVEPOINT planrun_write_watch; {WRITTEN_TABLES}")
            return cursor.fetchall()  # (None, None, this transaction's id), then (table, rows deleted, None)
        except Exception:
            cursor.execute("ROLLBACK TO SAVEPOINT planrun_write_watch")
            raise
    finally:
        cursor.close()


@contextlib.contextmanager
def watch_writes() -> Iterator[WriteWatch]:
    """``with watch_writes() as watch: <alembic command>``; then ``watch.written()``. The
    statements that reported their own transaction (run notes ``own_transaction``, left by
    ``zdt``'s batches) are added to what the commits showed."""
    from planrun.plugin import active

    from ..alembic_project.running import engine_events

    watch = WriteWatch()
    notes = active().notes
    reported_before = len(notes.of(OwnTransaction))
    listeners = [("before_cursor_execute", watch._statement), ("commit", watch._commit), ("rollback", watch._rollback)]
    try:
        with engine_events(listeners):
            yield watch
    finally:
        for note in notes.of(OwnTransaction)[reported_before:]:
            watch.xids.append(note.xid)
            watch.tables.add(note.table)
