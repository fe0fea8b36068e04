"""What a check's SQL may call, decided by the live catalog (the second fence, after
:mod:`.guard`'s reading of the text).

``default_transaction_read_only`` stops a check's own writes, not those of a function it calls:
a function may write through ``dblink`` (a connection of its own), run ``COPY ... TO PROGRAM``,
or end sessions; ``SECURITY DEFINER`` runs it with its owner's rights, which a read-only role
does not limit; a view or an operator can hide such a call behind an innocent query. So, just
before a check's statement runs (and at preflight, for the plan's ``sql`` checks), every
function it reaches is resolved to its ``pg_proc`` row: those it calls by name (every overload
that could match), the functions behind the operators it uses and the casts it makes, and,
recursively, what the user views it reads call (their definitions are read again, by the same
text guard too). Allowed: built-in functions that are not volatile, and the few volatile
built-ins listed in :data:`VOLATILE_READ_ONLY`. Refused, named with the view or operator they
came through: every other volatile built-in, every ``SECURITY DEFINER`` function, every user or
extension function unless the plan trusts it by name (``checks.trust``), and, even when
trusted, every function of an extension that opens connections or reaches files and programs
(:data:`CONNECTING_EXTENSIONS`).

What this does not promise: a trusted function is the reviewer's word; system views
(``pg_stat_activity``...) are not expanded (they are PostgreSQL's own, read-only by design);
tables' row-level security policies are not read (a check's role that owns the table, or is a
superuser, bypasses them anyway); foreign tables are read through their server as usual.
"""

from __future__ import annotations

from dataclasses import dataclass, field

FIRST_USER_OID = 16384  # PostgreSQL's FirstNormalObjectId: every object below it is built in
MAX_VIEWS = 200  # views read through, at most, for one statement

# Volatile built-ins that read the clock, the random generator or the server's statistics and
# can change nothing (pg_sleep's length is bounded by the text guard).
VOLATILE_READ_ONLY = frozenset(
    {
        "random",
        "random_normal",
        "gen_random_uuid",
        "clock_timestamp",
        "timeofday",
        "pg_sleep",
        "pg_lock_status",
        "pg_blocking_pids",
        "pg_safe_snapshot_blocking_pids",
        "pg_current_snapshot",
        "txid_current_snapshot",
        "pg_current_wal_lsn",
        "pg_current_wal_insert_lsn",
        "pg_current_wal_flush_lsn",
        "pg_last_wal_receive_lsn",
        "pg_last_wal_replay_lsn",
        "pg_last_xact_replay_timestamp",
        "pg_is_wal_replay_paused",
        "pg_get_wal_replay_pause_state",
        "pg_database_size",
        "pg_relation_size",
        "pg_total_relation_size",
        "pg_table_size",
        "pg_indexes_size",
        "pg_tablespace_size",
    }
)
_READ_ONLY_PREFIXES = ("pg_stat_get_", "pg_stat_file")  # statistics readers (pg_stat_file: the guard refuses it)

CONNECTING_EXTENSIONS = {
    "dblink": "opens connections to other databases",
    "postgres_fdw": "opens connections to other servers",
    "adminpack": "writes server files",
    "file_fdw": "reads server files and runs programs",
    "plpython3u": "runs untrusted Python",
    "plperlu": "runs untrusted Perl",
}


class Refused(ValueError):
    """A function a check reaches is not known to be read-only."""


@dataclass
class _Found:
    """What one statement names, from its parse tree."""

    functions: list[tuple[str | None, str, int]] = field(default_factory=list)  # schema, name, args
    operators: list[tuple[str | None, str]] = field(default_factory=list)
    relations: list[tuple[str | None, str]] = field(default_factory=list)
    casts: list[str] = field(default_factory=list)  # type names, as written


def refusal(conn, sql: str, trust: list[str] = (), reopen=None) -> str | None:
    """Why ``sql`` (one query the text guard accepted) may not run on ``conn``'s database, or
    None. ``trust``: the plan's ``checks.trust`` signatures. ``reopen()``: a new connection to
    the same database, for when ``conn`` is inside a transaction already.

    PostgreSQL itself resolves what the query reaches: it is made the body of a temporary view
    in a transaction that is rolled back (creating a view runs none of it), whose dependencies
    the catalog then lists exactly, overloads, operators and casts resolved. Where no temporary
    view can be made (a standby), the names in the query are resolved instead, every overload
    and operator of the name counted (stricter, never looser)."""
    import psycopg2.extensions

    idle = conn.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_IDLE
    probe = conn if idle or reopen is None else reopen()
    mine = idle or probe is not conn  # a transaction of the caller's is left as it is
    try:
        with probe.cursor(cursor_factory=psycopg2.extensions.cursor) as cursor:
            reached = _probe(cursor, sql) if mine else None
            trusted = _trusted(cursor, trust)
            if reached is not None:
                return _judge_reached(cursor, reached, trusted)
            if mine:
                probe.rollback()  # out of the probe's read-write transaction before reading on
            return _judge_names(cursor, sql, trusted)
    finally:
        if mine:
            probe.rollback()
        if probe is not conn:
            probe.close()


