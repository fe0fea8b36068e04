"""Rules for operations that delete data: a plan can allow them only in a contract phase, with
a backup verified by restore (inline allowances cannot)."""

from __future__ import annotations

from pglast.enums import AlterTableType as AT
from pglast.enums import ObjectType

from .. import ddl
from ..rule import Example, Hit, Rule, each_statement

AFTER = "in a contract plan that allows {rule} and backs up with verify: restore"


@each_statement
def _drop_table(st, state):
    if ddl.kind(st.node) == "DropStmt" and st.node.removeType == ObjectType.OBJECT_TABLE:
        return [Hit("drop-table", st, "drop-table", name, [ddl.short(name)]) for name in ddl.names(st.node)]


DROP_TABLE = Rule(
    "drop-table",
    "destructive",
    "error",
    "DROP TABLE deletes the table and every row in it.",
    "Stop reading and writing it first; drop it " + AFTER.format(rule="drop-table") + ".",
    bad=Example("DROP TABLE audit_log"),
    good=Example("REVOKE INSERT, UPDATE, DELETE ON audit_log FROM app"),
    detect=_drop_table,
)


@each_statement
def _drop_column(st, state):
    if ddl.is_table_alter(st.node):
        table = ddl.table(st.node.relation)
        return [
            Hit("drop-column", st, "drop-column", table, [ddl.short(table), cmd.name])
            for cmd in st.node.cmds
            if cmd.subtype == AT.AT_DropColumn
        ]


DROP_COLUMN = Rule(
    "drop-column",
    "destructive",
    "error",
    "DROP COLUMN deletes the column's data, and running code that still reads it breaks.",
    "Expand/contract: stop reading the column (feature flag), then drop it " + AFTER.format(rule="drop-column") + ".",
    bad=Example("ALTER TABLE users DROP COLUMN legacy_score"),
    good=Example("COMMENT ON COLUMN users.legacy_score IS 'unused since v42: dropped by the contract release'"),
    detect=_drop_column,
)


@each_statement
def _truncate(st, state):
    if ddl.kind(st.node) == "TruncateStmt":
        return [Hit("truncate", st, "truncate", t, [ddl.short(t)]) for t in map(ddl.table, st.node.relations)]


TRUNCATE = Rule(
    "truncate",
    "destructive",
    "error",
    "TRUNCATE deletes every row at once, under an ACCESS EXCLUSIVE lock.",
    "Delete in batches with a WHERE clause, " + AFTER.format(rule="truncate") + ".",
    bad=Example("TRUNCATE sessions"),
    good=Example("DELETE FROM sessions WHERE id BETWEEN 1 AND 10000 AND expires_at < now()"),
    detect=_truncate,
)


def _without_where(rule: str, statement_kind: str, kind: str):
    @each_statement
    def check(st, state):
        if ddl.kind(st.node) == statement_kind and st.node.whereClause is None:
            table = ddl.table(st.node.relation)
            return Hit(rule, st, kind, table, [ddl.short(table)])

    return check


DELETE_WITHOUT_WHERE = Rule(
    "delete-without-where",
    "destructive",
    "error",
    "DELETE without WHERE removes every row of the table.",
    "Add a WHERE clause naming the rows; delete large sets in batches.",
    bad=Example("DELETE FROM sessions"),
    good=Example("DELETE FROM sessions WHERE expires_at < now()"),
    detect=_without_where("delete-without-where", "DeleteStmt", "delete"),
)

UPDATE_WITHOUT_WHERE = Rule(
    "update-without-where",
    "destructive",
    "error",
    "UPDATE without WHERE rewrites every row in one transaction, holding every row lock until it commits.",
    "zdt.batched_backfill(table, set=..., where=...): primary-key ranges, each batch committed.",
    bad=Example("UPDATE users SET active = true"),
    good=Example("UPDATE users SET active = true WHERE id >= 1 AND id < 10001 AND active IS NULL"),
    detect=_without_where("update-without-where", "UpdateStmt", "update"),
)


@each_statement
def _drop_schema(st, state):
    if ddl.kind(st.node) == "DropStmt" and st.node.removeType == ObjectType.OBJECT_SCHEMA:
        return [Hit("drop-schema", st, "", None, [n], f"schema {n}") for n in ddl.names(st.node)]


DROP_SCHEMA = Rule(
    "drop-schema",
    "destructive",
    "error",
    "DROP SCHEMA deletes every table in it, and every row.",
    "Move what is still used out first; drop it " + AFTER.format(rule="drop-schema") + ".",
    bad=Example("DROP SCHEMA reporting CASCADE"),
    good=Example("REVOKE USAGE ON SCHEMA reporting FROM app"),
    detect=_drop_schema,
)


@each_statement
def _drop_database(st, state):
    if ddl.kind(st.node) == "DropdbStmt":
        return Hit("drop-database", st, "", None, [st.node.dbname], f"database {st.node.dbname}")


DROP_DATABASE = Rule(
    "drop-database",
    "destructive",
    "error",
    "DROP DATABASE deletes a whole database, every schema and row in it; a migration has no business doing it.",
    "Drop databases by hand, after a backup verified by restore, outside any migration.",
    bad=Example("COMMIT; DROP DATABASE analytics; BEGIN"),
    good=Example("REVOKE CONNECT ON DATABASE analytics FROM app"),
    detect=_drop_database,
)

RULES = [DROP_TABLE, DROP_COLUMN, TRUNCATE, DELETE_WITHOUT_WHERE, UPDATE_WITHOUT_WHERE, DROP_SCHEMA, DROP_DATABASE]
