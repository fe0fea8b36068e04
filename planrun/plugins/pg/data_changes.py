"""How a table's data fingerprint line changed, in words a reviewer reads ("12 rows missing
(50 -> 38, keys id 1..50 -> 1..38); column fullname: 50 values -> 0"): counts only, never a
value (the data may be production's)."""

from __future__ import annotations

import re


def explain(key: str, before: str, after: str) -> str:
    """For :class:`~planrun.engine.snapshot.Snapshot`: a table's line in words, others as they are."""
    return describe_data_change(before, after) if key.startswith("table ") else f"{before} -> {after}"


_DATA_LINE = re.compile(
    r"^(?P<rows>\d+) rows hash (?P<hash>-?\d+)(?:; values (?P<values>.*?))?(?:; keys (?P<keys>\S+ \S+))?$"
)


def describe_data_change(before: str, after: str) -> str:
    """``12 rows missing (50 -> 38); column fullname: 50 values -> 0`` from two data
    fingerprint lines of one table (scratch data: counts only, never a value)."""
    old, new = _DATA_LINE.match(before), _DATA_LINE.match(after)
    if old is None or new is None:
        return f"{before} -> {after}"
    parts = []
    rows_before, rows_after = int(old["rows"]), int(new["rows"])
    span = ""
    if old["keys"] and new["keys"] and old["keys"] != new["keys"]:
        span = f", keys {old['keys']} -> {new['keys'].split(' ', 1)[1]}"
    if rows_after < rows_before:
        parts.append(f"{rows_before - rows_after} rows missing ({rows_before} -> {rows_after}{span})")
    elif rows_after > rows_before:
        parts.append(f"{rows_after - rows_before} rows more ({rows_before} -> {rows_after}{span})")

    def counts(match) -> dict[str, int]:
        return {
            name: int(n)
            for name, _, n in (item.rpartition("=") for item in (match["values"] or "").split(", ") if "=" in item)
        }

    values_before, values_after = counts(old), counts(new)
    for column in sorted(set(values_before) | set(values_after)):
        a, b = values_before.get(column), values_after.get(column)
        if a != b and a is not None and b is not None and not (a == rows_before and b == rows_after):
            parts.append(f"column {column}: {a} values -> {b}")
    if not parts:
        parts.append(f"values changed in place ({rows_after} rows, every column as full as before)")
    elif old["hash"] != new["hash"] and rows_before == rows_after:
        parts.append("and values changed")
    return "; ".join(parts)
