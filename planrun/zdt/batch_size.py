"""Batches sized to a time, not a row count (like pt-online-schema-change's chunk time).

A fixed row count is wrong twice: too large on a wide table with indexes and triggers (every
batch holds its rows' locks longer than clients can wait), too small on a narrow one (commit
overhead dominates). Sized to ``batch_time``, a batch holds its row locks about that long
whatever the table, so a client that hits a row of the batch waits at most about that long.
"""

from __future__ import annotations

# seconds; bench/zdt_under_load.py measured 20, 50 and 100 ms and resting between batches: 50 ms
# kept clients' p99 as low as 20 ms did, in less time; 100 ms let it rise; resting cost time for nothing
DEFAULT_BATCH_TIME = 0.05
FIRST_BATCH = 1_000
SMALLEST, LARGEST = 100, 100_000


class BatchSizer:
    """The next batch's rows, from how long the last one took against ``target`` seconds; a
    change is at most a doubling or a halving per batch, so one slow batch (a checkpoint) does
    not swing the size. ``pressure`` above 1 (the monitor saw blocked sessions or standby lag)
    divides the size by it."""

    def __init__(self, target: float, first: int = FIRST_BATCH):
        self.target, self.size = target, max(SMALLEST, min(LARGEST, first))

    def next(self, seconds: float, pressure: float = 1.0) -> int:
        if seconds > 0:
            factor = min(2.0, max(0.5, self.target / seconds))
            self.size = int(self.size * factor)
        if pressure > 1:
            self.size = int(self.size / pressure)
        self.size = max(SMALLEST, min(LARGEST, self.size))
        return self.size
