"""What the data fingerprint remembers of each table between two snapshots of one database, so
a snapshot hashes only the tables that may have changed. Hashing every row of every table after
every step of the stairway cost more than the migrations themselves.

A table's remembered hash is reused when its catalog signature (the files of the table and of
its inheritance children or partitions, and its column list: ``fingerprint.catalog_signatures``)
is unchanged, and either

- the owner watched every write since the last snapshot (``TableHashes(watched=True)`` and
  :meth:`TableHashes.written` told of each one) and this table was not among them; or
- nothing was watched, and a scan signature (row count and newest row version, ``max(xmin)``)
  is unchanged: every insert or update writes a newer row version, a delete lowers the count.

A TRUNCATE, a rewrite (``ALTER COLUMN TYPE``, ``VACUUM FULL``) or a re-created table gets new
files; adding, dropping or retyping a column changes the column list.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class _Known:
    catalog: tuple
    scan: tuple | None  # None: hashed while watched; an unwatched snapshot hashes it again
    line: str


class TableHashes:
    """``cache = TableHashes(watched=True)``; ``cache.written(tables)`` after every write the
    owner makes (``None`` when it cannot say which tables); pass it to ``data_fingerprint``."""

    def __init__(self, watched: bool = False):
        self.watched = watched
        self._known: dict[str, _Known] = {}
        self._written: set[str] | None = set() if watched else None

    def written(self, tables: set[str] | None) -> None:
        """Tables (``schema.name``) written since the last snapshot; ``None``: unknown."""
        if self._written is None or tables is None:
            self._written = None
        else:
            self._written |= tables

    @property
    def needs_scan(self) -> bool:
        """True when only a scan signature can tell an unchanged table."""
        return self._written is None

    def known(self, table: str, catalog: tuple, scan: tuple | None) -> str | None:
        """The remembered fingerprint line of ``table``, when it still holds."""
        entry = self._known.get(table)
        if entry is None or entry.catalog != catalog:
            return None
        if self._written is None:
            return entry.line if entry.scan is not None and entry.scan == scan else None
        return None if table in self._written else entry.line

    def remember(self, table: str, catalog: tuple, scan: tuple | None, line: str) -> None:
        self._known[table] = _Known(catalog, scan, line)

    def settle(self) -> None:
        """A snapshot was taken: what was written before it is in it."""
        self._written = set() if self.watched else None
