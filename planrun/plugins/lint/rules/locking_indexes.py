"""Locking rules for indexes and constraints on existing tables: built or checked while writes
(or reads) wait, and the CONCURRENTLY forms that cannot run inside the migration's transaction."""

from __future__ import annotations

from pglast.enums import AlterTableType as AT
from pglast.enums import ConstrType, ObjectType

from .. import ddl
from ..rule import Example, Hit, Rule, each_statement
from .locking_columns import existing_table_commands


@each_statement
def _create_index(st, state):
    node = st.node
    if ddl.kind(node) == "IndexStmt" and not node.concurrent and state.existing(ddl.table(node.relation)):
        table = ddl.table(node.relation)
        return Hit("create-index-not-concurrently", st, "index", table, [node.idxname, ddl.short(table)])


CREATE_INDEX_NOT_CONCURRENTLY = Rule(
    "create-index-not-concurrently",
    "locking",
    "error",
    "CREATE INDEX on an existing table blocks every write to it until the index is built.",
    "zdt.create_index_concurrently(name, table, columns) (CREATE INDEX CONCURRENTLY, outside the transaction).",
    bad=Example("CREATE INDEX ix_orders_user ON orders (user_id)"),
    good=Example("COMMIT; CREATE INDEX CONCURRENTLY ix_orders_user ON orders (user_id); BEGIN"),
    detect=_create_index,
)


@each_statement
def _drop_index(st, state):
    node = st.node
    if ddl.kind(node) == "DropStmt" and node.removeType == ObjectType.OBJECT_INDEX and not node.concurrent:
        return [
            Hit("drop-index-not-concurrently", st, "drop-index", None, [ddl.short(name)])
            for name in ddl.names(node)
            if ddl.short(name) not in state.created_indexes
        ]


DROP_INDEX_NOT_CONCURRENTLY = Rule(
    "drop-index-not-concurrently",
    "locking",
    "error",
    "DROP INDEX takes an ACCESS EXCLUSIVE lock on the table: every read and write waits.",
    "zdt.drop_index_concurrently(name) (DROP INDEX CONCURRENTLY, outside the transaction).",
    bad=Example("DROP INDEX ix_orders_user"),
    good=Example("COMMIT; DROP INDEX CONCURRENTLY ix_orders_user; BEGIN"),
    detect=_drop_index,
)


def _constraint_rule(rule: str, kind: str, wanted):
    """A check of ADD CONSTRAINT on an existing table: ``wanted(constraint)`` says it is unsafe."""

    @each_statement
    def check(st, state):
        for table, short, cmd in existing_table_commands(st, state, AT.AT_AddConstraint):
            if wanted(cmd.def_):
                yield Hit(rule, st, kind, table, [short])

    return check


ADD_FOREIGN_KEY_VALIDATED = Rule(
    "add-foreign-key-validated",
    "locking",
    "error",
    "ADD FOREIGN KEY without NOT VALID checks every row while blocking writes to both tables.",
    "ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID, then VALIDATE CONSTRAINT after a commit (it takes a weaker lock).",
    bad=Example("ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id)"),
    good=Example(
        "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID; "
        "COMMIT; BEGIN; ALTER TABLE orders VALIDATE CONSTRAINT orders_user_fk",
        before="COMMIT; CREATE INDEX CONCURRENTLY ix_orders_user_id ON orders (user_id); BEGIN",
    ),
    detect=_constraint_rule(
        "add-foreign-key-validated",
        "foreign-key",
        lambda c: c.contype == ConstrType.CONSTR_FOREIGN and not c.skip_validation,
    ),
)

ADD_CHECK_VALIDATED = Rule(
    "add-check-validated",
    "locking",
    "error",
    "ADD CHECK without NOT VALID scans the table under an ACCESS EXCLUSIVE lock.",
    "ADD CONSTRAINT ... CHECK (...) NOT VALID, then VALIDATE CONSTRAINT after a commit.",
    bad=Example("ALTER TABLE orders ADD CONSTRAINT total_positive CHECK (total >= 0)"),
    good=Example(
        "ALTER TABLE orders ADD CONSTRAINT total_positive CHECK (total >= 0) NOT VALID; COMMIT; BEGIN; "
        "ALTER TABLE orders VALIDATE CONSTRAINT total_positive"
    ),
    detect=_constraint_rule(
        "add-check-validated", "check", lambda c: c.contype == ConstrType.CONSTR_CHECK and not c.skip_validation
    ),
)

