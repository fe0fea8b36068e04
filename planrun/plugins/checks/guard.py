"""What a check's SQL may be, decided by PostgreSQL's own parser (pglast) before it runs.

A check proves something about the data; it must never change it, leave its transaction or
touch other sessions. ``BEGIN READ ONLY`` alone does not promise that: a multi-statement string
(``SELECT 1; COMMIT; DELETE FROM users``) leaves the read-only transaction, and functions such
as ``pg_terminate_backend`` act outside any transaction. So a check is refused unless it is
exactly one plain query (``SELECT``, ``VALUES``, ``TABLE``, ``WITH`` of selects) with no locking
clause, no ``SELECT INTO`` and no call of a function listed in :data:`FORBIDDEN_FUNCTIONS`.
The server then adds its own fence (see :mod:`.readonly`): read-only transactions by default,
a statement timeout and a lock timeout.

What this cannot see: what a function or view the check reaches does. The live catalog's fence
(:mod:`.fence`) answers that, just before each statement runs.
"""

from __future__ import annotations

from functools import lru_cache

# Every function a check may not call, with why. Names are matched without their schema.
FORBIDDEN_FUNCTIONS: dict[str, str] = {
    **{
        name: "it ends or signals other sessions"
        for name in ("pg_terminate_backend", "pg_cancel_backend", "pg_signal_backend", "pg_log_backend_memory_contexts")
    },
    **{
        name: "it takes or releases advisory locks, which outlive the check's transaction"
        for name in (
            "pg_advisory_lock",
            "pg_advisory_lock_shared",
            "pg_advisory_unlock",
            "pg_advisory_unlock_shared",
            "pg_advisory_unlock_all",
            "pg_advisory_xact_lock",
            "pg_advisory_xact_lock_shared",
            "pg_try_advisory_lock",
            "pg_try_advisory_lock_shared",
            "pg_try_advisory_xact_lock",
            "pg_try_advisory_xact_lock_shared",
        )
    },
    **{name: "it changes settings" for name in ("set_config",)},
    **{
        name: "it reaches other databases or servers"
        for name in ("dblink", "dblink_exec", "dblink_connect", "dblink_connect_u", "dblink_send_query", "dblink_open")
    },
    **{
        name: "it runs SQL given as a string, which this guard cannot see"
        for name in (
            "query_to_xml",
            "query_to_xmlschema",
            "query_to_xml_and_xmlschema",
            "crosstab",
            "crosstab2",
            "crosstab3",
            "crosstab4",
            "connectby",
            "ts_stat",
            "pg_catalog_eval",
        )
    },
    **{name: "it sends notifications other sessions receive" for name in ("pg_notify",)},
    **{
        name: "it reads or writes large objects or server files"
        for name in (
            "lo_import",
            "lo_export",
            "lo_unlink",
            "lo_create",
            "lo_creat",
            "lo_put",
            "lo_from_bytea",
            "lo_truncate",
            "lowrite",
            "lo_open",
            "pg_read_file",
            "pg_read_binary_file",
            "pg_ls_dir",
            "pg_file_write",
            "pg_stat_file",
        )
    },
    **{
        name: "it acts on the whole server"
        for name in (
            "pg_reload_conf",
            "pg_rotate_logfile",
            "pg_switch_wal",
            "pg_switch_xlog",
            "pg_create_restore_point",
            "pg_backup_start",
            "pg_backup_stop",
            "pg_start_backup",
            "pg_stop_backup",
            "pg_promote",
            "pg_wal_replay_pause",
            "pg_wal_replay_resume",
            "pg_create_physical_replication_slot",
            "pg_create_logical_replication_slot",
            "pg_drop_replication_slot",
            "pg_copy_physical_replication_slot",
            "pg_copy_logical_replication_slot",
            "pg_logical_emit_message",
            "pg_replication_origin_create",
            "pg_replication_origin_drop",
            "pg_stat_reset",
            "pg_stat_reset_shared",
            "pg_stat_reset_single_table_counters",
            "pg_stat_reset_single_function_counters",
            "pg_stat_reset_slru",
            "pg_stat_reset_replication_slot",
            "pg_import_system_collations",
        )
    },
    **{name: "it changes a sequence" for name in ("nextval", "setval")},
}
MAX_SLEEP_SECONDS = 1.0  # pg_sleep up to this long is allowed (a check may wait for a moment)
_SLEEPS = {"pg_sleep", "pg_sleep_for", "pg_sleep_until"}
_WRITES = {"InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"}


