"""Batched backfills: an UPDATE of every row, in primary-key ranges, each batch its own
transaction, each sized to take about ``batch_time`` (:mod:`.batch_size`).

One ``UPDATE`` of a million rows holds its row locks until it commits and writes the whole
table's worth of WAL at once; the application's writes to those rows wait all along. Batches
of a few thousand rows, each committed, keep every lock short. The batches skip rows that
already hold the target value (``col IS DISTINCT FROM expr``), so a backfill that was
interrupted (killed, aborted) is resumed by running it again, and no row is rewritten.
"""

from __future__ import annotations

import time

from alembic import op
from sqlalchemy import text

from planrun.engine.control import active
from planrun.plugins.events import OwnTransaction

from .batch_size import DEFAULT_BATCH_TIME, FIRST_BATCH, BatchSizer
from .sql import (
    ONE_BATCH,
    REPORTS_ITS_TRANSACTION,
    offline,
    outside_transaction,
    primary_key,
    quote_name,
    scalar,
)


def batched_backfill(
    table: str,
    set: dict[str, str],
    where: str | None = None,
    *,
    batch_size: int | None = None,
    batch_time: float | None = None,
    pause: float = 0.0,
    key: str | None = None,
    name: str | None = None,
) -> int:
    """Set ``column = expression`` for every row of ``table`` (matching ``where``), in batches
    of primary-key values, pausing ``pause`` seconds between batches (longer when the monitor
    sees blocked sessions or standby lag). Returns the rows updated.

    Batches are sized so that each takes about ``batch_time`` seconds (default 0.05), starting
    from ``batch_size`` rows (default 1000), growing while batches are quick and shrinking when
    they are slow or the monitor sees pressure. Give ``batch_size`` alone for a fixed size."""
    if not set:
        raise ValueError("batched_backfill needs set={column: expression}")
    assignments = ", ".join(f"{quote_name(column)} = {expression}" for column, expression in set.items())
    pending = " OR ".join(f"{quote_name(column)} IS DISTINCT FROM ({expression})" for column, expression in set.items())
    condition = f"({pending})" + (f" AND ({where})" if where else "")
    t = quote_name(table)
    label = name or f"backfill {table}." + ",".join(set)
    sizer = (
        None
        if batch_size is not None and batch_time is None
        else BatchSizer(batch_time or DEFAULT_BATCH_TIME, batch_size or FIRST_BATCH)
    )
    size = batch_size or FIRST_BATCH
    if offline():
        k = quote_name(key or "id")
        shape = f"batches of about {sizer.target * 1000:.0f} ms" if sizer else f"batches of {size} rows"
        with outside_transaction(label):  # the batches run outside the migration's transaction
            op.execute(f"-- planrun: {label}, {shape} by {k}, each committed")
            op.execute(f"{ONE_BATCH}UPDATE {t} SET {assignments} WHERE {k} > 0 AND {k} <= {size} AND {condition}")
        return 0
    control = active()
    with outside_transaction(label):
        connection = op.get_bind()
        k = quote_name(key or primary_key(table))
        total = scalar(f"SELECT count(*) FROM {t} WHERE {condition}")
        last = scalar(f"SELECT min({k}) FROM {t}")
        highest = scalar(f"SELECT max({k}) FROM {t}")
        done = 0
        control.progress.report(label, 0, total)
        if last is None or not total:
            return 0
        next_key = text(f"SELECT {k} FROM {t} WHERE {k} > :low ORDER BY {k} OFFSET :skip LIMIT 1")
        # each batch tells the run its transaction and table: it commits on its own, where planrun cannot look
        updates = {
            inclusive: text(
                f"{REPORTS_ITS_TRANSACTION}{ONE_BATCH}WITH planrun_batch AS (UPDATE {t} SET {assignments} "
                f"WHERE {k} {'>=' if inclusive else '>'} :low AND {k} <= :high AND {condition} RETURNING 1) "
                "SELECT count(*), pg_current_xact_id_if_assigned()::text FROM planrun_batch"
            )
            for inclusive in (True, False)
        }
        written = scalar(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.oid = CAST(:t AS regclass)",
            t=t,
        )
        low, inclusive = last, True  # the first range starts at (and includes) the smallest key
        while True:
            control.checkpoint()
            skip = size - (2 if inclusive else 1)
            started = time.monotonic()
            high = low if skip < 0 else connection.execute(next_key, {"low": low, "skip": skip}).scalar()
            high = highest if high is None else high
            count, xid = connection.execute(updates[inclusive], {"low": low, "high": high}).one()
            done += count
            if xid is not None:
                control.notes.remember(OwnTransaction(int(xid), written))
            if sizer is not None:
                size = sizer.next(time.monotonic() - started, control.throttle)
            control.progress.report(label, done, total)
            if high >= highest:
                return done
            low, inclusive = high, False
            if pause or control.throttle > 1:
                control.sleep(pause or 0.05)
