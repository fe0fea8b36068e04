"""Writes other transactions made, during the run, to the tables a restore is about to replace.

A restore puts back the backup's rows; whatever the application wrote to those tables since the
backup would go with them. Before restoring, every row of those tables is looked at: one whose
``xmin`` (the transaction that wrote it) is neither visible in the backup's own snapshot nor one
of the run's own transactions (:class:`RunTransactions`, read inside each before it committed)
was written by someone else. Deletes leave no row to look at: the server's delete counters are
compared instead (now, at the backup, and the run's own).

What then happens is ``rollback.concurrent_writes``: ``refuse`` (nothing is restored over them;
the run ends with exit 3 naming the tables), ``keep`` (a table-scoped restore merges by key: the
run's own changes are undone, other writers' rows stay) or ``discard`` (restore anyway, saying
how many rows go).

Limits, said where they apply: rows written inside a SAVEPOINT carry the savepoint's own id and
look like another writer's (a false alarm, never a loss); another session's delete counters
reach the server about a second after its commit; deletes of a run transaction that was rolled
back are not counted, so deletes by others cannot then be told from it (reported, not refused).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from planrun.plugin import StepFailed

from ..facts import RunTransactions
from ..pg.connect import query_all, quote_ident

# a row's xmin as a 64-bit transaction id (the epoch taken from the newest id now: every row's is older)
_FULL = (
    "(CASE WHEN {row}.xmin::text::bigint <= (r.now %% 4294967296) "
    "THEN (r.now / 4294967296) * 4294967296 ELSE (r.now / 4294967296 - 1) * 4294967296 END "
    "+ {row}.xmin::text::bigint)"
)
_NOW = (
    "(SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS now, %s::pg_snapshot AS snapshot, "
    "age((pg_snapshot_xmin(%s::pg_snapshot)::text::bigint %% 4294967296)::text::xid) AS window) r"
)


def by_others(row: str, snapshot: str, own: tuple[int, ...]) -> tuple[str, str, tuple]:
    """SQL for "``row`` was written by another transaction after the backup": the FROM item it
    needs, the condition, and its parameters."""
    full = _FULL.format(row=row)
    # age() first: integer arithmetic that leaves out, cheaply, every row older than the backup's
    # snapshot (nearly all of them; frozen rows too), before the exact test of the few left
    condition = (
        f"age({row}.xmin) <= r.window AND {row}.xmin::text::bigint >= 3 "
        f"AND NOT pg_visible_in_snapshot({full}::text::xid8, r.snapshot) AND {full} <> ALL(%s::bigint[])"
    )
    return _NOW, condition, (snapshot, snapshot, list(own))


@dataclass
class Policy:
    """What a restore does about rows other transactions wrote during the run: the run's own
    transactions (to tell them apart), ``rollback.concurrent_writes``, and, filled in by a
    ``keep`` restore, the tables where other writers' rows were kept. ``planrun restore``,
    asked for by hand, discards them."""

    own: RunTransactions | None = None
    concurrent_writes: str = "discard"
    kept: list[str] = field(default_factory=list)


@dataclass
class OtherWrites:
    table: str
    rows: int  # rows inserted or updated by others (as they are now)
    deleted: int | None  # rows others deleted; None: cannot be told (a run transaction that wrote was rolled back)

    def describe(self) -> str:
        parts = [f"{self.rows} row(s) written"] if self.rows else []
        if self.deleted:
            parts.append(f"{self.deleted} deleted")
        elif self.deleted is None:
            parts.append("rows perhaps deleted")
        return f"{self.table}: {' and '.join(parts)}"


def find(conn, snapshot: str | None, deletes_then: dict[str, int], tables: list[str], own: RunTransactions | None):
    """Per table of ``tables``, what other transactions wrote since the backup (only tables
    they wrote); ``None`` when the backup recorded no snapshot (taken by an older planrun)."""
    if snapshot is None:
        return None
    own = own or RunTransactions()
    found = []
    query_all(conn, "SELECT pg_stat_clear_snapshot()")
    deletes_now = dict(
        query_all(
            conn, "SELECT quote_ident(schemaname) || '.' || quote_ident(relname), n_tup_del FROM pg_stat_user_tables"
        )
    )
    own_deleted = dict(own.deleted)
    for table in tables:
        source, condition, params = by_others("t", snapshot, own.xids)
        ((rows,),) = query_all(
            conn, f"SELECT count(*) FROM {quote_ident(conn, table)} t, {source} WHERE {condition}", params
        )
        moved = deletes_now.get(table, 0) - deletes_then.get(table, 0) - own_deleted.get(table, 0)
        deleted = None if own.rolled_back_writes and moved > 0 else max(moved, 0)
        if rows or deleted is None or deleted > 0:
            found.append(OtherWrites(table, rows, deleted))
    return found


def certain(found: list[OtherWrites] | None) -> list[OtherWrites]:
    """The writes by others that are known (rows written, or deletes counted for sure)."""
    return [o for o in found or () if o.rows or o.deleted]


def refused(found: list[OtherWrites], whole: bool) -> StepFailed:
    """The refusal of ``rollback.concurrent_writes: refuse`` (or of ``keep`` where it cannot merge)."""
    named = "; ".join(o.describe() for o in found)
    keep = (
        "keep needs a table-scoped backup (backup.scope: touched)"
        if whole
        else "keep (the run's own changes are undone, these rows stay)"
    )
    return StepFailed(
        f"not restored: other transactions wrote to the tables the restore would replace since the backup "
        f"({named}); nothing was restored over them. Choose rollback.concurrent_writes: {keep}, or discard (restore "
        "the backup and lose these writes)"
    )


def uncertain_deletes(found: list[OtherWrites] | None) -> str:
    """What a summary must say when deletes by others could not be told from the run's."""
    unsure = [o.table for o in found or () if o.deleted is None]
    if not unsure:
        return ""
    return (
        f"; rows other transactions deleted from {', '.join(unsure)} during the run, if any, are back: a run "
        "transaction that wrote there was rolled back, so its deletes cannot be told from theirs"
    )


