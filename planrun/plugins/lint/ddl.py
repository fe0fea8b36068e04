"""Reading pglast statement nodes the way the rules need them: table and object names, column
types, which ALTER TABLE subcommands take an ACCESS EXCLUSIVE lock."""

from __future__ import annotations

from pglast.enums import AlterTableType as AT
from pglast.enums import ConstrType, ObjectType

from ..sql.nodes import called_functions, object_names, relation_name

table = relation_name  # the rules' short names for the shared readers
names = object_names

# ALTER TABLE subcommands that take a lock weaker than ACCESS EXCLUSIVE
WEAKER = {
    AT.AT_ValidateConstraint,  # SHARE UPDATE EXCLUSIVE
    AT.AT_SetStatistics,
    AT.AT_ClusterOn,
    AT.AT_DropCluster,
    AT.AT_AttachPartition,  # SHARE UPDATE EXCLUSIVE on the parent
}
VOLATILE = {
    "random",
    "gen_random_uuid",
    "uuid_generate_v1",
    "uuid_generate_v4",
    "clock_timestamp",
    "timeofday",
    "nextval",
    "txid_current",
    "uuidv7",
}
SERIAL = {"serial", "bigserial", "smallserial", "serial2", "serial4", "serial8"}
DML = {"InsertStmt": "insert", "UpdateStmt": "update", "DeleteStmt": "delete"}


def kind(node) -> str:
    return type(node).__name__


def short(name: str | None) -> str | None:
    return name.split(".")[-1] if name else None


def is_table_alter(node) -> bool:
    return kind(node) == "AlterTableStmt" and node.objtype == ObjectType.OBJECT_TABLE


def takes_access_exclusive(node) -> bool:
    """Whether an ALTER TABLE takes ACCESS EXCLUSIVE (any subcommand stronger than the weaker ones)."""
    for cmd in node.cmds:
        if cmd.subtype in WEAKER:
            continue
        if cmd.subtype == AT.AT_AddConstraint and cmd.def_.contype == ConstrType.CONSTR_FOREIGN:
            continue  # SHARE ROW EXCLUSIVE
        if cmd.subtype == AT.AT_DetachPartition and getattr(cmd.def_, "concurrent", False):
            continue
        return True
    return False


def type_name(type_node) -> str:
    """``pg_catalog.varchar`` -> ``varchar``; ``""`` without a type."""
    return type_node.names[-1].sval.lower() if type_node is not None else ""


def type_spec(type_node) -> tuple[str, tuple[int, ...], bool] | None:
    """(name, modifiers, is_array): ``varchar(50)`` -> ("varchar", (50,), False)."""
    if type_node is None:
        return None
    mods = []
    for mod in type_node.typmods or ():
        value = getattr(getattr(mod, "val", None), "ival", None)
        if value is None:
            return None  # a modifier that is not a number
        mods.append(value)
    return type_name(type_node), tuple(mods), bool(type_node.arrayBounds)


def column_constraints(column) -> set:
    return {constraint.contype for constraint in column.constraints or ()}


def volatile(expr) -> bool:
    """Whether an expression calls a volatile function (a DEFAULT computed for every row)."""
    return bool({name.lower() for name in called_functions(expr)} & VOLATILE)


def passes_over_rows(cmd, validated: set[tuple[str, str]], on: str | None) -> bool:
    """Whether one ALTER TABLE subcommand reads or rewrites every row (a scan or a rewrite;
    several subcommands of one ALTER TABLE share one pass)."""
    sub = cmd.subtype
    if sub == AT.AT_AlterColumnType:
        return True
    if sub == AT.AT_SetNotNull:
        return (short(on), cmd.name) not in validated
    if sub == AT.AT_AddConstraint:
        c = cmd.def_
        if c.contype in (ConstrType.CONSTR_CHECK, ConstrType.CONSTR_FOREIGN):
            return not c.skip_validation
        return c.contype in (ConstrType.CONSTR_UNIQUE, ConstrType.CONSTR_PRIMARY, ConstrType.CONSTR_EXCLUSION) and (
            not c.indexname
        )
    if sub == AT.AT_AddColumn:
        kinds = column_constraints(cmd.def_)
        if type_name(cmd.def_.typeName) in SERIAL or {ConstrType.CONSTR_IDENTITY, ConstrType.CONSTR_GENERATED} & kinds:
            return True
        return any(c.contype == ConstrType.CONSTR_DEFAULT and volatile(c.raw_expr) for c in cmd.def_.constraints or ())
    return False
