"""Which tables a migration's SQL changes (their rows, or their columns), read with PostgreSQL's
own parser: what a backup must hold for a rollback to bring the data back. A statement planrun
cannot see through (a DO block, a function call in a SELECT, a statement kind it does not
know) makes the answer unknown, with the reason: the caller then backs up everything.

Tables are returned as written (``users``, ``billing.invoices``); the caller resolves them on
the database. Tables a statement only reads, indexes, functions, comments and grants are not
changes to any table's rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Touched:
    tables: set[str] = field(default_factory=set)
    unknown: list[str] = field(default_factory=list)  # why the set may be incomplete


# statements that change no table's rows (or only objects that hold none)
_HARMLESS = {
    "VariableSetStmt",
    "VariableShowStmt",
    "TransactionStmt",
    "CommentStmt",
    "GrantStmt",
    "GrantRoleStmt",
    "IndexStmt",
    "CreateFunctionStmt",
    "CreateSeqStmt",
    "AlterSeqStmt",
    "CreateEnumStmt",
    "AlterEnumStmt",
    "CompositeTypeStmt",
    "CreateDomainStmt",
    "AlterDomainStmt",
    "CreateSchemaStmt",
    "CreateExtensionStmt",
    "ViewStmt",
    "DefineStmt",
    "CreateStmt",
    "CreateTableAsStmt",
    "LockStmt",
    "ReindexStmt",
    "VacuumStmt",
    "ClusterStmt",
    "CreatePolicyStmt",
    "AlterPolicyStmt",
    "RuleStmt",
    "RefreshMatViewStmt",
    "CreateRoleStmt",
    "AlterOwnerStmt",
    "AlterFunctionStmt",
    "CreateStatsStmt",
}
_NO_EFFECT_FUNCTIONS = {
    "set_config",
    "pg_sleep",
    "current_setting",
    "pg_advisory_lock",
    "pg_advisory_unlock",
    "pg_try_advisory_lock",
    "pg_advisory_xact_lock",
    "now",
    "version",
    "setval",
    "nextval",
}


def touched_tables(sql: str, ignore: tuple[str, ...] = ("alembic_version",)) -> Touched:
    """The tables ``sql`` (a migration's statements) changes, and what could not be read."""
    from pglast import ast, parse_sql
    from pglast.parser import ParseError

    from .nodes import called_functions, object_names
    from .nodes import relation_name as _name

    found = Touched()
    try:
        statements = parse_sql(sql)
    except ParseError as exc:
        found.unknown.append(f"the SQL could not be parsed: {exc}")
        return found
    for raw in statements:
        statement = raw.stmt
        kind = type(statement).__name__
        if isinstance(statement, ast.InsertStmt | ast.UpdateStmt | ast.DeleteStmt):
            found.tables.add(_name(statement.relation))
        elif isinstance(statement, ast.MergeStmt if hasattr(ast, "MergeStmt") else ()):
            found.tables.add(_name(statement.relation))
        elif isinstance(statement, ast.AlterTableStmt):
            found.tables.add(_name(statement.relation))
        elif isinstance(statement, ast.TruncateStmt):
            found.tables.update(_name(r) for r in statement.relations)
        elif isinstance(statement, ast.CreateTrigStmt):
            found.tables.add(_name(statement.relation))
        elif isinstance(statement, ast.RenameStmt) and statement.relation is not None:
            found.tables.add(_name(statement.relation))
        elif isinstance(statement, ast.DropStmt):
            if statement.removeType.name in ("OBJECT_TABLE", "OBJECT_FOREIGN_TABLE"):
                found.tables.update(object_names(statement))
        elif isinstance(statement, ast.SelectStmt):
            called = called_functions(statement) - _NO_EFFECT_FUNCTIONS
            if called:
                found.unknown.append(f"a SELECT calls {', '.join(sorted(called))}, which may change any table")
        elif isinstance(statement, ast.DoStmt):
            found.unknown.append("a DO block may change any table")
        elif kind not in _HARMLESS:
            found.unknown.append(f"planrun cannot tell what a {kind} statement changes")
    found.tables = {t for t in found.tables if t.split(".")[-1] not in ignore}
    return found
