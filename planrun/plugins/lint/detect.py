"""The rules, applied to one revision's parsed statements. Each hit names the rule, the
statement, the kind of operation (to find its line) and the table it touches (to rank it)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pglast.enums import AlterTableType as AT
from pglast.enums import ConstrType, ObjectType

from .statements import Statement

VOLATILE = {
    "random",
    "gen_random_uuid",
    "uuid_generate_v1",
    "uuid_generate_v4",
    "clock_timestamp",
    "timeofday",
    "nextval",
    "txid_current",
    "uuidv7",
}


@dataclass
class Hit:
    rule: str
    statement: Statement | None
    kind: str
    table: str | None = None
    names: list[str] = field(default_factory=list)
    detail: str = ""


@dataclass
class Release:
    """What earlier revisions of the same lint run did (the release window)."""

    added_columns: dict[tuple[str, str], str] = field(default_factory=dict)  # (table, column) -> revision


def _table(relation) -> str | None:
    if relation is None:
        return None
    return f"{relation.schemaname}.{relation.relname}" if relation.schemaname else relation.relname


def _short(table: str | None) -> str | None:
    return table.split(".")[-1] if table else None


def _names(node) -> list[str]:
    """``DROP TABLE a, s.b`` -> ["a", "s.b"]."""
    names = []
    for obj in node.objects or ():
        parts = [getattr(p, "sval", None) for p in (obj if isinstance(obj, tuple) else (obj,))]
        names.append(".".join(p for p in parts if p))
    return names


def detect_upgrade(statements: list[Statement], release: Release, plan_lock_timeout: bool) -> list[Hit]:
    hits: list[Hit] = []
    created: set[str] = set()  # tables created in this revision: locks on them harm nobody
    validated: set[tuple[str, str]] = set()  # (table, column) with a valid NOT NULL check already
    checks: dict[str, str] = {}  # check constraint name -> column it proves NOT NULL
    lock_timeout = plan_lock_timeout
    unbounded: Hit | None = None  # missing-lock-timeout, on the first statement taking ACCESS EXCLUSIVE
    for st in statements:
        node = st.node
        kind = type(node).__name__
        if kind == "VariableSetStmt" and node.name == "lock_timeout":
            lock_timeout = True
        elif kind == "CreateStmt":
            created.add(_short(_table(node.relation)))
        elif kind == "DropStmt" and node.removeType == ObjectType.OBJECT_TABLE:
            unbounded = unbounded or Hit(
                "missing-lock-timeout", st, "drop-table", None, [_short(n) for n in _names(node)]
            )
            for name in _names(node):
                hits.append(Hit("drop-table", st, "drop-table", name, [_short(name)]))
        elif kind == "TruncateStmt":
            unbounded = unbounded or Hit("missing-lock-timeout", st, "truncate", None, [])
            for relation in node.relations:
                hits.append(Hit("truncate", st, "truncate", _table(relation), [_short(_table(relation))]))
        elif kind == "DeleteStmt" and node.whereClause is None:
            hits.append(
                Hit("delete-without-where", st, "delete", _table(node.relation), [_short(_table(node.relation))])
            )
        elif kind == "UpdateStmt" and node.whereClause is None:
            hits.append(
                Hit("update-without-where", st, "update", _table(node.relation), [_short(_table(node.relation))])
            )
        elif kind == "IndexStmt":
            table = _table(node.relation)
            if not node.concurrent and _short(table) not in created:
                hits.append(Hit("create-index-not-concurrently", st, "index", table, [node.idxname, _short(table)]))
        elif kind == "RenameStmt":
            table = _table(node.relation)
            if node.renameType == ObjectType.OBJECT_COLUMN:
                unbounded = unbounded or Hit(
                    "missing-lock-timeout", st, "rename-column", None, [_short(table), node.subname]
                )
                hits.append(
                    Hit(
                        "rename-column",
                        st,
                        "rename-column",
                        table,
                        [_short(table), node.subname],
                        f"{node.subname} -> {node.newname}",
                    )
                )
            elif node.renameType == ObjectType.OBJECT_TABLE:
                unbounded = unbounded or Hit("missing-lock-timeout", st, "rename-table", None, [_short(table)])
                hits.append(Hit("rename-table", st, "rename-table", table, [_short(table)], f"-> {node.newname}"))
        elif kind == "AlterTableStmt" and node.objtype == ObjectType.OBJECT_TABLE:
            table = _table(node.relation)
            short = _short(table)
            existing = short not in created
            for cmd in node.cmds:
                hits += _alter(st, cmd, table, short, existing, release, validated, checks)
                if cmd.subtype not in (AT.AT_ValidateConstraint,):
                    unbounded = unbounded or Hit("missing-lock-timeout", st, *_alter_kind(cmd, short))
    if unbounded is not None and not lock_timeout:
        hits.append(unbounded)
    from .detect_locks import detect_locks

    return hits + detect_locks(statements)


_ALTER_KINDS = {
    AT.AT_DropColumn: "drop-column",
    AT.AT_AddColumn: "add-column",
    AT.AT_AlterColumnType: "alter-column",
    AT.AT_SetNotNull: "not-null",
    AT.AT_DropNotNull: "alter-column",
    AT.AT_ColumnDefault: "alter-column",
}


def _alter_kind(cmd, short: str | None) -> tuple[str, None, list[str]]:
    """How to find the Alembic call behind one ALTER TABLE command: its kind and names."""
    if cmd.subtype == AT.AT_AddColumn:
        return "add-column", None, [short, cmd.def_.colname]
    if cmd.subtype == AT.AT_AddConstraint:
        kinds = {
            ConstrType.CONSTR_FOREIGN: "foreign-key",
            ConstrType.CONSTR_CHECK: "check",
            ConstrType.CONSTR_UNIQUE: "unique",
        }
        return kinds.get(cmd.def_.contype, "alter"), None, [short]
    return _ALTER_KINDS.get(cmd.subtype, "alter"), None, [short, cmd.name]


def _alter(st, cmd, table, short, existing, release, validated, checks) -> list[Hit]:
    hits = []
    sub = cmd.subtype
    if sub == AT.AT_DropColumn:
        hits.append(Hit("drop-column", st, "drop-column", table, [short, cmd.name]))
        added_by = release.added_columns.get((short, cmd.name))
        if added_by:
            hits.append(
                Hit("drop-recent-column", st, "drop-column", table, [short, cmd.name], f"added by revision {added_by}")
            )
    elif sub == AT.AT_AlterColumnType and existing:
        hits.append(Hit("alter-column-type", st, "alter-column", table, [short, cmd.name]))
    elif sub == AT.AT_SetNotNull and existing and (short, cmd.name) not in validated:
        hits.append(Hit("set-not-null", st, "not-null", table, [short, cmd.name]))
    elif sub == AT.AT_AddColumn:
        column = cmd.def_
        for constraint in column.constraints or ():
            if constraint.contype == ConstrType.CONSTR_DEFAULT and existing and _volatile(constraint.raw_expr):
                hits.append(Hit("add-column-volatile-default", st, "add-column", table, [short, column.colname]))
    elif sub == AT.AT_AddConstraint and existing:
        constraint = cmd.def_
        if constraint.contype == ConstrType.CONSTR_FOREIGN and not constraint.skip_validation:
            hits.append(Hit("add-foreign-key-validated", st, "foreign-key", table, [short]))
        elif constraint.contype == ConstrType.CONSTR_CHECK:
            column = _not_null_column(constraint.raw_expr)
            if column and constraint.conname:
                checks[constraint.conname] = column
            if not constraint.skip_validation:
                hits.append(Hit("add-check-validated", st, "check", table, [short]))
        elif constraint.contype == ConstrType.CONSTR_UNIQUE and not constraint.indexname:
            hits.append(Hit("add-unique-constraint", st, "unique", table, [short]))
    elif sub == AT.AT_ValidateConstraint and cmd.name in checks:
        validated.add((short, checks[cmd.name]))
    return hits


def _volatile(expr) -> bool:
    from pglast.visitors import Visitor

    found = []

    class Finder(Visitor):
        def visit_FuncCall(self, ancestors, node):
            name = node.funcname[-1].sval.lower()
            if name in VOLATILE:
                found.append(name)

    Finder()(expr)
    return bool(found)


def _not_null_column(expr) -> str | None:
    """``col IS NOT NULL`` -> ``col``."""
    if type(expr).__name__ == "NullTest" and expr.nulltesttype == 1 and type(expr.arg).__name__ == "ColumnRef":
        return expr.arg.fields[-1].sval
    return None


def _additions(statements: list[Statement]) -> tuple[set[str], set[tuple[str, str]]]:
    """What these statements create: tables (short names) and added (table, column) pairs."""
    tables, columns = set(), set()
    for st in statements:
        node = st.node
        if type(node).__name__ == "CreateStmt":
            tables.add(_short(_table(node.relation)))
        elif type(node).__name__ == "AlterTableStmt":
            for cmd in node.cmds:
                if cmd.subtype == AT.AT_AddColumn:
                    columns.add((_short(_table(node.relation)), cmd.def_.colname))
    return tables, columns


def record_release(statements: list[Statement], release: Release, revision: str) -> None:
    for column in _additions(statements)[1]:
        release.added_columns[column] = revision


def detect_downgrade(upgrade: list[Statement], downgrade: list[Statement]) -> list[Hit]:
    """Drops in the downgrade of tables or columns the upgrade did not create."""
    created_tables, added_columns = _additions(upgrade)
    hits = []
    for st in downgrade:
        node = st.node
        kind = type(node).__name__
        if kind == "DropStmt" and node.removeType == ObjectType.OBJECT_TABLE:
            for name in _names(node):
                if _short(name) not in created_tables:
                    hits.append(Hit("downgrade-drops-data", st, "drop-table", name, [_short(name)], f"table {name}"))
        elif kind == "AlterTableStmt":
            short = _short(_table(node.relation))
            for cmd in node.cmds:
                if (
                    cmd.subtype == AT.AT_DropColumn
                    and (short, cmd.name) not in added_columns
                    and short not in created_tables
                ):
                    hits.append(
                        Hit(
                            "downgrade-drops-data",
                            st,
                            "drop-column",
                            _table(node.relation),
                            [short, cmd.name],
                            f"column {short}.{cmd.name}",
                        )
                    )
    return hits
