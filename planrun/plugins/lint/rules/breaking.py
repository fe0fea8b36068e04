"""Rules for changes that break the code already deployed: during a deploy the previous release
keeps running against the new schema, so anything it names must still be there and still
accept what it writes."""

from __future__ import annotations

from pglast.enums import AlterTableType as AT
from pglast.enums import ConstrType, ObjectType

from .. import ddl
from ..rule import Example, Hit, Rule, each_statement
from .locking_columns import existing_table_commands


@each_statement
def _rename(st, state):
    node = st.node
    if ddl.kind(node) != "RenameStmt" or node.relation is None:
        return None
    table = ddl.table(node.relation)
    if node.renameType == ObjectType.OBJECT_COLUMN:
        names = [ddl.short(table), node.subname]
        return Hit("rename-column", st, "rename-column", table, names, f"{node.subname} -> {node.newname}")
    if node.renameType == ObjectType.OBJECT_TABLE:
        return Hit("rename-table", st, "rename-table", table, [ddl.short(table)], f"-> {node.newname}")
    return None


def _only(rule: str, detect):
    def only(revision):
        return (hit for hit in detect(revision) if hit.rule == rule)

    return only


RENAME_COLUMN = Rule(
    "rename-column",
    "breaking",
    "error",
    "RENAME COLUMN breaks every running instance that still uses the old name.",
    "Add the new column, dual-write (zdt.dual_write), switch readers, then drop the old one in a contract plan.",
    bad=Example("ALTER TABLE users RENAME COLUMN name TO full_name"),
    good=Example("ALTER TABLE users ADD COLUMN full_name text"),
    detect=_only("rename-column", _rename),
)

RENAME_TABLE = Rule(
    "rename-table",
    "breaking",
    "error",
    "RENAME TABLE breaks every running instance that still uses the old name.",
    "Create the new table (or a view under the new name), switch readers and writers, then drop the old one.",
    bad=Example("ALTER TABLE users RENAME TO accounts"),
    good=Example("CREATE VIEW accounts AS SELECT * FROM users"),
    detect=_only("rename-table", _rename),
)


@each_statement
def _set_schema(st, state):
    node = st.node
    if ddl.kind(node) == "AlterObjectSchemaStmt" and node.relation is not None:
        table = ddl.table(node.relation)
        if state.existing(table):
            return Hit("set-schema", st, "", table, [ddl.short(table)], f"{table} -> {node.newschema}")
    return None


SET_SCHEMA = Rule(
    "set-schema",
    "breaking",
    "error",
    "SET SCHEMA moves the object: every running instance that names it by its old schema (or finds it through "
    "search_path) breaks.",
    "Create it in the new schema, switch readers and writers (a view under the old name meanwhile), then drop the old "
    "one in a contract plan.",
    bad=Example("ALTER TABLE users SET SCHEMA accounts"),
    good=Example("CREATE VIEW accounts.users AS SELECT * FROM public.users"),
    detect=_set_schema,
)


@each_statement
def _drop_not_null(st, state):
    return [
        Hit("drop-not-null", st, "alter-column", table, [short, cmd.name], f"{short}.{cmd.name}")
        for table, short, cmd in existing_table_commands(st, state, AT.AT_DropNotNull)
    ]


DROP_NOT_NULL = Rule(
    "drop-not-null",
    "breaking",
    "warning",
    "DROP NOT NULL lets NULLs in that the code deployed now may not expect when it reads the column.",
    "Make sure every reader handles NULL before the release that writes one.",
    bad=Example("ALTER TABLE users ALTER COLUMN email DROP NOT NULL"),
    good=Example("ALTER TABLE users ALTER COLUMN email SET DEFAULT ''"),
    detect=_drop_not_null,
)


def _drop_recent(revision):
    for st, state in revision.upgrade:
        for table, short, cmd in existing_table_commands(st, state, AT.AT_DropColumn):
            added_by = revision.release.added_columns.get((short, cmd.name))
            if added_by:
                detail = f"added by revision {added_by}"
                yield Hit("drop-recent-column", st, "drop-column", table, [short, cmd.name], detail)