def require_fenced(conn, sql: str, trust: list[str] = (), reopen=None) -> None:
    reason = refusal(conn, sql, trust, reopen)
    if reason is not None:
        raise Refused(f"refused: {reason}")


def _probe(cursor, sql: str) -> int | None:
    """The oid of a temporary view over ``sql`` (in a transaction the caller rolls back), or
    None when none can be made."""
    import psycopg2

    body = sql.strip().rstrip(";")
    try:
        cursor.execute("SET TRANSACTION READ WRITE")
        cursor.execute(f"CREATE TEMP VIEW planrun_check_probe AS SELECT 1 FROM (\n{body}\n) AS planrun_check")
        cursor.execute("SELECT 'pg_temp.planrun_check_probe'::regclass::oid")
        return cursor.fetchone()[0]
    except psycopg2.Error:
        cursor.connection.rollback()
        return None


def _judge_reached(cursor, probe: int, trusted: set[int]) -> str | None:
    """Every function the view ``probe`` depends on, directly, through operators, and through
    the user views it reads (each view's definition read by the text guard too)."""
    from .guard import refusal as text_refusal

    queue: list[tuple[int, list[str]]] = [(probe, [])]
    seen = {probe}
    while queue:
        relid, via = queue.pop(0)
        cursor.execute(
            "SELECT d.refclassid::regclass::text, d.refobjid FROM pg_rewrite r JOIN pg_depend d "
            "ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid WHERE r.ev_class = %s",
            (relid,),
        )
        depends = cursor.fetchall()
        functions = [oid for kind, oid in depends if kind == "pg_proc"]
        if functions:
            cursor.execute(_FUNCTION_ROWS + "WHERE p.oid = ANY (%s)", (functions,))
            for row in cursor.fetchall():
                if reason := _verdict(row, via, trusted):
                    return reason
        for oid in [oid for kind, oid in depends if kind == "pg_operator"]:
            cursor.execute(
                "SELECT o.oprname, f.* FROM pg_operator o, LATERAL (" + _FUNCTION_ROWS + "WHERE p.oid = o.oprcode) f "
                "WHERE o.oid = %s",
                (oid,),
            )
            for name, *row in cursor.fetchall():
                if reason := _verdict(row, [f"the operator {name}", *via], trusted):
                    return reason
        views = [oid for kind, oid in depends if kind == "pg_class" and oid not in seen and oid >= FIRST_USER_OID]
        if not views:
            continue
        cursor.execute(
            "SELECT c.oid, n.nspname || '.' || c.relname, pg_get_viewdef(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ANY (%s) AND c.relkind = 'v'",
            (views,),
        )
        for oid, shown, definition in cursor.fetchall():
            seen.add(oid)
            if len(seen) > MAX_VIEWS:
                return f"it reads through more than {MAX_VIEWS} views; planrun reads no further"
            inner = [f"the view {shown}", *via]
            if reason := text_refusal(definition):
                return reason + _through(inner)
            queue.append((oid, inner))
    return None


def _judge_names(cursor, sql: str, trusted: set[int]) -> str | None:
    """The stricter fallback: the names the query (and each user view it reads) holds."""
    from .guard import refusal as text_refusal

    queue: list[tuple[str, list[str]]] = [(sql, [])]
    seen: set[int] = set()
    while queue:
        text, via = queue.pop(0)
        if via and (reason := text_refusal(text)):
            return reason + _through(via)
        found = _names(text)
        if found is None:  # a definition the parser cannot read: not silently trusted
            return f"cannot read the definition{_through(via)}"
        for reason in _functions(cursor, found, via, trusted):
            return reason
        for oid, kind, shown, definition in _relations(cursor, found.relations):
            if kind != "v" or oid < FIRST_USER_OID or oid in seen:
                continue
            seen.add(oid)
            if len(seen) > MAX_VIEWS:
                return f"it reads through more than {MAX_VIEWS} views; planrun reads no further"
            queue.append((definition, [f"the view {shown}", *via]))
    return None


def _through(via: list[str]) -> str:
    return f" (through {', through '.join(via)})" if via else ""


def _trusted(cursor, trust) -> set[int]:
    oids = set()
    for signature in trust:
        cursor.execute("SELECT to_regprocedure(%s)::oid", (signature,))
        oid = cursor.fetchone()[0]
        if oid is None:
            raise Refused(f"checks.trust: {signature}: no such function in this database")
        oids.add(oid)
    return oids


