"""Locking rules for whole-table maintenance and partitions: statements that rewrite a table,
rebuild its indexes or hold an explicit lock, which belong outside a migration or in their
CONCURRENTLY form."""

from __future__ import annotations

from pglast.enums import AlterTableType as AT
from pglast.enums import ConstrType

from .. import ddl
from ..rule import Example, Hit, Rule, each_statement


def _statement_rule(rule: str, statement_kind: str, unsafe=lambda node: True):
    @each_statement
    def check(st, state):
        if ddl.kind(st.node) == statement_kind and unsafe(st.node):
            relation = getattr(st.node, "relation", None)
            return Hit(rule, st, "", ddl.table(relation) if relation is not None else None, [])

    return check


VACUUM_FULL = Rule(
    "vacuum-full",
    "locking",
    "error",
    "VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock.",
    "Plain VACUUM (no lock against reads and writes), or pg_repack outside the migration.",
    bad=Example("COMMIT; VACUUM FULL orders; BEGIN"),
    good=Example("COMMIT; VACUUM (ANALYZE) orders; BEGIN"),
    detect=_statement_rule("vacuum-full", "VacuumStmt", lambda n: any(o.defname == "full" for o in n.options or ())),
)

CLUSTER = Rule(
    "cluster",
    "locking",
    "error",
    "CLUSTER rewrites the table under an ACCESS EXCLUSIVE lock.",
    "Leave physical order to maintenance windows, or use pg_repack outside the migration.",
    bad=Example("CLUSTER orders USING ix_orders_user"),
    good=Example("ANALYZE orders"),
    detect=_statement_rule("cluster", "ClusterStmt"),
)

REINDEX_NOT_CONCURRENTLY = Rule(
    "reindex-not-concurrently",
    "locking",
    "error",
    "REINDEX without CONCURRENTLY blocks writes to the table (and reads that use the index) while it builds.",
    "REINDEX ... CONCURRENTLY, outside the migration's transaction.",
    bad=Example("REINDEX INDEX ix_orders_user"),
    good=Example("COMMIT; REINDEX INDEX CONCURRENTLY ix_orders_user; BEGIN"),
    detect=_statement_rule(
        "reindex-not-concurrently",
        "ReindexStmt",
        lambda n: not any(p.defname == "concurrently" for p in n.params or ()),
    ),
)

LOCK_TABLE = Rule(
    "lock-table",
    "locking",
    "error",
    "LOCK TABLE holds its lock until the migration commits: everything after it runs under it.",
    "Let each statement take the lock it needs, briefly; keep long work out of the transaction.",
    bad=Example("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE"),
    good=Example("SET lock_timeout = '2s'; ALTER TABLE orders ADD COLUMN note text"),
    detect=_statement_rule("lock-table", "LockStmt"),
)

REFRESH_MATVIEW_NOT_CONCURRENTLY = Rule(
    "refresh-matview-not-concurrently",
    "locking",
    "error",
    "REFRESH MATERIALIZED VIEW without CONCURRENTLY blocks every read of the view until it is rebuilt.",
    "REFRESH MATERIALIZED VIEW CONCURRENTLY (needs a unique index on the view).",
    bad=Example("REFRESH MATERIALIZED VIEW sales_by_day"),
    good=Example("REFRESH MATERIALIZED VIEW CONCURRENTLY sales_by_day"),
    detect=_statement_rule("refresh-matview-not-concurrently", "RefreshMatViewStmt", lambda n: not n.concurrent),
)


def _partition_commands(st, subtype):
    if ddl.is_table_alter(st.node):
        for cmd in st.node.cmds:
            if cmd.subtype == subtype:
                yield ddl.table(st.node.relation), cmd


@each_statement
def _detach(st, state):
    for table, cmd in _partition_commands(st, AT.AT_DetachPartition):
        if not cmd.def_.concurrent and state.existing(table):
            partition = ddl.table(cmd.def_.name)
            yield Hit("detach-partition-not-concurrently", st, "", table, [ddl.short(table)], f"partition {partition}")