DROP_RECENT_COLUMN = Rule(
    "drop-recent-column",
    "breaking",
    "error",
    "This drops a column that an earlier revision of the same release added: code deployed with that revision may "
    "already use it.",
    "Ship the drop in a later release, after no running code reads the column.",
    bad=Example("ALTER TABLE users DROP COLUMN nickname", before="ALTER TABLE users ADD COLUMN nickname text"),
    good=Example(
        "COMMENT ON COLUMN users.nickname IS 'unused: dropped next release'",
        before="ALTER TABLE users ADD COLUMN nickname text",
    ),
    detect=_drop_recent,
)


@each_statement
def _required(st, state):
    for table, short, cmd in existing_table_commands(st, state, AT.AT_AddColumn):
        kinds = ddl.column_constraints(cmd.def_)
        serial = ddl.type_name(cmd.def_.typeName) in ddl.SERIAL or ConstrType.CONSTR_IDENTITY in kinds
        if ConstrType.CONSTR_NOTNULL in kinds and not {ConstrType.CONSTR_DEFAULT, ConstrType.CONSTR_GENERATED} & kinds:
            if not serial:
                yield Hit("add-column-required", st, "add-column", table, [short, cmd.def_.colname])


ADD_COLUMN_REQUIRED = Rule(
    "add-column-required",
    "breaking",
    "error",
    "ADD COLUMN ... NOT NULL without a DEFAULT fails on a table that has rows, and inserts from running code that "
    "does not know the column fail too.",
    "Add it nullable (or with a constant DEFAULT), backfill, then zdt.add_not_null_safely.",
    bad=Example("ALTER TABLE users ADD COLUMN plan text NOT NULL"),
    good=Example("ALTER TABLE users ADD COLUMN plan text NOT NULL DEFAULT 'free'"),
    detect=_required,
)

# object type -> what it is called in messages
_OBJECTS = {
    ObjectType.OBJECT_VIEW: "view",
    ObjectType.OBJECT_MATVIEW: "materialized view",
    ObjectType.OBJECT_FUNCTION: "function",
    ObjectType.OBJECT_PROCEDURE: "procedure",
    ObjectType.OBJECT_TYPE: "type",
    ObjectType.OBJECT_DOMAIN: "domain",
    ObjectType.OBJECT_TRIGGER: "trigger",
    ObjectType.OBJECT_SEQUENCE: "sequence",
}


def _drop_object(revision):
    recreated = revision.final.created_objects  # DROP ... IF EXISTS then CREATE: a replacement
    for st, state in revision.upgrade:
        node = st.node
        if ddl.kind(node) != "DropStmt" or node.removeType not in _OBJECTS:
            continue
        for name in ddl.names(node):
            if ddl.short(name).startswith("planrun_"):
                continue  # made by planrun's own helpers (zdt.dual_write): no application code uses it
            if ddl.short(name) not in state.created_objects | recreated:
                yield Hit("drop-object-in-use", st, "", None, [ddl.short(name)], f"{_OBJECTS[node.removeType]} {name}")


DROP_OBJECT_IN_USE = Rule(
    "drop-object-in-use",
    "breaking",
    "error",
    "This drops a view, function, procedure, type, domain, trigger or sequence that existed before the revision: the "
    "release still running may use it (best effort: planrun cannot see the application's queries).",
    "Drop it in a contract plan, a release after no running code uses it; allow it there with a reason.",
    bad=Example("DROP VIEW active_users"),
    good=Example("CREATE OR REPLACE VIEW active_users AS SELECT id, email FROM users WHERE active"),
    detect=_drop_object,
)

RULES = [
    RENAME_COLUMN,
    RENAME_TABLE,
    SET_SCHEMA,
    DROP_NOT_NULL,
    DROP_RECENT_COLUMN,
    ADD_COLUMN_REQUIRED,
    DROP_OBJECT_IN_USE,
]
