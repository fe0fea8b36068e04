"""Lock-span rules, which no other linter has: a lock is held until the transaction commits, so
whatever runs after the statement that took it runs under it; and the timeouts that bound how
long a migration can wait for a lock or run one statement."""

from __future__ import annotations

from pglast.enums import AlterTableType as AT
from pglast.enums import ConstrType, ObjectType

from .. import ddl
from ..rule import Example, Hit, Rule, each_statement


def _one_line(sql: str) -> str:
    return " ".join(sql.split())[:120]


@each_statement
def _under_access_exclusive(st, state):
    if state.lock_table is None:
        return None
    node = st.node
    detail = f"{state.lock_table} is locked ACCESS EXCLUSIVE since: {_one_line(state.lock_taker.sql)}"
    if ddl.kind(node) in ddl.DML:
        table = ddl.table(node.relation)
        return Hit("statement-under-access-exclusive", st, ddl.DML[ddl.kind(node)], table, [ddl.short(table)], detail)
    if ddl.kind(node) == "AlterTableStmt":
        table = ddl.table(node.relation)
        if ddl.short(table) != state.lock_table and state.existing(table):
            return Hit("statement-under-access-exclusive", st, "alter", table, [ddl.short(table)], detail)
    return None


STATEMENT_UNDER_ACCESS_EXCLUSIVE = Rule(
    "statement-under-access-exclusive",
    "locking",
    "warning",  # how long it holds depends on the rows; planrun test --rows measures it (test.max_lock_hold)
    "This statement runs in the same transaction after one that took an ACCESS EXCLUSIVE lock on an existing table: "
    "the lock is held until commit, so every query on that table waits for this statement too.",
    "Commit after the DDL (a revision of its own, or op.get_context().autocommit_block()), and run data changes in "
    "batches (zdt.batched_backfill).",
    bad=Example("ALTER TABLE items ADD COLUMN flag boolean; UPDATE items SET flag = true WHERE flag IS NULL"),
    good=Example(
        "ALTER TABLE items ADD COLUMN flag boolean; COMMIT; BEGIN; UPDATE items SET flag = true WHERE id < 10000"
    ),
    detect=_under_access_exclusive,
)


@each_statement
def _validate_same_transaction(st, state):
    if ddl.is_table_alter(st.node):
        table = ddl.table(st.node.relation)
        for cmd in st.node.cmds:
            if cmd.subtype == AT.AT_ValidateConstraint and cmd.name in state.not_valid:
                yield Hit(
                    "validate-in-same-transaction", st, "alter", table, [ddl.short(table)], f"constraint {cmd.name}"
                )


VALIDATE_IN_SAME_TRANSACTION = Rule(
    "validate-in-same-transaction",
    "locking",
    "error",
    "VALIDATE CONSTRAINT in the same transaction as its ADD ... NOT VALID scans the table while the ADD's ACCESS "
    "EXCLUSIVE lock is still held: NOT VALID saved nothing.",
    "Validate after a commit: in a later revision, or inside op.get_context().autocommit_block().",
    bad=Example(
        "ALTER TABLE orders ADD CONSTRAINT total_positive CHECK (total >= 0) NOT VALID; "
        "ALTER TABLE orders VALIDATE CONSTRAINT total_positive"
    ),
    good=Example(
        "ALTER TABLE orders ADD CONSTRAINT total_positive CHECK (total >= 0) NOT VALID; COMMIT; BEGIN; "
        "ALTER TABLE orders VALIDATE CONSTRAINT total_positive"
    ),
    detect=_validate_same_transaction,
)


@each_statement
def _second_pass(st, state):
    node = st.node
    if not ddl.is_table_alter(node):
        return None
    table = ddl.table(node.relation)
    first = state.passes.get(ddl.short(table))
    if first is not None and any(ddl.passes_over_rows(c, state.validated, table) for c in node.cmds):
        detail = f"{ddl.short(table)} was already read or rewritten by: {_one_line(first.sql)}"
        return Hit("separate-alters-of-one-table", st, _alter_kind(node.cmds[0])[0], table, [ddl.short(table)], detail)
    return None


