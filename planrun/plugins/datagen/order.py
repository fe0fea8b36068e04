"""The order tables are filled in: parents before the tables that reference them. A cycle of
foreign keys is broken at a reference whose columns may be NULL (its rows get NULL there), or
else at a deferrable one (checked at commit, when both tables are filled)."""

from __future__ import annotations

from .catalog import ForeignKey, Table


def fill_order(tables: list[Table]) -> tuple[list[Table], set[tuple[str, int]], list[str]]:
    """The tables in order; the references left for later (table name, index of the foreign
    key), filled NULL or with keys the parent is yet to get; and what could not be ordered."""
    names = {t.name: t for t in tables}
    pending = {
        t.name: {i for i, fk in enumerate(t.foreign_keys) if fk.parent in names and fk.parent != t.name} for t in tables
    }
    ordered: list[Table] = []
    deferred: set[tuple[str, int]] = set()
    problems: list[str] = []
    done: set[str] = set()
    while len(done) < len(tables):
        ready = [t for t in tables if t.name not in done and all(_parent(t, i) in done for i in pending[t.name])]
        if not ready:
            link = _weakest_link(tables, pending, done, nullable=True) or _weakest_link(
                tables, pending, done, nullable=False
            )
            if link is None:
                stuck = sorted(t.label for t in tables if t.name not in done)
                problems.append(f"{', '.join(stuck)}: a cycle of NOT NULL, not deferrable foreign keys")
                break
            table, index = link
            pending[table.name].discard(index)
            deferred.add((table.name, index))
            continue
        for table in ready:
            ordered.append(table)
            done.add(table.name)
    return ordered, deferred, problems


def _parent(table: Table, index: int) -> str:
    return table.foreign_keys[index].parent


def _nullable(table: Table, fk: ForeignKey) -> bool:
    return all(not table.column(c).not_null for c in fk.columns)


def _weakest_link(tables, pending, done, nullable: bool):
    for table in tables:
        if table.name in done:
            continue
        for index in sorted(pending[table.name]):
            fk = table.foreign_keys[index]
            if fk.parent not in done and (_nullable(table, fk) if nullable else fk.deferrable):
                return table, index
    return None
