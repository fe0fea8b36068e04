"""Rows for a partitioned table must fall in one of its partitions: the partition key column
draws from inside the partitions' bounds (single-column range and list partitioning), so rows
route without a default partition. Other shapes (hash, several key columns) route on their
own or are counted as refused rows."""

from __future__ import annotations

import random
import re
from datetime import date, datetime, timedelta

_RANGE = re.compile(r"^FOR VALUES FROM \((.+)\) TO \((.+)\)$")
_LIST = re.compile(r"^FOR VALUES IN \((.+)\)$")
_ITEM = re.compile(r"'((?:[^']|'')*)'|([^,\s]+)")


def _items(text: str) -> list[str]:
    return [quoted.replace("''", "'") if quoted or bare == "" else bare for quoted, bare in _ITEM.findall(text)]


def key_pool(base: str, bounds: list[str], rng: random.Random, size: int = 4096) -> list[str] | None:
    """Raw values of the partition key that route to some partition; None when the bounds are
    not single-column ranges or lists, or a default partition takes every row anyway."""
    if not bounds or any(b == "DEFAULT" for b in bounds):
        return None
    listed: list[str] = []
    ranges: list[tuple[str, str]] = []
    for bound in bounds:
        if match := _LIST.match(bound):
            listed += [v for v in _items(match[1]) if v != "NULL"]
        elif (
            (match := _RANGE.match(bound)) and len(low := _items(match[1])) == 1 and len(high := _items(match[2])) == 1
        ):
            ranges.append((low[0], high[0]))
        else:
            return None
    if listed and not ranges:
        return [rng.choice(listed) for _ in range(size)]
    draws = [_between(base, *rng.choice(ranges), rng) for _ in range(size)] if ranges else []
    return [d for d in draws if d is not None] + listed or None


def _between(base: str, low: str, high: str, rng: random.Random) -> str | None:
    """A value in [low, high) of the key's type (MINVALUE/MAXVALUE stand a year or a million away)."""
    if base in ("int2", "int4", "int8"):
        first = int(high) - 1_000_000 if low == "MINVALUE" else int(low)
        last = int(low) + 1_000_000 if high == "MAXVALUE" else int(high)
        return str(rng.randrange(first, last)) if last > first else None
    if base in ("date", "timestamp", "timestamptz"):
        parse = date.fromisoformat if base == "date" else lambda v: datetime.fromisoformat(v.replace(" ", "T"))
        first = parse(high) - timedelta(days=365) if low == "MINVALUE" else parse(low)
        last = parse(low) + timedelta(days=365) if high == "MAXVALUE" else parse(high)
        if base == "date":
            days = (last - first).days
            return (first + timedelta(days=rng.randrange(days))).isoformat() if days > 0 else None
        seconds = int((last - first).total_seconds())
        return (first + timedelta(seconds=rng.randrange(seconds))).isoformat(sep=" ") if seconds > 0 else None
    return None
