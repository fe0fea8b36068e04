"""The rules of :mod:`.lock_rules`, applied to one revision's upgrade statements in order: what
a statement locks or rewrites, and what runs while an earlier statement's ACCESS EXCLUSIVE lock
is still held (until the next COMMIT)."""

from __future__ import annotations

from pglast.enums import AlterTableType as AT
from pglast.enums import ConstrType, ObjectType

from .detect import Hit, _names, _short, _table
from .statements import Statement

SERIAL = {"serial", "bigserial", "smallserial", "serial2", "serial4", "serial8"}
# ALTER TABLE subcommands that take a lock weaker than ACCESS EXCLUSIVE
_WEAKER = {AT.AT_ValidateConstraint, AT.AT_SetStatistics, AT.AT_ClusterOn, AT.AT_DropCluster}
_DML = {"InsertStmt": "insert", "UpdateStmt": "update", "DeleteStmt": "delete"}


def _type_name(column) -> str:
    return column.typeName.names[-1].sval.lower() if column.typeName is not None else ""


def _takes_access_exclusive(node) -> bool:
    for cmd in node.cmds:
        if cmd.subtype in _WEAKER:
            continue
        if cmd.subtype == AT.AT_AddConstraint and cmd.def_.contype == ConstrType.CONSTR_FOREIGN:
            continue  # SHARE ROW EXCLUSIVE
        return True
    return False


class LockSpan:
    """Which existing table's ACCESS EXCLUSIVE lock the transaction holds, taken by which statement."""

    def __init__(self) -> None:
        self.table: str | None = None
        self.taker: Statement | None = None
        self.not_valid: set[str] = set()  # constraints added NOT VALID in this transaction

    def commit(self) -> None:
        self.table, self.taker = None, None
        self.not_valid.clear()

    def take(self, table: str | None, statement: Statement) -> None:
        if self.table is None and table is not None:
            self.table, self.taker = table, statement


def detect_locks(statements: list[Statement]) -> list[Hit]:
    hits: list[Hit] = []
    created: set[str | None] = set()
    created_indexes: set[str] = set()
    span = LockSpan()
    for st in statements:
        if st.after_commit:
            span.commit()
        node = st.node
        kind = type(node).__name__
        if st.in_transaction and _concurrent(node, kind):
            hits.append(
                Hit(
                    "concurrently-in-transaction",
                    st,
                    "index" if kind == "IndexStmt" else "drop-index",
                    None,
                    [getattr(node, "idxname", None)],
                )
            )
        if span.table is not None:
            hits += _under_lock(st, node, kind, span, created)
        if kind == "CreateStmt":
            created.add(_short(_table(node.relation)))
            for column in node.tableElts or ():
                if type(column).__name__ == "ColumnDef":
                    hits += _column_types(st, column, _short(_table(node.relation)))
        elif kind == "IndexStmt":
            created_indexes.add(node.idxname)
        elif kind == "DropStmt":
            hits += _drop(st, node, created, created_indexes, span)
        elif kind == "TruncateStmt":
            span.take(next((_short(_table(r)) for r in node.relations if _short(_table(r)) not in created), None), st)
        elif kind == "RenameStmt" and node.relation is not None:
            if _short(_table(node.relation)) not in created:
                span.take(_short(_table(node.relation)), st)
        elif kind == "AlterTableStmt" and node.objtype == ObjectType.OBJECT_TABLE:
            hits += _alter(st, node, created, span)
        elif kind == "AlterObjectSchemaStmt" and node.relation is not None:
            table = _table(node.relation)
            if _short(table) not in created:
                hits.append(Hit("set-schema", st, "", table, [_short(table)], f"{table} -> {node.newschema}"))
        else:
            hits += _maintenance(st, node, kind, span, created)
    return hits


def _concurrent(node, kind: str) -> bool:
    if kind in ("IndexStmt", "DropStmt"):
        return bool(getattr(node, "concurrent", False))
    if kind == "ReindexStmt":
        return any(p.defname == "concurrently" for p in node.params or ())
    return False


def _under_lock(st, node, kind, span: LockSpan, created) -> list[Hit]:
    """A statement that makes the held lock last longer than its own work."""
    detail = f"{span.table} is locked ACCESS EXCLUSIVE since: {' '.join(span.taker.sql.split())[:120]}"
    if kind in _DML:
        table = _table(node.relation)
        return [Hit("statement-under-access-exclusive", st, _DML[kind], table, [_short(table)], detail)]
    if kind == "AlterTableStmt":
        table = _short(_table(node.relation))
        if table != span.table and table not in created:
            return [Hit("statement-under-access-exclusive", st, "alter", _table(node.relation), [table], detail)]
    return []


