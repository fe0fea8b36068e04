"""What a scoped backup holds (``backup.scope: touched``): the tables the pending revisions
change, resolved on the target, plus the tables a change to them cascades into (foreign keys
with ON DELETE/UPDATE CASCADE, SET NULL or SET DEFAULT) and their partitions. Found before the
run, from the revisions' SQL (the plugin that migrates renders and reads it)."""

from __future__ import annotations

from dataclasses import dataclass

from ..pg.connect import connect, query_all

_RESOLVE = """
    SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = to_regclass(%s) AND c.relkind IN ('r', 'p')"""
# the closure: partitions of a scoped table, and tables whose rows a change to a scoped table changes
_CLOSURE = """
    WITH RECURSIVE scoped(oid) AS (
        SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname || '.' || c.relname = ANY(%s)
        UNION
        SELECT x.oid FROM scoped s CROSS JOIN LATERAL (
            SELECT i.inhrelid AS oid FROM pg_inherits i WHERE i.inhparent = s.oid
            UNION ALL
            SELECT con.conrelid FROM pg_constraint con WHERE con.contype = 'f' AND con.confrelid = s.oid
              AND (con.confdeltype IN ('c', 'n', 'd') OR con.confupdtype IN ('c', 'n', 'd'))) x)
    SELECT n.nspname || '.' || c.relname FROM scoped s JOIN pg_class c ON c.oid = s.oid
    JOIN pg_namespace n ON n.oid = c.relnamespace ORDER BY 1"""
_SIZE = """SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname || '.' || c.relname = ANY(%s)"""


@dataclass
class Scope:
    """``tables`` (``schema.name``) for a scoped backup, None for the whole database; ``why``
    says why a touched scope fell back to the whole database."""

    tables: list[str] | None
    why: str = ""
    size: int = 0  # bytes a restore of it loads (tables, their indexes and TOAST)

    def describe(self) -> str:
        if self.tables is None:
            return "the whole database"
        return f"{len(self.tables)} table(s) the migration touches: {', '.join(self.tables) or 'none'}"


def touched_scope(url: str, named: set[str]) -> list[str]:
    """The tables ``named`` (as the SQL wrote them) that exist on the target, with their closure."""
    conn = connect(url, application_name="planrun backup scope", readonly=True, autocommit=True)
    try:
        found = [row[0] for name in sorted(named) for row in query_all(conn, _RESOLVE, (name,))]
        return [row[0] for row in query_all(conn, _CLOSURE, (found,))] if found else []
    finally:
        conn.close()


def scope_size(url: str, tables: list[str] | None) -> int:
    conn = connect(url, application_name="planrun backup scope", readonly=True, autocommit=True)
    try:
        if tables is None:
            ((size,),) = query_all(conn, "SELECT pg_database_size(current_database())")
        else:
            ((size,),) = query_all(conn, _SIZE, (tables,))
        return int(size)
    finally:
        conn.close()
