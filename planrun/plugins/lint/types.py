"""Whether a column type change rewrites the table: PostgreSQL skips the rewrite (and the
index rebuild) when the new type is binary-compatible with the old one, so widening a
varchar, varchar -> text or widening a numeric's precision take only a brief lock.

The old type comes from the history (the CREATE TABLE or ADD COLUMN an earlier revision of
the lint run emitted) or from ``existing_type=`` in the revision's ``op.alter_column`` call."""

from __future__ import annotations

import re

Spec = tuple[str, tuple[int, ...], bool]  # name, modifiers, is_array

ALIASES = {
    "character varying": "varchar",
    "int": "int4",
    "integer": "int4",
    "bigint": "int8",
    "smallint": "int2",
    "decimal": "numeric",
    "bit varying": "varbit",
}

# SQLAlchemy type names as written in existing_type=..., to PostgreSQL's
_SQLALCHEMY = {
    "string": "varchar",
    "varchar": "varchar",
    "unicode": "varchar",
    "text": "text",
    "unicodetext": "text",
    "numeric": "numeric",
    "decimal": "numeric",
    "integer": "int4",
    "int": "int4",
    "biginteger": "int8",
    "bigint": "int8",
    "smallinteger": "int2",
    "smallint": "int2",
    "boolean": "bool",
    "inet": "inet",
    "cidr": "cidr",
}


def binary_compatible(old: Spec, new: Spec) -> bool:
    old_name, old_mods, old_array = old
    new_name, new_mods, new_array = new
    old_name, new_name = ALIASES.get(old_name, old_name), ALIASES.get(new_name, new_name)
    if old_array != new_array:
        return False
    if (old_name, old_mods) == (new_name, new_mods):
        return True
    if old_name == new_name and old_name in ("varchar", "varbit"):
        return not new_mods or (bool(old_mods) and new_mods[0] >= old_mods[0])
    if old_name == "varchar" and new_name == "text":
        return True
    if old_name == "text" and new_name == "varchar":
        return not new_mods
    if old_name == new_name == "numeric":
        if not new_mods:
            return True
        if not old_mods:
            return False
        old_scale = old_mods[1] if len(old_mods) > 1 else 0
        new_scale = new_mods[1] if len(new_mods) > 1 else 0
        return new_scale == old_scale and new_mods[0] >= old_mods[0]
    return old_name == "cidr" and new_name == "inet"


def describe(spec: Spec) -> str:
    name, mods, array = spec
    return f"{name}{'(' + ','.join(map(str, mods)) + ')' if mods else ''}{'[]' if array else ''}"


def from_sqlalchemy(text: str) -> Spec | None:
    """``sa.String(length=50)`` -> ("varchar", (50,), False); None when not understood."""
    match = re.fullmatch(r"\s*(?:[A-Za-z_]\w*\.)*([A-Za-z_]\w*)\s*(?:\((.*)\))?\s*", text, re.S)
    if not match or match[1].lower() not in _SQLALCHEMY:
        return None
    mods = []
    for argument in (match[2] or "").split(","):
        value = argument.split("=")[-1].strip()
        if value.isdigit():
            mods.append(int(value))
        elif value and value != "None" and "=" not in argument:
            return None
    return _SQLALCHEMY[match[1].lower()], tuple(mods), False
