"""Rules for the way back: a downgrade that does nothing, or one that deletes data which existed
before the upgrade."""

from __future__ import annotations

from pglast.enums import AlterTableType as AT
from pglast.enums import ObjectType

from .. import ddl
from ..rule import Example, Hit, Rule


def _empty(revision):
    """A downgrade with nothing in it, under an upgrade that does something (a revision empty
    both ways, such as a merge point or a placeholder, has nothing to undo: the stairway's graph
    check exempts it too)."""
    source = revision.source
    if source.bodies_empty.get("upgrade") and "downgrade" in source.functions and source.bodies_empty["downgrade"]:
        return
    if source.bodies_empty.get("downgrade") or "downgrade" not in source.functions:
        yield Hit("empty-downgrade", None, "downgrade")


EMPTY_DOWNGRADE = Rule(
    "empty-downgrade",
    "rollback",
    "error",
    "The downgrade does nothing: a failed deploy of this revision cannot be rolled back by downgrade.",
    "Write the downgrade that undoes the upgrade (planrun test proves it leaves no trace).",
    bad=Example("ALTER TABLE users ADD COLUMN nickname text", downgrade=""),
    good=Example("ALTER TABLE users ADD COLUMN nickname text", downgrade="ALTER TABLE users DROP COLUMN nickname"),
    detect=_empty,
    about="downgrade()",
)


def _drops_data(revision):
    if any(problem.startswith("upgrade:") for problem in revision.problems):
        return  # what the upgrade created is unknown (not-linted says so): every drop would look like data loss
    created, added = revision.own.tables, revision.own.added_columns
    for st in revision.downgrade:
        node = st.node
        if ddl.kind(node) == "DropStmt" and node.removeType == ObjectType.OBJECT_TABLE:
            for name in ddl.names(node):
                if ddl.short(name) not in created:
                    yield Hit("downgrade-drops-data", st, "drop-table", name, [ddl.short(name)], f"table {name}")
        elif ddl.kind(node) == "AlterTableStmt":
            table = ddl.table(node.relation)
            short = ddl.short(table)
            for cmd in node.cmds:
                if cmd.subtype == AT.AT_DropColumn and (short, cmd.name) not in added and short not in created:
                    yield Hit(
                        "downgrade-drops-data",
                        st,
                        "drop-column",
                        table,
                        [short, cmd.name],
                        f"column {short}.{cmd.name}",
                    )


DOWNGRADE_DROPS_DATA = Rule(
    "downgrade-drops-data",
    "rollback",
    "error",
    "The downgrade drops a table or column the upgrade did not create: rolling back deletes data that existed before.",
    "Make the downgrade undo only what the upgrade did; keep pre-existing data.",
    bad=Example(
        "ALTER TABLE users ADD COLUMN nickname text",
        downgrade="ALTER TABLE users DROP COLUMN nickname; ALTER TABLE users DROP COLUMN email",
    ),
    good=Example("ALTER TABLE users ADD COLUMN nickname text", downgrade="ALTER TABLE users DROP COLUMN nickname"),
    detect=_drops_data,
    about="downgrade",
)

RULES = [EMPTY_DOWNGRADE, DOWNGRADE_DROPS_DATA]