def _drop(st, node, created, created_indexes, span: LockSpan) -> list[Hit]:
    names = _names(node)
    if node.removeType == ObjectType.OBJECT_INDEX and not node.concurrent:
        return [
            Hit("drop-index-not-concurrently", st, "drop-index", None, [_short(n)])
            for n in names
            if _short(n) not in created_indexes
        ]
    if node.removeType == ObjectType.OBJECT_SCHEMA:
        return [Hit("drop-schema", st, "", None, [n], f"schema {n}") for n in names]
    if node.removeType == ObjectType.OBJECT_TABLE:
        span.take(next((_short(n) for n in names if _short(n) not in created), None), st)
    return []


def _alter(st, node, created, span: LockSpan) -> list[Hit]:
    hits: list[Hit] = []
    table = _table(node.relation)
    short = _short(table)
    existing = short not in created
    for cmd in node.cmds:
        if cmd.subtype == AT.AT_AddColumn:
            hits += _add_column(st, cmd.def_, table, short, existing)
        elif cmd.subtype == AT.AT_AlterColumnType and cmd.def_ is not None and cmd.def_.typeName is not None:
            hits += _column_types(st, cmd.def_, short, name=cmd.name)
        elif cmd.subtype == AT.AT_AddConstraint and cmd.def_.skip_validation and cmd.def_.conname:
            span.not_valid.add(cmd.def_.conname)
        elif cmd.subtype == AT.AT_DropNotNull and existing:
            hits.append(Hit("drop-not-null", st, "alter-column", table, [short, cmd.name], f"{short}.{cmd.name}"))
        elif (
            cmd.subtype == AT.AT_AddConstraint
            and cmd.def_.contype == ConstrType.CONSTR_PRIMARY
            and not cmd.def_.indexname
            and existing
        ):
            hits.append(Hit("add-primary-key", st, "primary-key", table, [short]))
        elif cmd.subtype == AT.AT_ValidateConstraint and cmd.name in span.not_valid:
            hits.append(Hit("validate-in-same-transaction", st, "alter", table, [short], f"constraint {cmd.name}"))
    if existing and _takes_access_exclusive(node):
        span.take(short, st)
    return hits


def _add_column(st, column, table, short, existing) -> list[Hit]:
    hits = _column_types(st, column, short)
    if not existing:
        return hits
    kinds = {constraint.contype for constraint in column.constraints or ()}
    names = [short, column.colname]
    if _type_name(column) in SERIAL or ConstrType.CONSTR_IDENTITY in kinds:
        hits.append(Hit("add-column-serial", st, "add-column", table, names))
    elif ConstrType.CONSTR_GENERATED in kinds:
        hits.append(Hit("add-column-generated-stored", st, "add-column", table, names))
    elif ConstrType.CONSTR_NOTNULL in kinds and ConstrType.CONSTR_DEFAULT not in kinds:
        hits.append(Hit("add-column-required", st, "add-column", table, names))
    return hits


def _column_types(st, column, short, name: str | None = None) -> list[Hit]:
    """json and timestamp-without-time-zone columns, new or retyped."""
    type_name = _type_name(column)
    names = [short, name or column.colname]
    kind = "alter-column" if name else "add-column"
    if type_name == "json":
        return [Hit("json-column", st, kind, None, names, f"column {short}.{names[1]}")]
    if type_name == "timestamp":
        return [Hit("timestamp-without-time-zone", st, kind, None, names, f"column {short}.{names[1]}")]
    return []


def _maintenance(st, node, kind, span: LockSpan, created) -> list[Hit]:
    if kind == "VacuumStmt" and any(o.defname == "full" for o in node.options or ()):
        return [Hit("vacuum-full", st, "", None, [])]
    if kind == "ClusterStmt":
        return [Hit("cluster", st, "", _table(node.relation), [])]
    if kind == "ReindexStmt" and not any(p.defname == "concurrently" for p in node.params or ()):
        return [Hit("reindex-not-concurrently", st, "", None, [])]
    if kind == "LockStmt":
        table = _short(_table(node.relations[0])) if node.relations else None
        span.take(table if table not in created else None, st)
        return [Hit("lock-table", st, "", None, [])]
    if kind == "RefreshMatViewStmt" and not node.concurrent:
        return [Hit("refresh-matview-not-concurrently", st, "", None, [])]
    return []
