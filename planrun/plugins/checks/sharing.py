"""One connection for the checks of a phase (no database library imported here: the checks'
entry module imports this, and ``planrun --help`` loads that)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

SHARED = "checks.connection"  # ctx.state: the connection the checks of one phase share (None: not opened yet)


@contextlib.contextmanager
def one_connection(ctx) -> Iterator[None]:
    """The checks of a phase (and their baselines) share one fenced connection, each query in
    its own transaction, rolled back after it: a phase of seven checks opened fourteen
    connections, a third of a small apply's time. Sharing leaks nothing from one check to the
    next: a check's SQL cannot write, lock or set anything (:mod:`.guard`, :mod:`.fence`, and
    the read-only transaction), and a connection a check broke is replaced for the next one."""
    if SHARED in ctx.state:  # a phase within a phase (the gate's checks inside the pre-checks)
        yield
        return
    ctx.state[SHARED] = None  # opened on first use: a phase whose checks need none opens none
    try:
        yield
    finally:
        conn = ctx.state.pop(SHARED, None)
        if conn is not None and not conn.closed:
            conn.close()