DETACH_PARTITION_NOT_CONCURRENTLY = Rule(
    "detach-partition-not-concurrently",
    "locking",
    "error",
    "DETACH PARTITION takes an ACCESS EXCLUSIVE lock on the partitioned table: every query on any partition waits.",
    "DETACH PARTITION ... CONCURRENTLY (PostgreSQL 14+), outside the migration's transaction "
    "(op.get_context().autocommit_block()).",
    bad=Example("ALTER TABLE measurements DETACH PARTITION measurements_2019"),
    good=Example("COMMIT; ALTER TABLE measurements DETACH PARTITION measurements_2019 CONCURRENTLY; BEGIN"),
    detect=_detach,
)


def _checked_tables(state_statements) -> set[str]:
    """Tables given a CHECK constraint by the statements so far (one matching the partition
    bound lets ATTACH PARTITION skip its scan)."""
    checked = set()
    for st in state_statements:
        if ddl.is_table_alter(st.node):
            for cmd in st.node.cmds:
                if cmd.subtype == AT.AT_AddConstraint and cmd.def_.contype == ConstrType.CONSTR_CHECK:
                    checked.add(ddl.short(ddl.table(st.node.relation)))
    return checked


def _attach(revision):
    seen = []
    for st, state in revision.upgrade:
        for table, cmd in _partition_commands(st, AT.AT_AttachPartition):
            partition = ddl.table(cmd.def_.name)
            if state.existing(partition) and ddl.short(partition) not in _checked_tables(seen):
                yield Hit("attach-partition-scan", st, "", table, [ddl.short(table)], f"partition {partition}")
        seen.append(st)


ATTACH_PARTITION_SCAN = Rule(
    "attach-partition-scan",
    "locking",
    "error",
    "ATTACH PARTITION of a table that has rows scans all of it to prove every row fits the bound, holding an ACCESS "
    "EXCLUSIVE lock on it (and a lock on the parent that blocks other DDL) for the whole scan.",
    "First ADD CONSTRAINT ... CHECK (matching the bound) NOT VALID and VALIDATE it after a commit; ATTACH then skips "
    "the scan; drop the CHECK afterwards.",
    bad=Example(
        "ALTER TABLE measurements ATTACH PARTITION measurements_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')"
    ),
    good=Example(
        "ALTER TABLE measurements_2025 ADD CONSTRAINT in_2025 CHECK (at >= '2025-01-01' AND at < '2026-01-01') "
        "NOT VALID; COMMIT; BEGIN; ALTER TABLE measurements_2025 VALIDATE CONSTRAINT in_2025; COMMIT; BEGIN; "
        "ALTER TABLE measurements ATTACH PARTITION measurements_2025 FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')"
    ),
    detect=_attach,
)


@each_statement
def _domain_constraint(st, state):
    node = st.node
    if ddl.kind(node) == "AlterDomainStmt" and node.subtype == "C" and not node.def_.skip_validation:
        name = ".".join(n.sval for n in node.typeName)
        return Hit("alter-domain-add-constraint", st, "", None, [name], f"domain {name}")


ALTER_DOMAIN_ADD_CONSTRAINT = Rule(
    "alter-domain-add-constraint",
    "locking",
    "error",
    "ALTER DOMAIN ... ADD CONSTRAINT checks every column of every table that uses the domain, each under a lock "
    "that blocks writes, in one transaction.",
    "ADD CONSTRAINT ... NOT VALID, then ALTER DOMAIN ... VALIDATE CONSTRAINT after a commit.",
    bad=Example("ALTER DOMAIN positive ADD CONSTRAINT positive_check CHECK (VALUE > 0)"),
    good=Example(
        "ALTER DOMAIN positive ADD CONSTRAINT positive_check CHECK (VALUE > 0) NOT VALID; COMMIT; BEGIN; "
        "ALTER DOMAIN positive VALIDATE CONSTRAINT positive_check"
    ),
    detect=_domain_constraint,
)

RULES = [
    ALTER_DOMAIN_ADD_CONSTRAINT,
    VACUUM_FULL,
    CLUSTER,
    REINDEX_NOT_CONCURRENTLY,
    LOCK_TABLE,
    REFRESH_MATVIEW_NOT_CONCURRENTLY,
    DETACH_PARTITION_NOT_CONCURRENTLY,
    ATTACH_PARTITION_SCAN,
]
