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
    """``tables``: as PostgreSQL reads names (each part quoted where it must be: ``"Accounts"``,
    ``billing.invoices``), for ``to_regclass``; ``created``: tables the same SQL creates (a name
    the target does not have yet is expected for those); ``unknown``: why the set may be
    incomplete."""

    tables: set[str] = field(default_factory=set)
    unknown: list[str] = field(default_factory=list)  # why the set may be incomplete
    created: set[str] = field(default_factory=set)
    # functions of triggers the SQL creates (as PostgreSQL reads names), and the bodies of
    # functions it creates itself ({name: (language, body)}): what those triggers will write
    trigger_functions: set[str] = field(default_factory=set)
    functions: dict[str, tuple[str, str]] = field(default_factory=dict)


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

    from .nodes import called_functions, object_sql_names
    from .nodes import sql_name as _name

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
            found.trigger_functions.add(_function_name(statement.funcname))
        elif isinstance(statement, ast.CreateFunctionStmt):
            options = {o.defname: o.arg for o in statement.options or ()}
            body = options.get("as")
            language = getattr(options.get("language"), "sval", "sql")
            if isinstance(body, tuple) and body and getattr(body[0], "sval", None) is not None:
                found.functions[_function_name(statement.funcname)] = (language, body[0].sval)
        elif isinstance(statement, ast.RenameStmt) and statement.relation is not None:
            found.tables.add(_name(statement.relation))
        elif isinstance(statement, ast.DropStmt):
            if statement.removeType.name in ("OBJECT_TABLE", "OBJECT_FOREIGN_TABLE"):
                found.tables.update(object_sql_names(statement))
        elif isinstance(statement, ast.SelectStmt):
            called = called_functions(statement) - _NO_EFFECT_FUNCTIONS
            if called:
                found.unknown.append(f"a SELECT calls {', '.join(sorted(called))}, which may change any table")
        elif isinstance(statement, ast.DoStmt):
            found.unknown.append("a DO block may change any table")
        elif isinstance(statement, ast.CreateStmt | ast.CreateTableAsStmt):
            into = statement.relation if isinstance(statement, ast.CreateStmt) else statement.into.rel
            found.created.add(_name(into))
        elif kind not in _HARMLESS:
            found.unknown.append(f"planrun cannot tell what a {kind} statement changes")
    found.tables = {t for t in found.tables if t.split(".")[-1].strip('"') not in ignore}
    return found


def _function_name(parts) -> str:
    from pglast.stream import maybe_double_quote_name as quoted

    return ".".join(quoted(p.sval) for p in parts)


def function_writes(language: str, source: str, name: str) -> Touched:
    """The tables a trigger function (or a function it is) may change: its statements read
    with PostgreSQL's own PL/pgSQL parser, or its body for ``LANGUAGE sql``. Dynamic SQL
    (``EXECUTE``), a call to another function, or any other language makes it unknown."""
    if language == "sql":
        return touched_tables(source)
    if language != "plpgsql":
        return Touched(unknown=[f"trigger function {name} is written in {language}, which planrun cannot read"])
    from pglast import parse_plpgsql

    found = Touched()
    try:
        tree = parse_plpgsql(
            f"CREATE FUNCTION planrun_probe() RETURNS trigger LANGUAGE plpgsql AS $planrun${source}$planrun$"
        )
    except Exception as exc:
        return Touched(unknown=[f"trigger function {name} cannot be read: {exc}"])
    for kind, node in _plpgsql_nodes(tree):
        if kind in ("PLpgSQL_stmt_dynexecute", "PLpgSQL_stmt_dynfors") or (
            kind == "PLpgSQL_stmt_open" and "dynquery" in node
        ):
            found.unknown.append(f"trigger function {name} runs dynamic SQL (EXECUTE)")
        elif kind == "PLpgSQL_expr":
            query = node.get("query", "")
            statement = query if node.get("parseMode", 0) == 0 else "SELECT " + query.split(":=", 1)[-1]
            inner = touched_tables(statement, ignore=())
            found.tables |= inner.tables
            found.created |= inner.created
            found.unknown += [f"trigger function {name}: {why}" for why in inner.unknown]
    return found


def _plpgsql_nodes(tree):
    """Every (node kind, node) of pglast's PL/pgSQL tree (plain JSON: dicts and lists)."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            for key, value in item.items():
                if key.startswith("PLpgSQL_") and isinstance(value, dict):
                    yield key, value
                stack.append(value)
