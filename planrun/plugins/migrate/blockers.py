"""Who the migration waited for. A lock timeout alone says only "canceling statement due to
lock timeout"; the session that held the lock (often idle in a transaction somewhere) is what
the operator needs. While the migration runs, a thread looks every 200 ms at the sessions
blocking the migration's backend and keeps the latest it saw, so that a failure can name them.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from ..pg.connect import connect, query_all

_BLOCKERS = """
    SELECT b.pid, COALESCE(NULLIF(b.application_name, ''), '?'), COALESCE(b.usename::text, '?'), COALESCE(b.state, '?'),
           COALESCE(round(extract(epoch FROM now() - COALESCE(b.state_change, b.xact_start)))::int, 0),
           COALESCE(left(split_part(b.query, E'\\n', 1), 80), '')
    FROM pg_stat_activity w
    CROSS JOIN LATERAL unnest(pg_blocking_pids(w.pid)) AS blocking(pid)
    JOIN pg_stat_activity b ON b.pid = blocking.pid
    WHERE w.application_name = %s
    ORDER BY b.pid"""
INTERVAL = 0.2


class BlockerWatch:
    def __init__(self) -> None:
        self.seen: list[tuple] = []

    def describe(self) -> str:
        """``pid 123 (application 'psql', user app, idle in transaction for 12s: UPDATE users ...)``"""
        return "; ".join(
            f"pid {pid} (application {app!r}, user {user}, {state} for {seconds}s"
            + (f": {query}" if query else "")
            + ")"
            for pid, app, user, state, seconds, query in self.seen
        )


@contextlib.contextmanager
def watching_blockers(url: str, application_name: str) -> Iterator[BlockerWatch]:
    """Look for the sessions that block the backend named ``application_name`` while the body
    runs. Never fails the body: a watch that cannot connect simply sees nothing."""
    watch = BlockerWatch()
    stop = threading.Event()

    def look() -> None:
        try:
            conn = connect(url, application_name="planrun blockers", autocommit=True, connect_timeout=5)
        except Exception:
            return
        try:
            while not stop.wait(INTERVAL):
                rows = query_all(conn, _BLOCKERS, (application_name,))
                if rows:
                    watch.seen = rows
        except Exception:
            pass
        finally:
            conn.close()

    thread = threading.Thread(target=look, name="planrun-blockers", daemon=True)
    thread.start()
    try:
        yield watch
    finally:
        stop.set()
        thread.join(timeout=2)