ADD_UNIQUE_CONSTRAINT = Rule(
    "add-unique-constraint",
    "locking",
    "error",
    "ADD UNIQUE builds its index while blocking writes to the table.",
    "zdt.create_index_concurrently(..., unique=True), then ADD CONSTRAINT ... UNIQUE USING INDEX.",
    bad=Example("ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE (email)"),
    good=Example(
        "COMMIT; CREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email); BEGIN; "
        "ALTER TABLE users ADD CONSTRAINT users_email_key UNIQUE USING INDEX users_email_key"
    ),
    detect=_constraint_rule(
        "add-unique-constraint", "unique", lambda c: c.contype == ConstrType.CONSTR_UNIQUE and not c.indexname
    ),
)

ADD_PRIMARY_KEY = Rule(
    "add-primary-key",
    "locking",
    "error",
    "ADD PRIMARY KEY on an existing table builds its index (and checks NOT NULL) while blocking every write.",
    "zdt.create_index_concurrently(..., unique=True), then ADD CONSTRAINT ... PRIMARY KEY USING INDEX.",
    bad=Example("ALTER TABLE events ADD PRIMARY KEY (id)"),
    good=Example(
        "COMMIT; CREATE UNIQUE INDEX CONCURRENTLY events_pkey ON events (id); BEGIN; "
        "ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY USING INDEX events_pkey"
    ),
    detect=_constraint_rule(
        "add-primary-key", "primary-key", lambda c: c.contype == ConstrType.CONSTR_PRIMARY and not c.indexname
    ),
)

ADD_EXCLUSION_CONSTRAINT = Rule(
    "add-exclusion-constraint",
    "locking",
    "error",
    "ADD CONSTRAINT ... EXCLUDE on an existing table builds its index and checks every row under an ACCESS "
    "EXCLUSIVE lock; an exclusion constraint cannot be added NOT VALID or USING INDEX.",
    "Create the table with the constraint and move rows to it in batches, or enforce the rule with a trigger "
    "plus a concurrently built index.",
    bad=Example("ALTER TABLE bookings ADD CONSTRAINT no_overlap EXCLUDE USING gist (room WITH =, during WITH &&)"),
    good=Example(
        "CREATE TABLE bookings_v2 (id bigint PRIMARY KEY, room int, during tstzrange, "
        "EXCLUDE USING gist (room WITH =, during WITH &&))"
    ),
    detect=_constraint_rule("add-exclusion-constraint", "alter", lambda c: c.contype == ConstrType.CONSTR_EXCLUSION),
)


def _concurrent(node) -> bool:
    kind = ddl.kind(node)
    if kind in ("IndexStmt", "DropStmt"):
        return bool(getattr(node, "concurrent", False))
    if kind == "ReindexStmt":
        return any(p.defname == "concurrently" for p in node.params or ())
    if ddl.is_table_alter(node):
        return any(cmd.subtype == AT.AT_DetachPartition and cmd.def_.concurrent for cmd in node.cmds)
    return False


@each_statement
def _concurrently_in_transaction(st, state):
    if st.in_transaction and _concurrent(st.node):
        kind = {"IndexStmt": "index", "DropStmt": "drop-index"}.get(ddl.kind(st.node), "")
        return Hit("concurrently-in-transaction", st, kind, None, [getattr(st.node, "idxname", None)])


CONCURRENTLY_IN_TRANSACTION = Rule(
    "concurrently-in-transaction",
    "locking",
    "error",
    "CREATE/DROP INDEX CONCURRENTLY, REINDEX CONCURRENTLY and DETACH PARTITION CONCURRENTLY cannot run inside a "
    "transaction block: the migration fails here.",
    "zdt.create_index_concurrently / zdt.drop_index_concurrently, or op.get_context().autocommit_block().",
    bad=Example("CREATE INDEX CONCURRENTLY ix_orders_user ON orders (user_id)"),
    good=Example("COMMIT; CREATE INDEX CONCURRENTLY ix_orders_user ON orders (user_id); BEGIN"),
    detect=_concurrently_in_transaction,
)

RULES = [
    CREATE_INDEX_NOT_CONCURRENTLY,
    DROP_INDEX_NOT_CONCURRENTLY,
    ADD_FOREIGN_KEY_VALIDATED,
    ADD_CHECK_VALIDATED,
    ADD_UNIQUE_CONSTRAINT,
    ADD_PRIMARY_KEY,
    ADD_EXCLUSION_CONSTRAINT,
    CONCURRENTLY_IN_TRANSACTION,
]