_FUNCTION_ROWS = """
SELECT p.oid, n.nspname || '.' || p.proname || '(' || oidvectortypes(p.proargtypes) || ')',
       p.proname, p.provolatile, p.prosecdef, l.lanname, e.extname
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
LEFT JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
LEFT JOIN pg_extension e ON e.oid = d.refobjid
"""


def _functions(cursor, found: _Found, via: list[str], trusted: set[int]):
    """Each reason to refuse a function ``found`` reaches (a generator: the first is enough)."""
    in_path = "(n.nspname = %(schema)s OR (%(schema)s IS NULL AND n.nspname = ANY (current_schemas(true))))"
    for schema, name, count in found.functions:
        cursor.execute(
            _FUNCTION_ROWS + f"WHERE p.proname = %(name)s AND {in_path} AND (p.pronargs = %(n)s "
            "OR p.provariadic <> 0 OR (p.pronargs > %(n)s AND p.pronargs - p.pronargdefaults <= %(n)s))",
            {"schema": schema, "name": name, "n": count},
        )
        for row in cursor.fetchall():
            if reason := _verdict(row, via, trusted):
                yield reason
    for schema, name in found.operators:
        cursor.execute(
            _FUNCTION_ROWS + "WHERE p.oid IN (SELECT o.oprcode FROM pg_operator o JOIN pg_namespace n "
            f"ON n.oid = o.oprnamespace WHERE o.oprname = %(name)s AND {in_path})",
            {"schema": schema, "name": name},
        )
        for row in cursor.fetchall():
            if reason := _verdict(row, [f"the operator {name}", *via], trusted):
                yield reason
    for type_name in found.casts:
        cursor.execute(
            _FUNCTION_ROWS + "WHERE p.oid IN (SELECT castfunc FROM pg_cast WHERE casttarget = to_regtype(%s))",
            (type_name,),
        )
        for row in cursor.fetchall():
            if reason := _verdict(row, [f"the cast to {type_name}", *via], trusted):
                yield reason


def _verdict(row, via: list[str], trusted: set[int]) -> str | None:
    oid, signature, name, volatility, security_definer, language, extension = row
    shown = f"a check may not call {signature}{_through(via)}"
    if extension in CONNECTING_EXTENSIONS:
        return f"{shown}: it comes from the extension {extension}, which {CONNECTING_EXTENSIONS[extension]}"
    if oid in trusted:
        return None
    if security_definer:
        return f"{shown}: SECURITY DEFINER: it runs with its owner's rights, which a read-only role does not limit"
    if oid >= FIRST_USER_OID:
        kind = f"an extension's function ({extension})" if extension else f"a user function ({language})"
        return (
            f"{shown}: it is {kind}, and planrun cannot see what it does; if it only reads, trust it by name "
            f"in checks.trust"
        )
    if volatility == "v" and name not in VOLATILE_READ_ONLY and not name.startswith(_READ_ONLY_PREFIXES):
        return f"{shown}: it is volatile (it may change the database)"
    return None


def _relations(cursor, relations: list[tuple[str | None, str]]):
    for schema, name in relations:
        qualified = ".".join(_quoted(part) for part in (schema, name) if part is not None)
        cursor.execute(
            "SELECT c.oid, c.relkind, n.nspname || '.' || c.relname, CASE WHEN c.relkind = 'v' THEN "
            "pg_get_viewdef(c.oid) END FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.oid = to_regclass(%s)",
            (qualified,),
        )
        row = cursor.fetchone()
        if row is not None:
            yield row


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _names(sql: str) -> _Found | None:
    from pglast import ast, parse_sql
    from pglast.parser import ParseError

    from .guard import _walk

    try:
        statements = parse_sql(sql)
    except ParseError:
        return None
    found = _Found()
    ctes = set()
    nodes = [node for statement in statements for node in _walk(statement)]
    for node in nodes:
        if isinstance(node, ast.CommonTableExpr):
            ctes.add(node.ctename)
    for node in nodes:
        if isinstance(node, ast.FuncCall):
            parts = [p.sval for p in node.funcname]
            found.functions.append((parts[-2] if len(parts) > 1 else None, parts[-1], len(node.args or ())))
        elif isinstance(node, ast.A_Expr) and node.name:
            parts = [p.sval for p in node.name if isinstance(p, ast.String)]
            if parts:
                found.operators.append((parts[-2] if len(parts) > 1 else None, parts[-1]))
        elif isinstance(node, ast.RangeVar):
            if node.schemaname is None and node.relname in ctes:
                continue
            found.relations.append((node.schemaname, node.relname))
        elif isinstance(node, ast.TypeCast) and node.typeName is not None:
            names = [p.sval for p in node.typeName.names if isinstance(p, ast.String)]
            if names and names[0] != "pg_catalog":
                found.casts.append(".".join(_quoted(n) for n in names))
    return found
