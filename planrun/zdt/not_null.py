"""SET NOT NULL without a long ACCESS EXCLUSIVE lock.

Plain ``SET NOT NULL`` scans the whole table under ACCESS EXCLUSIVE: every query waits for the
scan. Instead: a ``CHECK (col IS NOT NULL) NOT VALID`` (instant), ``VALIDATE`` (scans under
SHARE UPDATE EXCLUSIVE, which lets reads and writes through), then ``SET NOT NULL``, which
PostgreSQL (12+) proves from the valid check without scanning, then drop the check.

The ACCESS EXCLUSIVE statements wait at most 50 ms for their lock, then retry with backoff:
every query on the table queues behind a DDL statement that waits. After a large backfill,
autovacuum often holds the table, and gives way only after a second (``deadlock_timeout``); a
2 s lock_timeout let clients queue for that whole second (bench/zdt_under_load.py, 5M rows).
"""

from __future__ import annotations

from .locks import retry_on_lock_timeout
from .sql import outside_transaction, quote_name


def add_not_null_safely(table: str, column: str, *, lock_timeout: str = "50ms") -> None:
    short = table.split(".")[-1]
    check = quote_name(f"{short}_{column}_not_null"[:63])
    t, c = quote_name(table), quote_name(column)
    with outside_transaction(f"set {table}.{column} not null"):
        retry_on_lock_timeout(f"ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {check}", timeout=lock_timeout)
        retry_on_lock_timeout(
            f"ALTER TABLE {t} ADD CONSTRAINT {check} CHECK ({c} IS NOT NULL) NOT VALID", timeout=lock_timeout
        )
        try:
            retry_on_lock_timeout(f"ALTER TABLE {t} VALIDATE CONSTRAINT {check}", timeout=lock_timeout)
            retry_on_lock_timeout(f"ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL", timeout=lock_timeout)
        finally:  # a row with a NULL fails VALIDATE: leave no half-made constraint behind
            retry_on_lock_timeout(f"ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {check}", timeout=lock_timeout)
