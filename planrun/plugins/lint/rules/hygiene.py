"""Hygiene rules: choices that cost later (a type that is hard to change, a foreign key that
makes deletes scan) and revisions planrun could not read. Warnings by default."""

from __future__ import annotations

from pglast.enums import AlterTableType as AT
from pglast.enums import ConstrType

from .. import ddl
from ..rule import Example, Hit, Rule, each_statement


def _not_linted(revision):
    for problem in revision.problems:
        yield Hit("not-linted", None, "", detail=problem)


NOT_LINTED = Rule(
    "not-linted",
    "hygiene",
    "warning",
    "This revision's SQL could not be rendered offline, captured from a run on a scratch database, or parsed, so "
    "planrun could not check it.",
    "Make the revision runnable (or renderable in offline mode), or review it by hand.",
    bad=Example("ALTER TABLE users FROBNICATE"),
    good=Example("ALTER TABLE users ADD COLUMN nickname text"),
    detect=_not_linted,
    about="upgrade()",
)


def _nested(revision):
    for statement in revision.nested[:1]:
        yield Hit("transaction-nesting", None, "", None, [], f"{statement.direction}: {statement.sql}")


TRANSACTION_NESTING = Rule(
    "transaction-nesting",
    "hygiene",
    "warning",
    "The revision sends BEGIN inside the transaction Alembic already opened: PostgreSQL ignores it with a warning, "
    "and a COMMIT meant for it ends Alembic's transaction early, so what follows is no longer rolled back together.",
    "Let Alembic own the transaction; for statements that need their own, op.get_context().autocommit_block().",
    bad=Example("BEGIN; ALTER TABLE orders ADD COLUMN note text"),
    good=Example("ALTER TABLE orders ADD COLUMN note text"),
    detect=_nested,
    about="upgrade()",
)


def _columns(st):
    """(short table, column def, kind) for each column a statement creates or retypes."""
    node = st.node
    if ddl.kind(node) == "CreateStmt":
        table = ddl.short(ddl.table(node.relation))
        for element in node.tableElts or ():
            if ddl.kind(element) == "ColumnDef":
                yield table, element.colname, element.typeName, "add-column"
    elif ddl.is_table_alter(node):
        table = ddl.short(ddl.table(node.relation))
        for cmd in node.cmds:
            if cmd.subtype == AT.AT_AddColumn:
                yield table, cmd.def_.colname, cmd.def_.typeName, "add-column"
            elif cmd.subtype == AT.AT_AlterColumnType and cmd.def_ is not None and cmd.def_.typeName is not None:
                yield table, cmd.name, cmd.def_.typeName, "alter-column"


def _type_rule(rule: str, wanted):
    @each_statement
    def check(st, state):
        for table, column, type_node, kind in _columns(st):
            if wanted(type_node):
                yield Hit(rule, st, kind, None, [table, column], f"column {table}.{column}")

    return check


JSON_COLUMN = Rule(
    "json-column",
    "hygiene",
    "warning",
    "json stores text, re-parsed on every read, with no equality operator (no DISTINCT, no unique index).",
    "jsonb.",
    bad=Example("ALTER TABLE events ADD COLUMN payload json"),
    good=Example("ALTER TABLE events ADD COLUMN payload jsonb"),
    detect=_type_rule("json-column", lambda t: ddl.type_name(t) == "json"),
)

TIMESTAMP_WITHOUT_TIME_ZONE = Rule(
    "timestamp-without-time-zone",
    "hygiene",
    "warning",
    "timestamp without time zone stores wall-clock time with no zone: the same instant reads differently from servers "
    "or sessions in other zones, and daylight-saving hours repeat.",
    "timestamptz (sa.DateTime(timezone=True)).",
    bad=Example("ALTER TABLE events ADD COLUMN happened_at timestamp"),
    good=Example("ALTER TABLE events ADD COLUMN happened_at timestamptz"),
    detect=_type_rule("timestamp-without-time-zone", lambda t: ddl.type_name(t) == "timestamp"),
)