SEPARATE_ALTERS_OF_ONE_TABLE = Rule(
    "separate-alters-of-one-table",
    "locking",
    "warning",
    "A second ALTER TABLE of the same table in one transaction reads or rewrites every row again, under the ACCESS "
    "EXCLUSIVE lock the first one still holds; subcommands of one ALTER TABLE share a single pass.",
    "One ALTER TABLE with the subcommands separated by commas (op.batch_alter_table, or one op.execute).",
    bad=Example(
        "ALTER TABLE orders ALTER COLUMN total TYPE numeric(14,2); ALTER TABLE orders ALTER COLUMN tax TYPE "
        "numeric(14,2)"
    ),
    good=Example(
        "ALTER TABLE orders ALTER COLUMN total TYPE numeric(14,2), ALTER COLUMN tax TYPE numeric(14,2)",
        allow=("alter-column-type",),
    ),
    detect=_second_pass,
)

_ALTER_KINDS = {
    AT.AT_DropColumn: "drop-column",
    AT.AT_AlterColumnType: "alter-column",
    AT.AT_SetNotNull: "not-null",
    AT.AT_DropNotNull: "alter-column",
    AT.AT_ColumnDefault: "alter-column",
}
_CONSTRAINT_KINDS = {
    ConstrType.CONSTR_FOREIGN: "foreign-key",
    ConstrType.CONSTR_CHECK: "check",
    ConstrType.CONSTR_UNIQUE: "unique",
    ConstrType.CONSTR_PRIMARY: "primary-key",
}


def _alter_kind(cmd, short: str | None = None) -> tuple[str, list]:
    """How to find the Alembic call behind one ALTER TABLE command: its kind and names."""
    if cmd.subtype == AT.AT_AddColumn:
        return "add-column", [short, cmd.def_.colname]
    if cmd.subtype == AT.AT_AddConstraint:
        return _CONSTRAINT_KINDS.get(cmd.def_.contype, "alter"), [short]
    return _ALTER_KINDS.get(cmd.subtype, "alter"), [short, cmd.name]


def _blocking_lock(st, state) -> tuple[str, list] | None:
    """The kind and names of a statement that takes a lock blocking the application's writes
    (or reads) on an existing table or object: it queues behind any long transaction, and every
    query after it queues behind it."""
    node = st.node
    kind = ddl.kind(node)
    if kind == "DropStmt" and node.removeType == ObjectType.OBJECT_TABLE:
        names = [n for n in ddl.names(node) if state.existing(n)]
        return ("drop-table", [ddl.short(n) for n in names]) if names else None
    if kind == "TruncateStmt" and any(state.existing(ddl.table(r)) for r in node.relations):
        return "truncate", []
    if kind == "RenameStmt" and node.relation is not None and state.existing(ddl.table(node.relation)):
        table = ddl.short(ddl.table(node.relation))
        if node.renameType == ObjectType.OBJECT_COLUMN:
            return "rename-column", [table, node.subname]
        return "rename-table", [table]
    if ddl.is_table_alter(node):
        if any(c.subtype == AT.AT_AttachPartition and state.existing(ddl.table(c.def_.name)) for c in node.cmds):
            return "", []  # ACCESS EXCLUSIVE on the partition
        if not state.existing(ddl.table(node.relation)):
            return None
        blocking = [c for c in node.cmds if c.subtype not in ddl.WEAKER]  # FOREIGN KEY: SHARE ROW EXCLUSIVE
        return _alter_kind(blocking[0], ddl.short(ddl.table(node.relation))) if blocking else None
    if kind == "CreateStmt" and any(state.existing(t) for t in _referenced(node)):
        return "create-table", [ddl.short(ddl.table(node.relation))]  # SHARE ROW EXCLUSIVE on the referenced
    if kind == "IndexStmt" and not node.concurrent and state.existing(ddl.table(node.relation)):
        return "index", [node.idxname, ddl.short(ddl.table(node.relation))]  # SHARE: blocks writes
    if kind == "DropStmt" and node.removeType == ObjectType.OBJECT_INDEX and not node.concurrent:
        names = [ddl.short(n) for n in ddl.names(node) if ddl.short(n) not in state.created_indexes]
        return ("drop-index", names[:1]) if names else None
    if kind == "DropStmt" or kind == "AlterObjectSchemaStmt" or kind == "AlterDomainStmt":
        return "", []  # DROP SCHEMA/VIEW/TYPE...: ACCESS EXCLUSIVE on the object (and what depends on it)
    if kind in ("LockStmt", "ClusterStmt", "ReindexStmt") or (kind == "VacuumStmt" and _full(node)):
        return "", []
    if kind == "RefreshMatViewStmt" and not node.concurrent:
        return "", []
    return None


