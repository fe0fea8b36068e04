"""One column's generated values: a pool of ordinary values to draw from, the edge cases that
fit the column, and, for columns that must be unique, a value made from the row's number (so
no two rows collide, whatever the seed). Everything is drawn from the generator's seeded
``random.Random``, so a seed gives the same values on every database in the same state.
"""

from __future__ import annotations

import ipaddress
import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from . import edges
from .catalog import Column
from .limits import Limits

NULL = "\\N"
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_POOL = 4096
_LETTERS = string.ascii_lowercase
_TEXT = {"text", "varchar", "bpchar", "name", "citext"}
_EPOCH = datetime(2000, 1, 1)


class Unsupported(ValueError):
    """A column planrun cannot make values for (a type it does not know, and no way to leave it out)."""


def copy_text(value: str | None) -> str:
    """A raw value as a field of COPY's text format."""
    return NULL if value is None else value.translate(_ESCAPES)


@dataclass
class ColumnValues:
    """What one column draws from. ``unique(i)`` is the value of the row numbered ``i``; it is
    None for columns whose values may repeat, and ``capacity`` says how many distinct values it
    can make (None: as many as asked)."""

    column: Column
    pool: list[str]  # COPY-escaped
    edges: list[str]  # COPY-escaped; the first repeated value (a hot key) among them
    unique: Callable[[int], str] | None = None
    capacity: int | None = None

    def draw(self, rng: random.Random, start: int, count: int, share: float) -> tuple[list[str], int]:
        """``count`` values for the rows numbered from ``start``, and how many are edge cases."""
        if self.unique is not None:
            return [copy_text(self.unique(start + i)) for i in range(count)], 0
        values = rng.choices(self.pool, k=count)
        picked = round(count * share) if self.edges else 0
        for position in rng.sample(range(count), picked) if picked else ():
            values[position] = rng.choice(self.edges)
        return values, picked


def column_values(column: Column, limits: Limits, rng: random.Random, unique: bool, floor: int = 0) -> ColumnValues:
    """How ``column`` is filled; ``floor`` is the row number unique values start above (its rows
    so far, or the largest integer key already there)."""
    if column.array:
        return _array(column, limits, rng)
    raw, edge_values, make_unique, capacity = _scalar(column, limits, rng, floor)
    if limits.choices:
        raw, edge_values = list(limits.choices), []
        make_unique = (lambda i: limits.choices[i]) if unique else None
        capacity = len(limits.choices)
    if unique and make_unique is None:
        raise Unsupported(f"{column.name} ({column.type}) must be unique and planrun cannot make unique values of it")
    hot = raw[0] if raw else None
    edge_values = [e for e in edge_values if e is not None or not column.not_null] + [hot]
    if not column.not_null and None not in edge_values:
        edge_values.append(None)
    return ColumnValues(
        column,
        [copy_text(v) for v in raw],
        [copy_text(v) for v in edge_values],
        make_unique if unique else None,
        capacity if unique else None,
    )