VARCHAR_LENGTH = Rule(
    "varchar-length",
    "hygiene",
    "warning",
    "varchar(n) puts a business limit in the type: shortening it later rewrites or scans the table under an ACCESS "
    "EXCLUSIVE lock, while a CHECK constraint can be swapped with NOT VALID and VALIDATE.",
    "text with CHECK (char_length(col) <= n), or leave it unlimited.",
    bad=Example("ALTER TABLE users ADD COLUMN nickname varchar(40)"),
    good=Example(
        "ALTER TABLE users ADD COLUMN nickname text; ALTER TABLE users ADD CONSTRAINT nickname_length "
        "CHECK (char_length(nickname) <= 40) NOT VALID"
    ),
    detect=_type_rule("varchar-length", lambda t: ddl.type_name(t) == "varchar" and bool(t.typmods)),
)

CHAR_COLUMN = Rule(
    "char-column",
    "hygiene",
    "warning",
    "char(n) pads every value with spaces to n characters: comparisons and lengths surprise, it stores no less "
    "than text, and changing n later rewrites the table.",
    "text (with a CHECK on its length if the length is a rule).",
    bad=Example("ALTER TABLE users ADD COLUMN country char(2)"),
    good=Example("ALTER TABLE users ADD COLUMN country text"),
    detect=_type_rule("char-column", lambda t: ddl.type_name(t) in ("bpchar", "char")),
)


@each_statement
def _domain_check(st, state):
    node = st.node
    if ddl.kind(node) == "CreateDomainStmt" and any(
        c.contype == ConstrType.CONSTR_CHECK for c in node.constraints or ()
    ):
        name = ".".join(n.sval for n in node.domainname)
        return Hit("domain-with-check", st, "", None, [name], f"domain {name}")


DOMAIN_WITH_CHECK = Rule(
    "domain-with-check",
    "hygiene",
    "warning",
    "A CHECK on a domain binds every column of that type: changing the rule later checks all of them at once, and "
    "PostgreSQL cannot tell the planner or every client what it allows.",
    "A plain type and a CHECK constraint per column (added NOT VALID, then validated).",
    bad=Example("CREATE DOMAIN positive AS int CHECK (VALUE > 0)"),
    good=Example("CREATE DOMAIN positive AS int"),
    detect=_domain_check,
)

_SMALL_INTEGERS = {"int4", "int2", "integer", "int", "smallint", "serial", "serial4", "smallserial", "serial2"}


def _primary_key_columns(node) -> list[str]:
    columns = []
    for element in node.tableElts or ():
        if ddl.kind(element) == "ColumnDef" and ConstrType.CONSTR_PRIMARY in ddl.column_constraints(element):
            columns.append(element.colname)
        elif ddl.kind(element) == "Constraint" and element.contype == ConstrType.CONSTR_PRIMARY:
            columns += [key.sval for key in element.keys or ()]
    return columns


@each_statement
def _int_primary_key(st, state):
    node = st.node
    if ddl.kind(node) != "CreateStmt":
        return None
    table = ddl.short(ddl.table(node.relation))
    keys = _primary_key_columns(node)
    if len(keys) != 1:
        return None  # a composite key's parts usually reference other tables' keys
    for element in node.tableElts or ():
        if ddl.kind(element) == "ColumnDef" and element.colname == keys[0]:
            if ddl.type_name(element.typeName) in _SMALL_INTEGERS:
                detail = f"{table}.{keys[0]} is {ddl.type_name(element.typeName)}"
                return Hit("int-primary-key", st, "create-table", None, [table], detail)
    return None


def _int_column(revision):
    referencing = {  # a key column follows the key it references: int-primary-key speaks for that one
        (table, column)
        for st in revision.upgrade_statements
        for table, columns, _ in _foreign_keys(st)
        for column in columns
    }
    for st in revision.upgrade_statements:
        keys = set(_primary_key_columns(st.node)) if ddl.kind(st.node) == "CreateStmt" else set()
        for table, column, type_node, kind in _columns(st):
            if column in keys or (table, column) in referencing:
                continue
            if ddl.type_name(type_node) in _SMALL_INTEGERS:
                detail = f"{table}.{column} is {ddl.type_name(type_node)}"
                yield Hit("int-column", st, kind, None, [table, column], detail)


