"""Locking rules for column changes on existing tables: the ones that rewrite or scan every row
under an ACCESS EXCLUSIVE lock. Tables the same revision creates are exempt (no one uses them
yet)."""

from __future__ import annotations

from pglast.enums import AlterTableType as AT
from pglast.enums import ConstrType

from .. import ddl
from ..rule import Example, Hit, Rule, each_statement
from ..source import keyword_of
from ..types import Spec, binary_compatible, describe, from_sqlalchemy


def existing_table_commands(st, state, subtype):
    """(table, short name, command) for each ``subtype`` command of an ALTER TABLE on an existing table."""
    if ddl.is_table_alter(st.node) and state.existing(ddl.table(st.node.relation)):
        table = ddl.table(st.node.relation)
        for cmd in st.node.cmds:
            if cmd.subtype == subtype:
                yield table, ddl.short(table), cmd


def _type_change(revision):
    for st, state in revision.upgrade:
        for table, short, cmd in existing_table_commands(st, state, AT.AT_AlterColumnType):
            new = ddl.type_spec(cmd.def_.typeName)
            old = _old_type(revision, short, cmd.name, st.line)
            using = cmd.def_.raw_default is not None
            if old and new and not using and binary_compatible(old, new):
                continue
            if old and new:
                detail = f"{short}.{cmd.name}: {describe(old)} -> {describe(new)}{' USING ...' if using else ''}"
            else:
                detail = (
                    f"{short}.{cmd.name}: the old type is unknown to planrun (give existing_type= to "
                    "op.alter_column, or lint from the revision that created the column)"
                )
            yield Hit("alter-column-type", st, "alter-column", table, [short, cmd.name], detail)


def _old_type(revision, table: str, column: str, line: int | None) -> Spec | None:
    written = keyword_of(revision.source, "upgrade", "alter_column", [table, column], "existing_type", line)
    if written is not None:
        return from_sqlalchemy(written)
    known = revision.release.column_types.get((table, column))
    return ddl.type_spec(known) if known is not None else None


ALTER_COLUMN_TYPE = Rule(
    "alter-column-type",
    "locking",
    "error",
    "ALTER COLUMN ... TYPE rewrites the table (and its indexes) under an ACCESS EXCLUSIVE lock, except for "
    "binary-compatible changes (varchar(n) -> varchar(m >= n) or text, numeric(p,s) -> numeric(q >= p,s)), "
    "which planrun lets through when it knows the old type.",
    "Add a new column of the new type, dual-write, backfill in batches, switch readers, drop the old column.",
    bad=Example("ALTER TABLE orders ALTER COLUMN total TYPE bigint", before="ALTER TABLE orders ADD COLUMN total int"),
    good=Example(
        "ALTER TABLE users ALTER COLUMN email TYPE varchar(320)",
        before="ALTER TABLE users ADD COLUMN email varchar(254)",
    ),
    detect=_type_change,
)


@each_statement
def _set_not_null(st, state):
    return [
        Hit("set-not-null", st, "not-null", table, [short, cmd.name])
        for table, short, cmd in existing_table_commands(st, state, AT.AT_SetNotNull)
        if (short, cmd.name) not in state.validated
    ]


SET_NOT_NULL = Rule(
    "set-not-null",
    "locking",
    "error",
    "SET NOT NULL on an existing column scans the whole table under an ACCESS EXCLUSIVE lock.",
    "zdt.add_not_null_safely(table, column): CHECK (col IS NOT NULL) NOT VALID, VALIDATE (no write lock), "
    "SET NOT NULL (no scan), drop the CHECK.",
    bad=Example("ALTER TABLE users ALTER COLUMN email SET NOT NULL"),
    good=Example(
        "ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID; COMMIT; BEGIN; "
        "ALTER TABLE users VALIDATE CONSTRAINT email_nn; ALTER TABLE users ALTER COLUMN email SET NOT NULL; "
        "ALTER TABLE users DROP CONSTRAINT email_nn"
    ),
    detect=_set_not_null,
)


@each_statement
def _volatile_default(st, state):
    for table, short, cmd in existing_table_commands(st, state, AT.AT_AddColumn):
        for constraint in cmd.def_.constraints or ():
            if constraint.contype == ConstrType.CONSTR_DEFAULT and ddl.volatile(constraint.raw_expr):
                yield Hit("add-column-volatile-default", st, "add-column", table, [short, cmd.def_.colname])


ADD_COLUMN_VOLATILE_DEFAULT = Rule(
    "add-column-volatile-default",
    "locking",
    "error",
    "ADD COLUMN with a volatile DEFAULT (random(), gen_random_uuid(), clock_timestamp()...) rewrites the whole table.",
    "Add the column without a default (or with a constant one), set the default for new rows, backfill old rows in "
    "batches.",
    bad=Example("ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid()"),
    good=Example(
        "ALTER TABLE users ADD COLUMN token uuid; ALTER TABLE users ALTER COLUMN token SET DEFAULT gen_random_uuid()"
    ),
    detect=_volatile_default,
)


@each_statement
def _serial(st, state):
    for table, short, cmd in existing_table_commands(st, state, AT.AT_AddColumn):
        if ddl.type_name(cmd.def_.typeName) in ddl.SERIAL or ConstrType.CONSTR_IDENTITY in ddl.column_constraints(
            cmd.def_
        ):
            yield Hit("add-column-serial", st, "add-column", table, [short, cmd.def_.colname])


ADD_COLUMN_SERIAL = Rule(
    "add-column-serial",
    "locking",
    "error",
    "ADD COLUMN of a serial or identity column on an existing table fills every row: the whole table is rewritten "
    "under an ACCESS EXCLUSIVE lock.",
    "Add a nullable bigint column, attach a sequence as its default for new rows, backfill old rows in batches.",
    bad=Example("ALTER TABLE events ADD COLUMN seq bigserial"),
    good=Example(
        "CREATE SEQUENCE events_seq; ALTER TABLE events ADD COLUMN seq bigint; "
        "ALTER TABLE events ALTER COLUMN seq SET DEFAULT nextval('events_seq')"
    ),
    detect=_serial,
)


@each_statement
def _generated(st, state):
    for table, short, cmd in existing_table_commands(st, state, AT.AT_AddColumn):
        if ConstrType.CONSTR_GENERATED in ddl.column_constraints(cmd.def_):
            yield Hit("add-column-generated-stored", st, "add-column", table, [short, cmd.def_.colname])


ADD_COLUMN_GENERATED_STORED = Rule(
    "add-column-generated-stored",
    "locking",
    "error",
    "ADD COLUMN ... GENERATED ALWAYS AS (...) STORED on an existing table computes every row: a full rewrite under an "
    "ACCESS EXCLUSIVE lock.",
    "Add a plain column, fill it with a trigger for new rows and zdt.batched_backfill for old ones.",
    bad=Example("ALTER TABLE users ADD COLUMN email_lower text GENERATED ALWAYS AS (lower(email)) STORED"),
    good=Example("ALTER TABLE users ADD COLUMN email_lower text"),
    detect=_generated,
)

RULES = [
    ALTER_COLUMN_TYPE,
    SET_NOT_NULL,
    ADD_COLUMN_VOLATILE_DEFAULT,
    ADD_COLUMN_SERIAL,
    ADD_COLUMN_GENERATED_STORED,
]
