"""Filling a database with generated rows: every table in parent-first order, in one
transaction, each batch streamed with COPY.

A batch the server refuses (a CHECK planrun could not read, a collision with rows already
there, a row no partition takes) is sent again through a staging table without constraints,
from which only the rows the table accepts are inserted; the others are counted and reported.
Generation never stops on a refused row, and a table it cannot fill at all is named with the
reason while the rest are filled.
"""

from __future__ import annotations

import io
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg2

from ..pg.connect import connect
from ..pg.fingerprint import DEFAULT_EXCLUDED
from .catalog import Table, read_tables
from .filler import Filler
from .order import fill_order
from .values import Unsupported

BATCH_ROWS = 20_000


@dataclass
class TableOutcome:
    table: str
    asked: int
    inserted: int = 0
    refused: int = 0  # rows the table's constraints refused
    edges: int = 0  # edge-case values among the rows made
    seconds: float = 0.0
    note: str = ""  # why fewer rows than asked


@dataclass
class Generation:
    """What ``generate`` did, per table."""

    seed: int
    edge_share: float
    tables: list[TableOutcome] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(t.inserted for t in self.tables)

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


Progress = Callable[[str, int, int], None]  # (table, rows done, rows to do)


def generate(
    url: str,
    rows: int,
    *,
    per_table: dict[str, int] | None = None,
    seed: int = 0,
    edge_share: float = 0.05,
    only_empty: bool = False,
    progress: Progress | None = None,
    exclude: tuple[str, ...] = DEFAULT_EXCLUDED,
    strict_tables: bool = True,
) -> Generation:
    """Add generated rows to every table of the database at ``url``: ``rows`` each, or
    ``per_table[label]``; with ``only_empty``, only to tables that have none (a top-up after a
    revision created tables). Deterministic for ``seed`` and the database's state.
    ``per_table`` naming a table that is not there is an error, unless not ``strict_tables``
    (the stairway names tables that later revisions create)."""
    started = time.monotonic()
    report = Generation(seed, edge_share)
    conn = connect(url, application_name="planrun generate")
    try:
        tables = read_tables(conn, exclude, counted=not only_empty)
        unknown = sorted(set(per_table or {}) - set(tables))
        if unknown and strict_tables:
            raise ValueError(f"no table named {', '.join(unknown)} (tables: {', '.join(sorted(tables)) or 'none'})")
        wanted = {
            label: (per_table or {}).get(label, rows)
            for label, table in tables.items()
            if not only_empty or table.rows == 0
        }
        ordered, deferred, report.problems = fill_order([t for t in tables.values() if t.label in wanted])
        with conn.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        fillers: dict[str, Filler] = {}
        for table in ordered:
            report.tables.append(_plan(conn, table, wanted[table.label], seed, edge_share, fillers))
        for table in ordered:
            outcome = next(o for o in report.tables if o.table == table.label)
            if table.name in fillers:
                _link_and_fill(conn, fillers[table.name], outcome, deferred, fillers, progress)
        for filler in fillers.values():
            for reference in filler.references:
                if reference.null_only and filler.rows:
                    _close_reference(conn, filler, reference)
        conn.commit()
    except Exception:
        conn.rollback()
        raise
    finally:
        conn.close()
    report.seconds = time.monotonic() - started
    return report


def _plan(conn, table: Table, asked: int, seed: int, share: float, fillers: dict[str, Filler]) -> TableOutcome:
    outcome = TableOutcome(table.label, asked)
    try:
        fillers[table.name] = Filler(conn, table, asked, seed, share)
    except Unsupported as exc:
        outcome.note = f"not filled: {exc}"
    return outcome


def _link_and_fill(conn, filler: Filler, outcome: TableOutcome, deferred, fillers, progress) -> None:
    table = filler.table
    for index in range(len(table.foreign_keys)):
        problem = filler.link(conn, index, (table.name, index) in deferred, fillers)
        if problem:
            outcome.note = f"not filled: {problem}"
            del fillers[table.name]
            return
    if filler.rows < filler.asked:
        outcome.note = f"{filler.rows} rows: its unique columns have no more distinct values"
    _fill(conn, filler, outcome, progress)


