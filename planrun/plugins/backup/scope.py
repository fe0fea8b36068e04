"""What a scoped backup holds (``backup.scope: touched``): the tables the pending revisions
change, resolved on the target with PostgreSQL's own name rules (quoting, case, search_path),
plus the tables a change to them reaches: partitions, foreign keys with ON DELETE/UPDATE
CASCADE, SET NULL or SET DEFAULT, and the tables their triggers write (the trigger functions
read with the PL/pgSQL parser). Found before the run, from the revisions' SQL (the plugin that
migrates renders and reads it). Whatever cannot be resolved or read widens the scope to the
whole database, with the reason.

The scope decides what is backed up, never what is proven: the rollback's proof covers every
table the run's own transactions wrote, whatever this module found."""

from __future__ import annotations

from dataclasses import dataclass

from ..pg.connect import connect, query_all

_RESOLVE = """
    SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = to_regclass(%s) AND c.relkind IN ('r', 'p')"""
# the closure: partitions of a scoped table, and tables whose rows a change to a scoped table changes
_CLOSURE = """
    WITH RECURSIVE scoped(oid) AS (
        SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE quote_ident(n.nspname) || '.' || quote_ident(c.relname) = ANY(%s)
        UNION
        SELECT x.oid FROM scoped s CROSS JOIN LATERAL (
            SELECT i.inhrelid AS oid FROM pg_inherits i WHERE i.inhparent = s.oid
            UNION ALL
            SELECT con.conrelid FROM pg_constraint con WHERE con.contype = 'f' AND con.confrelid = s.oid
              AND (con.confdeltype IN ('c', 'n', 'd') OR con.confupdtype IN ('c', 'n', 'd'))) x)
    SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM scoped s JOIN pg_class c ON c.oid = s.oid
    JOIN pg_namespace n ON n.oid = c.relnamespace ORDER BY 1"""
_SIZE = """SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE quote_ident(n.nspname) || '.' || quote_ident(c.relname)
    = ANY(%s)"""


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


# the user triggers of a table and their functions; rules that rewrite writes to it
_TRIGGERS = """
    SELECT p.oid::regprocedure::text, l.lanname, p.prosrc
    FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_proc p ON p.oid = g.tgfoid JOIN pg_language l ON l.oid = p.prolang
    WHERE NOT g.tgisinternal AND quote_ident(n.nspname) || '.' || quote_ident(c.relname) = ANY(%s)"""
# a function a trigger the revisions create will run, as it is on the target
_FUNCTION = """
    SELECT p.oid::regprocedure::text, l.lanname, p.prosrc FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
    WHERE p.oid = to_regproc(%s)"""
_RULES = """
    SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), r.rulename FROM pg_rewrite r
    JOIN pg_class c ON c.oid = r.ev_class JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE r.rulename <> '_RETURN' AND quote_ident(n.nspname) || '.' || quote_ident(c.relname) = ANY(%s)"""


def touched_scope(url: str, touched) -> Scope:
    """The tables ``touched`` names (as PostgreSQL reads names) resolved on the target, with
    their closure; the whole database, with the reason, when any part cannot be told."""
    conn = connect(url, application_name="planrun backup scope", readonly=True, autocommit=True)
    try:
        found: set[str] = set()
        names, created, read_functions = set(touched.tables), set(touched.created), set()
        functions = []  # (name, language, body) of the triggers the revisions create
        for function in sorted(touched.trigger_functions):
            if function in touched.functions:  # ...with a function they create too
                functions.append((function, *touched.functions[function]))
            elif rows := query_all(conn, _FUNCTION, (function,)):
                functions.append(rows[0])
            else:
                return Scope(None, f"trigger function {function} cannot be resolved on the target")
        if why := _read_functions(functions, read_functions, names, created):
            return Scope(None, why)
        while names:
            unresolved = []
            for name in sorted(names):
                rows = query_all(conn, _RESOLVE, (name,))
                if rows:
                    found.add(rows[0][0])
                elif name not in created:
                    unresolved.append(name)
            if unresolved:
                return Scope(None, f"{', '.join(unresolved)} cannot be resolved on the target to a table")
            found |= {row[0] for row in query_all(conn, _CLOSURE, (sorted(found),))} if found else set()
            rules = query_all(conn, _RULES, (sorted(found),))
            if rules:
                table, rule = rules[0]
                return Scope(None, f"rule {rule} on {table} may write other tables")
            names = set()
            if why := _read_functions(query_all(conn, _TRIGGERS, (sorted(found),)), read_functions, names, created):
                return Scope(None, why)
        return Scope(sorted(found))
    finally:
        conn.close()


def _read_functions(functions, done: set[str], names: set[str], created: set[str]) -> str | None:
    """Add what each trigger function (name, language, body) not read yet writes to ``names``
    and ``created``; the reason when one cannot be read (the scope is then the database)."""
    from ..sql.touched import function_writes

    for function, language, source in functions:
        if function in done:
            continue
        done.add(function)
        writes = function_writes(language, source, function)
        if writes.unknown:
            return writes.unknown[0]
        names |= writes.tables
        created |= writes.created
    return None


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
