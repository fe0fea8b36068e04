"""What the statements before one have done, in the revision and in the release: the state a
rule's check reads (:class:`State`), so that each rule is a plain check of one statement. Locks
are held until the transaction commits, so the state follows the revision's COMMITs."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from pglast.enums import AlterTableType as AT
from pglast.enums import ConstrType, ObjectType

from . import ddl
from .statements import Statement


@dataclass
class State:
    """What the revision did before the statement being checked."""

    created: set[str] = field(default_factory=set)  # tables created here: locks on them harm nobody
    created_indexes: set[str] = field(default_factory=set)
    created_objects: set[str] = field(default_factory=set)  # views, functions, types, triggers
    lock_table: str | None = None  # an existing table locked ACCESS EXCLUSIVE until the next commit
    lock_taker: Statement | None = None
    passes: dict[str, Statement] = field(default_factory=dict)  # existing table -> first ALTER that read all rows
    not_valid: set[str] = field(default_factory=set)  # constraints added NOT VALID in this transaction
    checks: dict[str, str] = field(default_factory=dict)  # CHECK name -> the column it proves NOT NULL
    validated: set[tuple[str, str]] = field(default_factory=set)  # (table, column) proven NOT NULL
    lock_timeout: bool = False  # SET lock_timeout ran
    statement_timeout: bool = False  # SET statement_timeout ran

    def existing(self, table: str | None) -> bool:
        return table is not None and ddl.short(table) not in self.created

    def snapshot(self) -> State:
        """A copy whose sets and dicts later statements do not change (the statements are shared)."""
        copied = copy.copy(self)
        for name, value in vars(self).items():
            if isinstance(value, (set, dict)):
                setattr(copied, name, copy.copy(value))
        return copied

    def commit(self) -> None:
        self.lock_table, self.lock_taker = None, None
        self.passes.clear()
        self.not_valid.clear()

    def take_lock(self, table: str | None, statement: Statement) -> None:
        if self.lock_table is None and table is not None and self.existing(table):
            self.lock_table, self.lock_taker = ddl.short(table), statement


@dataclass
class Release:
    """What the earlier revisions of this lint run did (the release window), and what the
    history says of each column's type and each table's indexes."""

    added_columns: dict[tuple[str, str], str] = field(default_factory=dict)  # (table, column) -> revision
    column_types: dict[tuple[str, str], object] = field(default_factory=dict)  # (table, column) -> TypeName
    indexed: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)  # table -> indexed column lists
    tables: set[str] = field(default_factory=set)  # created in this run: their indexes are all known

    def know_types(self, types: dict[tuple[str, str], str]) -> None:
        """Column types as the live database has them (``--url``): ``{(table, column): "character
        varying(120)"}``, read with PostgreSQL's parser, so a type change in a pending revision
        is judged against the real old type."""
        from pglast import parse_sql

        for key, text in types.items():
            try:
                (raw,) = parse_sql(f"SELECT NULL::{text}")
                self.column_types.setdefault(key, raw.stmt.targetList[0].val.typeName)
            except Exception:
                continue

    def know_indexes(self, indexes: dict[str, list[tuple[str, ...]]]) -> None:
        """The live database's tables and their indexed column lists (``--url``): a foreign key
        added to a table that exists there is judged against its real indexes."""
        for table, lists in indexes.items():
            self.tables.add(table)
            self.indexed.setdefault(table, []).extend(lists)

    def absorb(self, later: Release) -> None:
        """Add what a later revision did (its :meth:`record`) to this release."""
        self.added_columns.update(later.added_columns)
        self.column_types.update(later.column_types)
        for table, lists in later.indexed.items():
            self.indexed.setdefault(table, []).extend(lists)
        self.tables |= later.tables

    def record(self, statements: list[Statement], revision: str) -> None:
        for st in statements:
            node = st.node
            if ddl.kind(node) == "CreateStmt":
                table = ddl.short(ddl.table(node.relation))
                self.tables.add(table)
                for element in node.tableElts or ():
                    if ddl.kind(element) == "ColumnDef":
                        self.column_types[(table, element.colname)] = element.typeName
                        if {ConstrType.CONSTR_PRIMARY, ConstrType.CONSTR_UNIQUE} & ddl.column_constraints(element):
                            self.indexed.setdefault(table, []).append((element.colname,))
                    elif ddl.kind(element) == "Constraint":
                        self._constraint(table, element)
            elif ddl.kind(node) == "IndexStmt":
                columns = tuple(e.name for e in node.indexParams or () if e.name)
                self.indexed.setdefault(ddl.short(ddl.table(node.relation)), []).append(columns)
            elif ddl.is_table_alter(node):
                table = ddl.short(ddl.table(node.relation))
                for cmd in node.cmds:
                    if cmd.subtype == AT.AT_AddColumn:
                        self.added_columns[(table, cmd.def_.colname)] = revision
                        self.column_types[(table, cmd.def_.colname)] = cmd.def_.typeName
                    elif cmd.subtype == AT.AT_AlterColumnType and cmd.def_ is not None:
                        self.column_types[(table, cmd.name)] = cmd.def_.typeName
                    elif cmd.subtype == AT.AT_AddConstraint:
                        self._constraint(table, cmd.def_)

    def _constraint(self, table: str, constraint) -> None:
        if constraint.contype in (ConstrType.CONSTR_PRIMARY, ConstrType.CONSTR_UNIQUE) and constraint.keys:
            self.indexed.setdefault(table, []).append(tuple(k.sval for k in constraint.keys))


def walk(statements: list[Statement]) -> tuple[list[tuple[Statement, State]], State]:
    """Each statement with a snapshot of the state before it, and the state after the last."""
    state = State()
    steps = []
    for st in statements:
        if st.after_commit:
            state.commit()
        steps.append((st, state.snapshot()))
        _advance(state, st)
    return steps, state


def _advance(state: State, st: Statement) -> None:
    node = st.node
    kind = ddl.kind(node)
    if kind == "VariableSetStmt" and node.name in ("lock_timeout", "statement_timeout"):
        setattr(state, node.name, True)
    elif kind == "CreateStmt":
        state.created.add(ddl.short(ddl.table(node.relation)))
    elif kind == "IndexStmt":
        state.created_indexes.add(node.idxname)
    elif kind in ("ViewStmt", "CreateFunctionStmt", "CompositeTypeStmt", "CreateEnumStmt", "CreateTrigStmt"):
        state.created_objects.add(_created_name(node, kind))
    elif kind == "DropStmt" and node.removeType == ObjectType.OBJECT_TABLE:
        state.take_lock(next((n for n in ddl.names(node) if state.existing(n)), None), st)
    elif kind == "TruncateStmt":
        state.take_lock(next((t for t in map(ddl.table, node.relations) if state.existing(t)), None), st)
    elif kind == "RenameStmt" and node.relation is not None:
        state.take_lock(ddl.table(node.relation), st)
    elif kind == "LockStmt" and node.relations:
        state.take_lock(ddl.table(node.relations[0]), st)
    elif ddl.is_table_alter(node):
        _alter(state, st, node)


def _alter(state: State, st: Statement, node) -> None:
    table = ddl.table(node.relation)
    for cmd in node.cmds:
        if cmd.subtype == AT.AT_AddConstraint and cmd.def_.skip_validation and cmd.def_.conname:
            state.not_valid.add(cmd.def_.conname)
        if cmd.subtype == AT.AT_AddConstraint and cmd.def_.contype == ConstrType.CONSTR_CHECK and cmd.def_.conname:
            column = _not_null_column(cmd.def_.raw_expr)
            if column:
                state.checks[cmd.def_.conname] = column
        elif cmd.subtype == AT.AT_ValidateConstraint and cmd.name in state.checks:
            state.validated.add((ddl.short(table), state.checks[cmd.name]))
    if state.existing(table) and ddl.takes_access_exclusive(node):
        state.take_lock(table, st)
    if state.existing(table) and any(ddl.passes_over_rows(c, state.validated, table) for c in node.cmds):
        state.passes.setdefault(ddl.short(table), st)


def _not_null_column(expr) -> str | None:
    """``col IS NOT NULL`` -> ``col``."""
    if ddl.kind(expr) == "NullTest" and expr.nulltesttype == 1 and ddl.kind(expr.arg) == "ColumnRef":
        return expr.arg.fields[-1].sval
    return None


def _created_name(node, kind: str) -> str:
    if kind == "ViewStmt":
        return node.view.relname
    if kind == "CreateFunctionStmt":
        return node.funcname[-1].sval
    if kind == "CompositeTypeStmt":
        return node.typevar.relname
    if kind == "CreateEnumStmt":
        return node.typeName[-1].sval
    return node.trigname