def _referenced(create) -> list[str]:
    """The tables a CREATE TABLE's foreign keys reference (each gets a SHARE ROW EXCLUSIVE lock)."""
    found = []
    for element in create.tableElts or ():
        constraints = (
            [element] if ddl.kind(element) == "Constraint" else list(getattr(element, "constraints", ()) or ())
        )
        found += [ddl.table(c.pktable) for c in constraints if c.contype == ConstrType.CONSTR_FOREIGN]
    return found


def _full(node) -> bool:
    return any(option.defname == "full" for option in node.options or ())


def _lock_timeout(revision):
    if revision.settings.lock_timeout:
        return
    for st, state in revision.upgrade:
        if state.lock_timeout:
            return
        found = _blocking_lock(st, state)
        if found:
            yield Hit("missing-lock-timeout", st, found[0], None, found[1])
            return


MISSING_LOCK_TIMEOUT = Rule(
    "missing-lock-timeout",
    "hygiene",
    "warning",
    "This revision takes a lock that blocks writes (ACCESS EXCLUSIVE, or the SHARE lock of CREATE INDEX) with no "
    "lock_timeout: while it waits behind one long transaction, every query on the table queues behind it.",
    "Set migrate.lock_timeout in the plan, or SET lock_timeout in the revision, or use zdt.retry_on_lock_timeout.",
    bad=Example("ALTER TABLE users ADD COLUMN nickname text"),
    good=Example("SET lock_timeout = '2s'; ALTER TABLE users ADD COLUMN nickname text"),
    detect=_lock_timeout,
)


def _long_running(st, state) -> str | None:
    """The kind of a statement whose run time grows with the rows of an existing table while it
    holds locks that block the application (row locks, or a table lock stronger than what
    CREATE INDEX CONCURRENTLY and VALIDATE take)."""
    node = st.node
    kind = ddl.kind(node)
    if st.batch:
        return None
    if kind in ("UpdateStmt", "DeleteStmt") and state.existing(ddl.table(node.relation)):
        return ddl.DML[kind]
    if kind == "InsertStmt" and node.selectStmt is not None and getattr(node.selectStmt, "fromClause", None):
        return "insert"
    if kind == "IndexStmt" and not node.concurrent and state.existing(ddl.table(node.relation)):
        return "index"
    if kind in ("ClusterStmt", "RefreshMatViewStmt") and not getattr(node, "concurrent", False):
        return ""
    if ddl.is_table_alter(node) and state.existing(ddl.table(node.relation)):
        table = ddl.table(node.relation)
        if any(ddl.passes_over_rows(c, state.validated, table) for c in node.cmds):
            return _alter_kind(node.cmds[0], ddl.short(table))[0]
    return None


def _statement_timeout(revision):
    if revision.settings.statement_timeout:
        return
    for st, state in revision.upgrade:
        if state.statement_timeout:
            return
        kind = _long_running(st, state)
        if kind is not None:
            table = ddl.table(getattr(st.node, "relation", None))
            yield Hit("missing-statement-timeout", st, kind, table, [ddl.short(table)])
            return


MISSING_STATEMENT_TIMEOUT = Rule(
    "missing-statement-timeout",
    "hygiene",
    "warning",
    "This revision runs a statement whose time grows with the table while it blocks the application (a data change "
    "holding row locks, a scan or rewrite under a table lock) with no statement_timeout: on production data it can "
    "run far longer than in review.",
    "Set migrate.statement_timeout in the plan (or SET statement_timeout in the revision), and measure with planrun "
    "test --rows.",
    bad=Example("UPDATE users SET active = true WHERE active IS NULL"),
    good=Example("SET statement_timeout = '5min'; UPDATE users SET active = true WHERE active IS NULL"),
    detect=_statement_timeout,
)

RULES = [
    STATEMENT_UNDER_ACCESS_EXCLUSIVE,
    VALIDATE_IN_SAME_TRANSACTION,
    SEPARATE_ALTERS_OF_ONE_TABLE,
    MISSING_LOCK_TIMEOUT,
    MISSING_STATEMENT_TIMEOUT,
]
