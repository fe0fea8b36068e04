"""How a table's data fingerprint line changed, in words a reviewer reads ("12 rows missing
(50 -> 38, keys id 1..50 -> 1..38); column fullname: 50 values -> 0"): counts only, never a
value (the data may be production's). The one reader of the line's format."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from planrun.plugin import Snapshot

_DATA_LINE = re.compile(
    r"^(?P<rows>\d+) rows hash (?P<hash>-?\d+)(?:; values (?P<values>.*?))?(?:; keys (?P<keys>\S+ \S+))?"
    r"(?:; varying (?P<varying>.*?))?(?:; steady (?P<steady>-?\d+))?(?:; columns (?P<columns>.*?))?"
    r"(?:; rows ?(?P<row_hashes>.*))?$"
)


@dataclass
class DataLine:
    """A table's data fingerprint line, read (see ``fingerprint.data_fingerprint``)."""

    rows: int
    hash: str
    values: dict[str, int]  # per column, its count of values
    keys: str | None
    varying: list[str]  # columns filled by a default that is not a constant (stairway only)
    steady: str | None  # the hash without them
    column_hashes: dict[str, str] | None  # small tables (stairway only)
    row_hashes: list[str] | None


def _pairs(text: str | None) -> dict[str, str]:
    return {
        name: value for name, _, value in (item.rpartition("=") for item in (text or "").split(", ") if "=" in item)
    }


def read_line(text: str) -> DataLine | None:
    match = _DATA_LINE.match(text)
    if match is None:
        return None
    return DataLine(
        int(match["rows"]),
        match["hash"],
        {name: int(n) for name, n in _pairs(match["values"]).items()},
        match["keys"],
        match["varying"].split(", ") if match["varying"] else [],
        match["steady"],
        _pairs(match["columns"]) if match["columns"] is not None else None,
        match["row_hashes"].split() if match["row_hashes"] is not None else None,
    )


def explain(key: str, before: str, after: str) -> str:
    """For :class:`~planrun.engine.snapshot.Snapshot`: a table's line in words, others as they are."""
    return describe_data_change(before, after) if key.startswith("table ") else f"{before} -> {after}"


def describe_data_change(before: str, after: str) -> str:
    """``12 rows missing (50 -> 38); column fullname: 50 values -> 0`` from two data
    fingerprint lines of one table (scratch data: counts only, never a value)."""
    old, new = read_line(before), read_line(after)
    if old is None or new is None:
        return f"{before} -> {after}"
    parts = []
    span = ""
    if old.keys and new.keys and old.keys != new.keys:
        span = f", keys {old.keys} -> {new.keys.split(' ', 1)[1]}"
    if new.rows < old.rows:
        parts.append(f"{old.rows - new.rows} rows missing ({old.rows} -> {new.rows}{span})")
    elif new.rows > old.rows:
        parts.append(f"{new.rows - old.rows} rows more ({old.rows} -> {new.rows}{span})")
    for column in sorted(set(old.values) | set(new.values)):
        a, b = old.values.get(column), new.values.get(column)
        if a != b and a is not None and b is not None and not (a == old.rows and b == new.rows):
            parts.append(f"column {column}: {a} values -> {b}")
    if not parts:
        parts.append(_in_place(old, new))
    elif old.hash != new.hash and old.rows == new.rows:
        parts.append("and values changed")
    return "; ".join(parts)


def _in_place(old: DataLine, new: DataLine) -> str:
    """``values changed in place: 1 of 3 rows, in column created_at`` where the lines say it."""
    if old.column_hashes is None or new.column_hashes is None:
        return (
            f"values changed in place ({new.rows} rows in the table, every column as full as before; "
            "the rows and columns are named for tables of up to 1000 rows)"
        )
    columns = sorted(
        c
        for c in set(old.column_hashes) | set(new.column_hashes)
        if old.column_hashes.get(c) != new.column_hashes.get(c)
    )
    where = f"in column{'s' if len(columns) > 1 else ''} {', '.join(columns)}" if columns else "in no single column"
    changed = new.rows - sum((Counter(old.row_hashes or []) & Counter(new.row_hashes or [])).values())
    rows = f"{changed} of {new.rows} rows" if changed else "the rows' values swapped between rows"
    return f"values changed in place: {rows}, {where}"


def without_varying(snapshot: Snapshot) -> Snapshot:
    """The data snapshot as the repeatability comparison sees it: a table with varying columns
    compared by its steady hash, their per-column hashes left out."""
    lines = []
    for item in snapshot.items:
        key, _, text = item.partition(": ")
        line = read_line(text) if key.startswith("table ") else None
        if line is None or not line.varying:
            lines.append(item)
            continue
        text = text.replace(f" rows hash {line.hash};", f" rows hash {line.steady or 0};", 1)
        if line.keys and line.keys.split(" ", 1)[0] in line.varying:  # a sequence's keys: new ones each time
            text = text.replace(f"; keys {line.keys}", "", 1)
        if line.column_hashes is not None:
            kept = ", ".join(f"{c}={h}" for c, h in line.column_hashes.items() if c not in line.varying)
            text = re.sub(r"; columns .*?(?=; rows|$)", f"; columns {kept}", text, count=1)
        lines.append(f"{key}: {text}")
    import hashlib

    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return Snapshot(digest, tuple(lines), snapshot.explain, snapshot.subject, snapshot.covers, snapshot.covers_what)


def varying_changed(before: Snapshot, after: Snapshot) -> list[str]:
    """The varying columns (``public.projects.created_at``) whose values differ between two data
    snapshots: by their column hashes where the lines have them, else every varying column of a
    table whose line differs."""
    old = dict(item.split(": ", 1) for item in before.items if ": " in item)
    found = []
    for item in after.items:
        key, _, text = item.partition(": ")
        line, earlier = read_line(text), read_line(old.get(key, ""))
        if line is None or earlier is None or text == old[key]:
            continue
        for column in line.varying:
            if (
                line.column_hashes is None
                or earlier.column_hashes is None
                or (line.column_hashes.get(column) != earlier.column_hashes.get(column))
            ):
                found.append(f"{key.removeprefix('table ')}.{column}")
    return found