def _close_reference(conn, filler: Filler, reference) -> None:
    """Point a reference filled NULL (its parent had no rows yet, or gets its keys from the
    server) at the parent's rows now that they are there: a self-reference makes a tree (row n
    under row n/2), others spread over the parent's keys; one row in twenty stays NULL."""
    fk, table = reference.fk, filler.table
    columns = ", ".join(f'"{c}"' for c in fk.columns)
    keys = ", ".join(f'"{c}"' for c in fk.parent_columns)
    unset = " AND ".join(f't."{c}" IS NULL' for c in fk.columns)
    match = "p.n = 1 + (c.n - 1) / 2" if fk.parent == table.name else "p.n = 1 + (c.n - 1) % p.total"
    with conn.cursor() as cursor:
        cursor.execute(
            "WITH c AS (SELECT t.tableoid AS part, t.ctid AS row_id,"
            f" row_number() OVER (ORDER BY t.tableoid, t.ctid) AS n FROM {table.name} t WHERE {unset}),"
            f" p AS (SELECT {keys}, row_number() OVER (ORDER BY {keys}) AS n, count(*) OVER () AS total"
            f" FROM {fk.parent})"
            f" UPDATE {table.name} t SET ({columns}) = ROW({', '.join(f'p.{k}' for k in keys.split(', '))})"
            f" FROM c JOIN p ON {match} WHERE t.tableoid = c.part AND t.ctid = c.row_id AND c.n % 20 <> 0"
        )


def _fill(conn, filler: Filler, outcome: TableOutcome, progress: Progress | None) -> None:
    """Stream the batches: the next one is made while the server loads the last."""
    started = time.monotonic()
    total = filler.rows
    batches: queue.Queue = queue.Queue(maxsize=2)

    def make() -> None:
        try:
            for start in range(0, total, BATCH_ROWS):
                count = min(BATCH_ROWS, total - start)
                batches.put((count, *filler.batch(start, count)))
        except BaseException as exc:  # handed to the loading side, which raises it
            batches.put(exc)
            return
        batches.put(None)

    if not filler.columns:  # every column is the server's (identity, defaults): rows of defaults
        with conn.cursor() as cursor:
            cursor.execute(f"INSERT INTO {filler.table.name} SELECT FROM generate_series(1, %s)", (total,))
        outcome.inserted, outcome.seconds = total, time.monotonic() - started
        return
    maker = threading.Thread(target=make, name="planrun-generate", daemon=True)
    maker.start()
    staged = False
    columns = ", ".join(f'"{c}"' for c in filler.columns)
    try:
        while (item := batches.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            count, text, edge_count = item
            if not staged:
                try:
                    _copy(conn, f"COPY {filler.table.name} ({columns}) FROM STDIN", text)
                    outcome.inserted += count
                except psycopg2.Error as exc:
                    staged = True  # this table's constraints refuse some rows: filter every batch from now on
                    outcome.note = outcome.note or f"some rows refused: {str(exc).splitlines()[0]}"
            if staged:
                inserted = _through_stage(conn, filler, columns, text)
                outcome.inserted += inserted
                outcome.refused += count - inserted
            outcome.edges += edge_count
            if progress:
                progress(outcome.table, outcome.inserted + outcome.refused, total)
    finally:
        while maker.is_alive():  # unblock a maker waiting on a full queue
            try:
                batches.get_nowait()
            except queue.Empty:
                maker.join(0.05)
    outcome.seconds = time.monotonic() - started


def _copy(conn, statement: str, text: str) -> None:
    with conn.cursor() as cursor:
        cursor.execute("SAVEPOINT planrun_batch")
        try:
            cursor.copy_expert(statement, io.StringIO(text), size=1 << 20)
        except psycopg2.Error:
            cursor.execute("ROLLBACK TO SAVEPOINT planrun_batch")
            raise
        cursor.execute("RELEASE SAVEPOINT planrun_batch")


def _through_stage(conn, filler: Filler, columns: str, text: str) -> int:
    """Load a batch into a constraint-free copy of the table, then insert what the table takes."""
    table = filler.table
    types = {c.name: c.stored or c.type for c in table.columns}
    with conn.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS planrun_stage ("
            + ", ".join(f'"{c}" {types[c]}' for c in filler.columns)
            + ") ON COMMIT DROP"
        )
    try:
        _copy(conn, f"COPY planrun_stage ({columns}) FROM STDIN", text)
        accepted = [f'"{c.name}" IS NOT NULL' for c in table.columns if c.not_null and c.name in filler.columns]
        accepted += [f"({check}) IS NOT FALSE" for check in table.checks]
        accepted += [f"({check}) IS NOT FALSE" for c in table.columns if c.name in filler.columns for check in c.checks]
        if table.partitions and "DEFAULT" not in table.partition_bounds:
            accepted.append("(" + " OR ".join(f"({p}) IS TRUE" for p in table.partitions) + ")")
        where = " AND ".join(accepted) or "true"
        with conn.cursor() as cursor:
            cursor.execute("SAVEPOINT planrun_batch")
            try:
                cursor.execute(
                    f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM planrun_stage WHERE {where} "
                    "ON CONFLICT DO NOTHING"
                )
                inserted = cursor.rowcount
                cursor.execute("RELEASE SAVEPOINT planrun_batch")
            except psycopg2.Error:
                cursor.execute("ROLLBACK TO SAVEPOINT planrun_batch")
                inserted = 0  # the whole batch refused (a reference to a refused row, say): counted
        return inserted
    except psycopg2.Error:
        return 0
    finally:
        with conn.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS planrun_stage")