INT_COLUMN = Rule(
    "int-column",
    "hygiene",
    "warning",
    "A 32- or 16-bit integer column (a counter, an amount, a reference to another table's key) overflows at 2^31 "
    "(or 2^15); widening it later rewrites the table under an ACCESS EXCLUSIVE lock.",
    "bigint (sa.BigInteger): 4 bytes more per row.",
    bad=Example("ALTER TABLE orders ADD COLUMN quantity int"),
    good=Example("ALTER TABLE orders ADD COLUMN quantity bigint"),
    detect=_int_column,
)

INT_PRIMARY_KEY = Rule(
    "int-primary-key",
    "hygiene",
    "warning",
    "A 32-bit integer primary key runs out at 2,147,483,647 rows ever inserted; changing it to bigint later rewrites "
    "the table and every table that references it.",
    "bigint (sa.BigInteger, bigserial or GENERATED ... AS IDENTITY on bigint).",
    bad=Example("CREATE TABLE invoices (id serial PRIMARY KEY, total numeric(12,2))"),
    good=Example("CREATE TABLE invoices (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, total numeric(12,2))"),
    detect=_int_primary_key,
)


def _foreign_keys(st):
    """(short table, columns, referenced table) of each foreign key a statement adds."""
    node = st.node
    if ddl.kind(node) == "CreateStmt":
        table = ddl.short(ddl.table(node.relation))
        for element in node.tableElts or ():
            if ddl.kind(element) == "Constraint" and element.contype == ConstrType.CONSTR_FOREIGN:
                yield table, tuple(k.sval for k in element.fk_attrs), ddl.table(element.pktable)
            elif ddl.kind(element) == "ColumnDef":
                for constraint in element.constraints or ():
                    if constraint.contype == ConstrType.CONSTR_FOREIGN:
                        yield table, (element.colname,), ddl.table(constraint.pktable)
    elif ddl.is_table_alter(node):
        table = ddl.short(ddl.table(node.relation))
        for cmd in node.cmds:
            if cmd.subtype == AT.AT_AddConstraint and cmd.def_.contype == ConstrType.CONSTR_FOREIGN:
                yield table, tuple(k.sval for k in cmd.def_.fk_attrs), ddl.table(cmd.def_.pktable)


def _unindexed_foreign_key(revision):
    indexed = {table: list(lists) for table, lists in revision.release.indexed.items()}
    for table, lists in revision.own.indexed.items():  # an index later in the revision counts too
        indexed.setdefault(table, []).extend(lists)
    known = revision.release.tables | revision.own.tables  # other tables may have indexes planrun never saw
    for st in revision.upgrade_statements:
        for table, columns, referenced in _foreign_keys(st):
            if table in known and not any(tuple(index[: len(columns)]) == columns for index in indexed.get(table, [])):
                detail = f"{table}({', '.join(columns)}) -> {referenced}"
                yield Hit("foreign-key-without-index", st, "foreign-key", None, [table], detail)


FOREIGN_KEY_WITHOUT_INDEX = Rule(
    "foreign-key-without-index",
    "hygiene",
    "warning",
    "A foreign key whose referencing columns lead no index: every DELETE or key UPDATE on the referenced table scans "
    "this one (under its lock), and joins on the key cannot use an index.",
    "Create an index on the referencing columns (zdt.create_index_concurrently on an existing table), in this "
    "release or one before it.",
    bad=Example(
        "CREATE TABLE coupons_used (id bigint PRIMARY KEY, coupon_id bigint REFERENCES coupons (id), "
        "used_at timestamptz)"
    ),
    good=Example(
        "CREATE TABLE coupons_used (id bigint PRIMARY KEY, coupon_id bigint REFERENCES coupons (id), "
        "used_at timestamptz); CREATE INDEX ix_coupons_used_coupon_id ON coupons_used (coupon_id)"
    ),
    detect=_unindexed_foreign_key,
)

RULES = [
    NOT_LINTED,
    TRANSACTION_NESTING,
    JSON_COLUMN,
    TIMESTAMP_WITHOUT_TIME_ZONE,
    VARCHAR_LENGTH,
    INT_PRIMARY_KEY,
    INT_COLUMN,
    CHAR_COLUMN,
    DOMAIN_WITH_CHECK,
    FOREIGN_KEY_WITHOUT_INDEX,
]