class Kept:
    """What a ``keep`` restore leaves as other writers left it, per table: their rows (by the
    SQL condition of :func:`.others.by_others`), and whether the rows missing now were all
    deleted by them (then none is put back)."""

    def __init__(self, snapshot: str, own, deleted_by_others: set[str]):
        self.snapshot, self.own, self.deleted_by_others = snapshot, own, deleted_by_others

    def condition(self, row: str) -> tuple[str, str, tuple]:
        return by_others(row, self.snapshot, self.own.xids)


def decide(conn, manifest, tables: list[str], own, concurrent_writes: str, has_key) -> tuple[dict, str]:
    """Before the rows are replaced: what other transactions wrote to them since the backup,
    and what ``rollback.concurrent_writes`` makes of it (see :mod:`.others`). Returns the tables
    to merge around them (``keep``) and what the summary must say. ``has_key(table)``: whether
    a table has a primary key to merge by."""
    own = own or RunTransactions()
    found = find(conn, manifest.snapshot, manifest.deletes, tables, own)
    known = certain(found)
    said = uncertain_deletes(found)
    if not known:
        return {}, said
    if concurrent_writes == "refuse":
        raise refused(known, whole=False)
    if concurrent_writes == "discard":
        return {}, "; discarded writes of other transactions (rollback.concurrent_writes: discard): " + "; ".join(
            o.describe() for o in known
        ) + said
    own_deleted = dict(own.deleted)
    for o in known:
        if not has_key(o.table):
            raise StepFailed(
                f"not restored: other transactions wrote to {o.table} during the run and it has no primary key to "
                "keep their rows by (rollback.concurrent_writes: keep); nothing was restored over them"
            )
        if o.deleted and own_deleted.get(o.table):
            raise StepFailed(
                f"not restored: both the run and other transactions deleted rows of {o.table}; which missing rows "
                "are whose cannot be told (rollback.concurrent_writes: keep); nothing was restored over them"
            )
    kept = Kept(manifest.snapshot, own, {o.table for o in known if o.deleted})
    return {o.table: kept for o in known}, "; kept the writes of other transactions: " + "; ".join(
        o.describe() for o in known
    ) + said


def check_kept(cursor, table: str, stage: str, names: list[str], key: list[str], kept: Kept) -> None:
    """After a ``keep`` merge, in its transaction: every row of ``table`` that other
    transactions did not write is a row of the backup (``stage`` holds its rows), and every
    backup row is there unless another transaction holds its key or deleted rows. Compared as
    whole rows (set difference), not by the key the merge used, so a merge that went wrong is
    caught rather than trusted."""
    source, condition, params = kept.condition("t")
    row = "ROW(" + ", ".join(f"{{0}}.{n}" for n in names) + ")::text"
    t = quote_ident(cursor.connection, table)
    cursor.execute(
        f"SELECT count(*) FROM (SELECT {row.format('t')} FROM {t} t, {source} WHERE NOT ({condition}) "
        f"EXCEPT ALL SELECT {row.format('s')} FROM {stage} s) x",
        params,
    )
    extra = cursor.fetchone()[0]
    missing = 0
    if table not in kept.deleted_by_others:
        match = " AND ".join(f"t.{k} = s.{k}" for k in key)
        cursor.execute(
            f"SELECT count(*) FROM (SELECT {row.format('s')} FROM {stage} s WHERE NOT EXISTS "
            f"(SELECT 1 FROM {t} t, {source} WHERE {match} AND {condition}) "
            f"EXCEPT ALL SELECT {row.format('t')} FROM {t} t) x",
            params,
        )
        missing = cursor.fetchone()[0]
    if extra or missing:
        raise StepFailed(
            f"the merge that kept other transactions' writes left {table} unlike the backup: {extra} row(s) that "
            f"are not the backup's, {missing} of the backup's missing"
        )