def _array(column: Column, limits: Limits, rng: random.Random) -> ColumnValues:
    element = Column(column.name, column.type, column.base, length=column.length, labels=column.labels)
    raw, edge_values, _, _ = _scalar(element, Limits(), rng, 0)
    quoted = ['"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in raw]
    pool = ["{" + ",".join(rng.choices(quoted, k=rng.randint(0, 4))) + "}" for _ in range(_POOL)]
    edge_arrays = ["{}", "{NULL}", "{" + ",".join([quoted[0]] * 10) + "}"]
    edge_arrays += ['{"' + e.replace("\\", "\\\\").replace('"', '\\"') + '"}' for e in edge_values if e is not None]
    if not column.not_null:
        edge_arrays.append(None)
    return ColumnValues(column, [copy_text(v) for v in pool], [copy_text(v) for v in edge_arrays])


def _scalar(column: Column, limits: Limits, rng: random.Random, floor: int):
    """(ordinary raw values, edge values, unique maker or None, unique capacity or None)."""
    base = column.base
    if base in edges.INTEGER_RANGES or base in ("numeric", "float4", "float8"):
        return _numbers(column, limits, rng, floor)
    if base in _TEXT:
        return _text(column, limits, rng, floor)
    maker = _OTHER.get(base)
    if maker is None and column.labels:
        maker = _enum
    if maker is None:
        raise Unsupported(f"{column.name}: planrun does not generate values of type {column.type}")
    return maker(column, rng, floor)


def _numbers(column: Column, limits: Limits, rng: random.Random, floor: int):
    base, scale = column.base, column.scale or 0
    if base in edges.INTEGER_RANGES:
        low, high = (Decimal(v) for v in edges.INTEGER_RANGES[base])
        scale = 0
    elif base == "numeric" and column.precision is not None:
        top = Decimal(10) ** (column.precision - scale) - Decimal(1).scaleb(-scale)
        low, high = -top, top
    else:
        low, high = Decimal(-(10**15)), Decimal(10**15)
        scale = 2 if base == "numeric" else 3
    low = max(low, limits.low) if limits.low is not None else low
    high = min(high, limits.high) if limits.high is not None else high
    step = Decimal(1).scaleb(-scale)
    low = low.quantize(step, rounding=ROUND_CEILING)
    high = high.quantize(step, rounding=ROUND_FLOOR)
    if low > high:
        raise Unsupported(f"{column.name}: its checks allow no value of {column.type}")
    typical_low, typical_high = max(low, Decimal(0)), min(high, Decimal(1_000_000))
    if typical_low > typical_high:
        typical_low, typical_high = low, high
    span = float(typical_high - typical_low)
    pool = [
        f"{typical_low + Decimal(rng.random() * span).quantize(step, rounding=ROUND_FLOOR):.{scale}f}"
        for _ in range(_POOL)
    ]
    edge_values = [
        v
        for v in edges.numbers(base, column.precision, column.scale)
        if v in ("NaN", "Infinity", "-Infinity")
        and limits.low is None
        and limits.high is None
        or v not in ("NaN", "Infinity", "-Infinity")
        and limits.allows(Decimal(v))
    ]
    start = max(low, Decimal(floor + 1))

    def unique(i: int) -> str:
        return str(start + i) if scale == 0 else f"{start + i:.{scale}f}"

    return pool, edge_values, unique, max(int(high - start) + 1, 0)


def _text(column: Column, limits: Limits, rng: random.Random, floor: int):
    cap = min(filter(None, [column.length, limits.max_length, 63 if column.base == "name" else None]), default=None)
    shortest = max(limits.min_length, 1 if limits.not_empty else 0)
    if cap is not None and shortest > cap:
        raise Unsupported(f"{column.name}: its checks allow no value of {column.type}")
    longest = min(cap or 24, 24)
    email = "email" in column.name.lower()

    def word() -> str:
        if email:
            return "".join(rng.choices(_LETTERS, k=rng.randint(3, 10))) + "@example.com"
        return "".join(rng.choices(_LETTERS, k=rng.randint(max(shortest, 1), max(longest, shortest, 1))))

    pool = [_fit(word(), shortest, cap) for _ in range(_POOL)]
    widest = cap if cap is not None else 3000
    candidates = edges.TEXT + ["x" * widest, "é" * widest, "🙂" * min(widest, 1000)]
    edge_values = [_fit(e, 0, cap) for e in candidates]
    edge_values = list(dict.fromkeys(e for e in edge_values if len(e) >= shortest))
    tag = column.name[:3].lower() or "r"

    def unique(i: int) -> str:
        number = floor + i
        value = f"user{number}@example.com" if email else f"{tag}-{number}"
        if cap is not None and len(value) > cap:
            value = _base36(number)
        return value.ljust(shortest, "x")

    capacity = 36**cap if cap is not None and cap < 12 else None
    return pool, edge_values, unique, capacity


def _fit(value: str, shortest: int, cap: int | None) -> str:
    value = value[:cap] if cap is not None else value
    return value.ljust(shortest, "x")


def _base36(number: int) -> str:
    digits = ""
    while True:
        number, rest = divmod(number, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[rest] + digits
        if not number:
            return digits


def _uuid(column, rng, floor):
    def make(_: int = 0) -> str:
        bits = f"{rng.getrandbits(128):032x}"
        return f"{bits[:8]}-{bits[8:12]}-{bits[12:16]}-{bits[16:20]}-{bits[20:]}"

    return [make() for _ in range(_POOL)], edges.UUID, make, None


def _bool(column, rng, floor):
    return ["t", "f"], [], lambda i: "tf"[i], 2


def _enum(column, rng, floor):
    labels = column.labels
    return list(labels), [], lambda i: labels[i], len(labels)


def _moment(kind: str):
    def make(column, rng, floor):
        seconds = 30 * 365 * 86400
        if kind == "date":
            pool = [(_EPOCH + timedelta(days=rng.randrange(seconds // 86400))).date().isoformat() for _ in range(_POOL)]
            first = date(2000, 1, 1) + timedelta(days=floor)
            return pool, edges.DATE, lambda i: (first + timedelta(days=i)).isoformat(), 2_900_000
        moments = [
            _EPOCH + timedelta(seconds=rng.randrange(seconds), microseconds=rng.randrange(10**6)) for _ in range(_POOL)
        ]
        if kind in ("time", "timetz"):
            zone = "+00" if kind == "timetz" else ""
            pool = [m.time().isoformat() + zone for m in moments]
            day = 86_400 * 10**6
            unique = lambda i: str((datetime.min + timedelta(microseconds=(floor + i) % day)).time()) + zone
            return pool, edges.TIMETZ if zone else edges.TIME, unique, day
        zone = "+00" if kind == "timestamptz" else ""
        pool = [m.isoformat(sep=" ") + zone for m in moments]
        unique = lambda i: (_EPOCH + timedelta(seconds=floor + i)).isoformat(sep=" ") + zone
        return pool, edges.TIMESTAMPTZ if zone else edges.TIMESTAMP, unique, None

    return make


def _interval(column, rng, floor):
    pool = [f"{rng.randrange(10**7)} seconds" for _ in range(_POOL)]
    return pool, edges.INTERVAL, lambda i: f"{floor + i} seconds", None


def _json(column, rng, floor):
    def document() -> str:
        word = "".join(rng.choices(_LETTERS, k=rng.randint(3, 10)))
        return f'{{"id": {rng.randrange(10**6)}, "name": "{word}", "tags": ["{word[:3]}"], "active": true}}'

    return [document() for _ in range(_POOL)], edges.JSON, lambda i: f'{{"id": {floor + i}}}', None


def _bytea(column, rng, floor):
    pool = [f"\\x{rng.getrandbits(64):016x}" for _ in range(_POOL)]
    return pool, edges.BYTEA, lambda i: f"\\x{floor + i:016x}", None


def _inet(column, rng, floor):
    pool = [str(ipaddress.IPv4Address(rng.getrandbits(32))) for _ in range(_POOL)]
    return pool, edges.INET, lambda i: str(ipaddress.IPv4Address(floor + i + 1)), 2**32 - 1


def _cidr(column, rng, floor):
    pool = [f"10.{rng.randrange(256)}.{rng.randrange(256)}.0/24" for _ in range(_POOL)]
    return pool, edges.CIDR, lambda i: f"{ipaddress.IPv4Address(floor + i)}/32", 2**32


def _macaddr(column, rng, floor):
    def mac(number: int) -> str:
        return ":".join(f"{number:012x}"[k : k + 2] for k in range(0, 12, 2))

    return [mac(rng.getrandbits(48)) for _ in range(_POOL)], edges.MACADDR, lambda i: mac(floor + i), 2**48


_OTHER = {
    "uuid": _uuid,
    "bool": _bool,
    "date": _moment("date"),
    "timestamp": _moment("timestamp"),
    "timestamptz": _moment("timestamptz"),
    "time": _moment("time"),
    "timetz": _moment("timetz"),
    "interval": _interval,
    "json": _json,
    "jsonb": _json,
    "bytea": _bytea,
    "inet": _inet,
    "cidr": _cidr,
    "macaddr": _macaddr,
    "enum": _enum,
}
