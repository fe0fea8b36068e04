"""How one table is filled: which columns get values and from what, which foreign keys draw
from which parent keys, and the rows of each batch as COPY text."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ..pg.connect import query_all
from .catalog import ForeignKey, Table
from .limits import Limits, read_limits
from .partitions import key_pool
from .values import ColumnValues, Unsupported, column_values, copy_text

_PARENT_KEYS = 100_000  # keys a reference draws from (the parent's first, in key order)
_NUMERIC = {"int2", "int4", "int8", "numeric", "float4", "float8"}


@dataclass
class Reference:
    """A foreign key's columns and the parent keys they draw from (raw text tuples); ``unique``:
    each key used once (a one-to-one reference); ``own``: keys of rows this table gets, drawn
    from the rows made before (a self-reference)."""

    fk: ForeignKey
    nullable: bool
    keys: list[tuple[str, ...]] = field(default_factory=list)
    unique: bool = False
    own: ColumnValues | None = None
    null_only: bool = False  # a cycle broken here: NULL until the parent has rows

    def draw(self, rng: random.Random, start: int, count: int, share: float) -> tuple[list[list[str]], int]:
        width = len(self.fk.columns)
        if self.null_only:
            return [["\\N"] * count for _ in range(width)], 0
        if self.own is not None:
            made = [self.own.unique(rng.randint(0, start + i)) for i in range(count)]
            picked = [(copy_text(v),) for v in made]
        elif self.unique:
            picked = [tuple(map(copy_text, self.keys[start + i])) for i in range(count)]
        else:
            escaped = [tuple(map(copy_text, key)) for key in self.keys]
            picked = rng.choices(escaped, k=count)
        edge_count = 0
        if not self.unique and self.own is None and share and count:
            edge_count = round(count * share)
            hot = picked[0] if picked else None
            for position in rng.sample(range(count), edge_count):
                picked[position] = ("\\N",) * width if self.nullable and rng.random() < 0.5 else hot
        return [[key[k] for key in picked] for k in range(width)], edge_count


class Filler:
    """The plan for filling ``table`` with ``asked`` more rows."""

    def __init__(self, conn, table: Table, asked: int, seed: int, edge_share: float):
        self.table, self.asked, self.share = table, asked, edge_share
        self.rng = random.Random(f"{seed}:{table.label}")
        self.floor = table.rows
        self.references: list[Reference] = []
        self.values: dict[str, ColumnValues] = {}
        self.capacity: int | None = None
        limits = read_limits(table.checks + [check for c in table.columns for check in c.checks])
        referencing = {c for fk in table.foreign_keys for c in fk.columns}
        leads = self._unique_leads(referencing)
        for column in table.generated_columns:
            if column.name in referencing:
                continue
            floor = self._floor(conn, column) if column.name in leads else self.floor
            try:
                made = column_values(column, limits.get(column.name, Limits()), self.rng, column.name in leads, floor)
            except Unsupported:
                if column.not_null and not column.has_default:
                    raise
                continue  # left to its default, or NULL
            self.values[column.name] = made
            if made.capacity is not None:
                self.capacity = min(made.capacity, self.capacity or made.capacity)
        if len(table.partition_key) == 1 and (key := self.values.get(table.partition_key[0])) and not key.unique:
            pool = key_pool(key.column.base, table.partition_bounds, self.rng)
            if pool is not None:
                key.pool, key.edges = [copy_text(v) for v in pool], []

    def _unique_leads(self, referencing: set[str]) -> set[str]:
        """One column per unique set made unique by row number; sets that are a reference's
        columns make that reference use each parent key once."""
        leads: set[str] = set()
        self.one_to_one: set[int] = set()
        for columns in self.table.unique:
            if any(self.table.column(c).skipped for c in columns) or leads & set(columns):
                continue
            lead = next((c for c in columns if c not in referencing), None)
            if lead is not None:
                leads.add(lead)
                continue
            for index, fk in enumerate(self.table.foreign_keys):
                if set(columns) <= set(fk.columns):
                    self.one_to_one.add(index)
                    break
        return leads

    def _floor(self, conn, column) -> int:
        if column.base not in _NUMERIC or column.array:
            return self.floor
        ((highest,),) = query_all(conn, f'SELECT max("{column.name}") FROM {self.table.name}')
        return max(int(highest), 0) if highest is not None else 0

    def link(self, conn, index: int, deferred: bool, fillers: dict[str, Filler]) -> str | None:
        """Set up the ``index``-th foreign key's keys; what keeps it from being filled, if anything."""
        fk = self.table.foreign_keys[index]
        nullable = all(not self.table.column(c).not_null for c in fk.columns)
        reference = Reference(fk, nullable, unique=index in self.one_to_one)
        self.references.append(reference)
        if fk.parent == self.table.name and len(fk.columns) == 1:
            own = self.values.get(fk.parent_columns[0])
            if own is not None and own.unique is not None:
                reference.own = own
                return None
        if deferred:
            parent = fillers.get(fk.parent)
            made = [parent.values.get(c) for c in fk.parent_columns] if parent else []
            if nullable or not made or any(m is None or m.unique is None for m in made):
                if nullable:
                    reference.null_only = True
                    return None
                return f"{', '.join(fk.columns)}: references rows of {fk.parent} that are not there yet"
            reference.keys = [tuple(m.unique(i) for m in made) for i in range(min(parent.rows, _PARENT_KEYS))]
        else:
            columns = ", ".join(f'"{c}"' for c in fk.parent_columns)
            texts = ", ".join(f'"{c}"::text' for c in fk.parent_columns)
            present = " AND ".join(f'"{c}" IS NOT NULL' for c in fk.parent_columns)
            rows = query_all(
                conn, f"SELECT {texts} FROM {fk.parent} WHERE {present} ORDER BY {columns} LIMIT {_PARENT_KEYS}"
            )
            reference.keys = [tuple(row) for row in rows]
        if reference.unique:
            self.rng.shuffle(reference.keys)
            self.capacity = min(len(reference.keys), self.capacity or len(reference.keys))
        if not reference.keys:
            if nullable:
                reference.null_only = True
                return None
            return f"{', '.join(fk.columns)}: {fk.parent} has no rows to reference"
        return None

    @property
    def rows(self) -> int:
        """Rows it will make: what was asked, or fewer when unique values run out."""
        return self.asked if self.capacity is None else max(0, min(self.asked, self.capacity - self.floor))

    @property
    def columns(self) -> list[str]:
        return list(self.values) + [c for r in self.references for c in r.fk.columns]

    def batch(self, start: int, count: int) -> tuple[str, int]:
        """COPY text for the rows numbered ``start`` to ``start + count`` of this fill, and the
        edge-case values in it."""
        fields: list[list[str]] = []
        edge_count = 0
        for values in self.values.values():
            drawn, picked = values.draw(self.rng, start, count, self.share)
            fields.append(drawn)
            edge_count += picked
        for reference in self.references:
            drawn, picked = reference.draw(self.rng, start, count, self.share)
            fields.extend(drawn)
            edge_count += picked
        return "".join("\t".join(row) + "\n" for row in zip(*fields, strict=True)), edge_count
