"""What a migration's locks cost, measured: while an Alembic command runs on the scratch
database, its backend's relation locks are read from ``pg_locks`` every few milliseconds, and
each strong lock (one that blocks writers: SHARE and stronger) is timed from the first sample
that saw it to the last, with the statements that ran while it was held. A lint can only say
"this would lock users for ~40 s"; this says how long it did, on rows like production's."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

from ..pg.connect import connect, query_all

# a statement that only reads (no FOR UPDATE/SHARE, no data-modifying WITH): it can take no strong lock
_PLAIN_SELECT = re.compile(r"^\s*(?:/\*.*?\*/\s*)*SELECT\b(?!.*\bFOR\s+(?:UPDATE|SHARE|NO\s+KEY|KEY)\b)", re.I | re.S)

STRONG = {
    "AccessExclusiveLock": "ACCESS EXCLUSIVE",
    "ExclusiveLock": "EXCLUSIVE",
    "ShareRowExclusiveLock": "SHARE ROW EXCLUSIVE",
    "ShareLock": "SHARE",
}
_HELD = """
    SELECT l.relation, l.mode, c.relname, a.query
    FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid JOIN pg_class c ON c.oid = l.relation
    WHERE a.application_name = %s AND a.datname = current_database() AND l.locktype = 'relation'
      AND l.granted AND l.mode = ANY(%s) AND c.relkind IN ('r', 'p')"""
_FILES = """
    SELECT c.oid, c.relname, c.relfilenode FROM pg_class c
    WHERE c.relkind IN ('r', 'm') AND c.relnamespace NOT IN ('pg_catalog'::regnamespace,
          'information_schema'::regnamespace, 'pg_toast'::regnamespace)"""


@dataclass
class LockHold:
    """One strong lock on one table, held without a gap."""

    table: str
    mode: str
    existed: bool  # the table was there before the command (a table it created blocks no one)
    first: float
    last: float
    interval: float  # the sampling period: a lock seen once was held up to this long
    taken_at: str  # the statement that took it (the one running when first seen, until the log says)
    unseen: float = 0.0  # the sample before the first that saw it: it was taken in between
    statements: dict[str, int] = field(default_factory=dict)  # statement -> samples that saw it

    @property
    def seconds(self) -> float:
        return self.last - self.first + self.interval

    def describe(self) -> str:
        through = max(self.statements, key=self.statements.get) if self.statements else self.taken_at
        text = f"{self.mode} on {self.table} held {self.seconds * 1000:.0f} ms, taken at: {_short(self.taken_at)}"
        return text + (f"; held through: {_short(through)}" if through != self.taken_at else "")


def _short(statement: str) -> str:
    flat = " ".join(statement.split())
    return flat if len(flat) <= 160 else flat[:157] + "..."


class LockSampler:
    """``with LockSampler(url, application_name) as sampler: ...`` then ``sampler.holds`` and
    ``sampler.rewritten`` (tables whose files changed: rewritten, or truncated)."""

    def __init__(self, url: str, application_name: str, interval: float = 0.005):
        self.url, self.application_name, self.interval = url, application_name, interval
        # [started, ended (None: not seen to end), statement] as this process sent them
        self.statements: list[list] = []
        self._running: dict[int, list] = {}
        self.holds: list[LockHold] = []
        self.rewritten: list[str] = []
        self._open: dict[tuple[int, str], LockHold] = {}
        self._stop = threading.Event()

    def __enter__(self) -> LockSampler:
        self.conn = connect(self.url, application_name="planrun test lock sampler", autocommit=True)
        self.files = {oid: (name, node) for oid, name, node in query_all(self.conn, _FILES)}
        self.thread = threading.Thread(target=self._sample, name="planrun-lock-sampler", daemon=True)
        self.thread.start()
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.listen(Engine, "before_cursor_execute", self._sent)
        event.listen(Engine, "after_cursor_execute", self._ended)
        return self

    def _sent(self, _conn, cursor, statement, *_args) -> None:
        entry = [time.monotonic(), None, statement]
        self.statements.append(entry)
        self._running[id(cursor)] = entry

    def _ended(self, _conn, cursor, *_args) -> None:
        entry = self._running.pop(id(cursor), None)
        if entry is not None:
            entry[1] = time.monotonic()

    def __exit__(self, *exc) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.remove(Engine, "before_cursor_execute", self._sent)
        event.remove(Engine, "after_cursor_execute", self._ended)
        self._stop.set()
        self.thread.join()
        try:
            after = {oid: node for oid, _, node in query_all(self.conn, _FILES)}
            self.rewritten = sorted(
                name for oid, (name, node) in self.files.items() if oid in after and after[oid] != node
            )
        finally:
            self.conn.close()
        self.holds.extend(self._open.values())
        self.holds.sort(key=lambda hold: -hold.seconds)
        for hold in self.holds:
            hold.taken_at = self._taker(hold) or hold.taken_at

    def _taker(self, hold: LockHold) -> str | None:
        """The statement that took the lock: of those running at some moment between the sample
        that did not see it and the one that did (a statement that had ended before the first
        would have been holding it then), the earliest that names the table, else the earliest.
        A plain SELECT is never one: it takes ACCESS SHARE only, and every lock sampled here is
        stronger (Alembic's look at the catalog, which names the table, ran in between once)."""
        running = [
            statement
            for started, ended, statement in self.statements
            if started <= hold.first and (ended is None or ended >= hold.unseen) and not _PLAIN_SELECT.match(statement)
        ]
        names = re.compile(rf"(?<![\w$]){re.escape(hold.table)}(?![\w$])", re.I)
        return next((s for s in running if names.search(s)), running[0] if running else None)

    def _sample(self) -> None:
        modes = list(STRONG)
        previous = time.monotonic()
        while not self._stop.is_set():
            now = time.monotonic()
            try:
                rows = query_all(self.conn, _HELD, (self.application_name, modes))
            except Exception:  # the sampler must never fail the command it watches
                rows = []
            # a lock this query saw was taken before it returned (a statement may have started
            # while it ran), and after the previous query began
            seen_at = time.monotonic()
            seen = set()
            for relation, mode, table, statement in rows:
                key = (relation, mode)
                seen.add(key)
                hold = self._open.get(key)
                if hold is None:
                    hold = self._open[key] = LockHold(
                        table,
                        STRONG[mode],
                        relation in self.files,
                        seen_at,
                        seen_at,
                        self.interval,
                        statement,
                        previous,
                    )
                hold.last = seen_at
                hold.statements[statement] = hold.statements.get(statement, 0) + 1
            for key in [k for k in self._open if k not in seen]:  # released: that hold is over
                self.holds.append(self._open.pop(key))
            previous = now
            self._stop.wait(self.interval)

    def longest(self, existing_only: bool = True) -> LockHold | None:
        holds = [h for h in self.holds if h.existed or not existing_only]
        return holds[0] if holds else None
