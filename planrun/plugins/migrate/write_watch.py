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
from collections.abc import Iterator

import psycopg2.extensions

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
    SELECT n.nspname || '.' || c.relname FROM written w
    JOIN pg_class c ON c.oid = w.relid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')"""


class WriteWatch:
    def __init__(self) -> None:
        self.tables: set[str] = set()
        self.sure = True
        self._pending: dict[int, object] = {}  # driver connections with statements not yet committed or rolled back

    def written(self) -> set[str] | None:
        """The tables written to, or ``None`` when that is not known for certain."""
        return set(self.tables) if self.sure and not self._pending else None

    def _statement(self, conn, *_args) -> None:
        driver = _driver(conn)
        if driver is None or getattr(driver, "autocommit", False):
            self.sure = False  # in autocommit each statement commits on its own: no commit to look into
        else:
            self._pending[id(driver)] = driver

    def _commit(self, conn) -> None:
        driver = _driver(conn)
        if not isinstance(driver, psycopg2.extensions.connection) or driver.autocommit:
            self.sure = (
                False  # other drivers (asyncpg...) are not looked into: a query of ours must never abort their commit
            )
            return
        try:
            self.tables.update(_read_written_tables(driver))
        except Exception:  # never let the watch break the migration's commit
            self.sure = False
            return
        self._pending.pop(id(driver), None)

    def _rollback(self, conn) -> None:
        driver = _driver(conn)
        if driver is None:
            self.sure = False
        else:
            self._pending.pop(id(driver), None)


def _driver(conn):
    try:
        return conn.connection.dbapi_connection
    except Exception:  # closed or invalidated: whatever it did cannot be looked into
        return None


def _read_written_tables(driver) -> list[str]:
    """In a savepoint (set in the same round trip), so a failure here leaves the migration's
    transaction as it was; the commit that follows releases it."""
    cursor = driver.cursor()
    try:
        try:
            cursor.execute(f"SAVEPOINT planrun_write_watch; {WRITTEN_TABLES}")
            return [name for (name,) in cursor.fetchall()]
        except Exception:
            cursor.execute("ROLLBACK TO SAVEPOINT planrun_write_watch")
            raise
    finally:
        cursor.close()


@contextlib.contextmanager
def watch_writes() -> Iterator[WriteWatch]:
    """``with watch_writes() as watch: <alembic command>``; then ``watch.written()``."""
    from ..alembic_project.running import engine_events

    watch = WriteWatch()
    listeners = [("before_cursor_execute", watch._statement), ("commit", watch._commit), ("rollback", watch._rollback)]
    with engine_events(listeners):
        yield watch