class UnsafeCheck(ValueError):
    """The SQL is not a plain read-only query."""


MAX_CHECK_SQL = 64 * 1024  # a check is a reviewed query, not a data file


@lru_cache(maxsize=256)
def refusal(sql: str) -> str | None:
    """Why ``sql`` may not run as a check, or ``None`` when it may."""
    from pglast import ast, parse_sql
    from pglast.parser import ParseError

    if "\x00" in sql:  # the server would run the text before it only: what was reviewed is not what runs
        offset = sql.index("\x00")
        return f"its SQL holds a NUL character (at offset {offset}); PostgreSQL would run only the text before it"
    if len(sql) > MAX_CHECK_SQL:
        return f"its SQL is {len(sql):,} characters long; a check's query is at most {MAX_CHECK_SQL:,}"
    try:
        statements = parse_sql(sql)
    except ParseError as exc:
        return f"its SQL does not parse: {exc}"
    if len(statements) != 1:
        return f"a check is exactly one query; found {len(statements)} statements"
    statement = statements[0].stmt
    if not isinstance(statement, ast.SelectStmt):
        return f"a check is a plain query (SELECT, VALUES, TABLE or WITH); found {_kind(statement)}"
    for node in _walk(statement):
        if type(node).__name__ in _WRITES:
            return f"a check may not write: it holds {_kind(node)} in a WITH clause"
        if isinstance(node, ast.SelectStmt):
            if node.lockingClause:
                return "a check may not lock rows (FOR UPDATE / FOR SHARE)"
            if node.intoClause:
                return "a check may not create tables (SELECT INTO)"
        if isinstance(node, ast.FuncCall):
            name = node.funcname[-1].sval.lower()
            if name in FORBIDDEN_FUNCTIONS:
                return f"a check may not call {name}(): {FORBIDDEN_FUNCTIONS[name]}"
            if name in _SLEEPS and not _short_sleep(name, node):
                return f"a check may not call {name}() for more than {MAX_SLEEP_SECONDS:g}s"
    return None


def require_safe(sql: str) -> None:
    """Raise :class:`UnsafeCheck` unless ``sql`` may run as a check."""
    reason = refusal(sql)
    if reason is not None:
        raise UnsafeCheck(f"refused: {reason}")


def _walk(node):
    from pglast import ast

    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Node):
            yield current
            stack.extend(getattr(current, name) for name in current.__slots__ if not name.startswith("_"))
        elif isinstance(current, (tuple, list)):
            stack.extend(current)


def _short_sleep(name: str, node) -> bool:
    from pglast import ast

    if name != "pg_sleep" or not node.args or len(node.args) != 1 or not isinstance(node.args[0], ast.A_Const):
        return False
    value = node.args[0].val
    number = getattr(value, "fval", None) or getattr(value, "ival", None)
    try:
        return float(number) <= MAX_SLEEP_SECONDS
    except (TypeError, ValueError):
        return False


def _kind(node) -> str:
    name = type(node).__name__
    return {
        "InsertStmt": "INSERT",
        "UpdateStmt": "UPDATE",
        "DeleteStmt": "DELETE",
        "MergeStmt": "MERGE",
        "TransactionStmt": "a transaction command",
        "VariableSetStmt": "SET",
        "ExplainStmt": "EXPLAIN",
        "DoStmt": "DO",
        "CallStmt": "CALL",
        "CopyStmt": "COPY",
    }.get(name, name.removesuffix("Stmt").upper() or name)
