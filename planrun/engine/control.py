"""Steering a run while it runs, and what the work inside it tells the run.

:class:`RunControl` bundles three small things, each with one job:

- :class:`Steering`: abort, pause, resume and throttle. Alert rules, the operator (through a
  plugin that contributes ``planrun pause|resume|abort``) and the lock's watcher steer; work
  that can stop between pieces (batched backfills) asks :meth:`Steering.checkpoint`; work that
  cannot (a DDL statement) is cancelled through the ``planrun_abort`` hook.
- :class:`ProgressBoard`: how far long work has come (rows backfilled), for the console and
  the journal.
- :class:`RunNotes`: facts the work reports from inside the migration (a revision that
  committed part of its work early); each is journaled as it comes, so a run that dies right
  after can still be recovered. The engine does not interpret them: plugins do.

Inside a migration there is no run context to hand around, so the control of the run in
progress is reachable with :func:`active` (a context variable, set by the runner around each
step: the migration runs in the same thread).
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .journal_events import E, JournalEvent


class Aborted(Exception):
    """Raised at a checkpoint when the run was asked to stop."""


class Steering:
    """Abort, pause, resume, throttle. Thread-safe: the monitor, the lock's watcher and the
    operator steer from their own threads while the run's thread does the work."""

    def __init__(self) -> None:
        self.abort_reason: str | None = None
        self.throttle = 1.0  # a factor on backfill pauses; the monitor raises it under pressure
        self._paused_by: dict[str, str] = {}
        self._changed = threading.Condition()
        self._on_abort: list[Callable[[str], None]] = []
        self._on_change: list[Callable[[str, str], None]] = []

    def when_aborted(self, callback: Callable[[str], None]) -> None:
        self._on_abort.append(callback)

    def when_changed(self, callback: Callable[[str, str], None]) -> None:
        """``callback(what, why)`` on pause, resume and abort: the journal and the console."""
        self._on_change.append(callback)

    def abort(self, reason: str) -> None:
        with self._changed:
            if self.abort_reason is not None:
                return
            self.abort_reason = reason
            self._changed.notify_all()
        self._tell("abort", reason)
        for callback in self._on_abort:
            callback(reason)

    def pause(self, source: str, reason: str) -> None:
        with self._changed:
            if source in self._paused_by:
                return
            self._paused_by[source] = reason
        self._tell("pause", f"{source}: {reason}")

    def resume(self, source: str) -> None:
        with self._changed:
            if self._paused_by.pop(source, None) is None:
                return
            self._changed.notify_all()
        self._tell("resume", source)

    @property
    def paused(self) -> bool:
        return bool(self._paused_by)

    def _tell(self, what: str, why: str) -> None:
        for callback in self._on_change:
            callback(what, why)

    def checkpoint(self) -> None:
        """Between two pieces of work: raise :class:`Aborted` when asked to stop, wait while
        paused."""
        with self._changed:
            while True:
                if self.abort_reason is not None:
                    raise Aborted(self.abort_reason)
                if not self._paused_by:
                    return
                self._changed.wait(timeout=0.5)

    def sleep(self, seconds: float) -> None:
        """Pause between batches, stretched by the throttle; wakes early on abort."""
        deadline = time.monotonic() + seconds * self.throttle
        while (left := deadline - time.monotonic()) > 0:
            with self._changed:
                if self.abort_reason is not None:
                    return
                self._changed.wait(timeout=min(left, 0.5))


@dataclass
class Progress:
    """How far a long piece of work (a backfill) has come."""

    name: str
    done: int
    total: int | None
    started: float
    unit: str = "rows"

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        if not self.total or not self.rate:
            return None
        return max(self.total - self.done, 0) / self.rate

    def text(self) -> str:
        share = f"/{self.total} ({100 * self.done / self.total:.0f}%)" if self.total else ""
        eta = f", ETA {self.eta:.0f}s" if self.eta is not None else ""
        return f"{self.name}: {self.done}{share} {self.unit}, {self.rate:.0f} {self.unit}/s{eta}"


class ProgressBoard:
    """Every long piece of work of the run, by name."""

    def __init__(self) -> None:
        self._items: dict[str, Progress] = {}
        self._listeners: list[Callable[[Progress], None]] = []

    def when_progress(self, callback: Callable[[Progress], None]) -> None:
        self._listeners.append(callback)

    def report(self, name: str, done: int, total: int | None, unit: str = "rows") -> Progress:
        progress = self._items.get(name)
        if progress is None:
            progress = self._items[name] = Progress(name, done, total, time.monotonic(), unit)
        progress.done, progress.total = done, total
        for callback in self._listeners:
            callback(progress)
        return progress

    def get(self, name: str) -> Progress | None:
        return self._items.get(name)


class RunNotes:
    """Notes the work leaves for the run, each a typed event (``notes.add(PartialCommit(...))``,
    read back with ``notes.of(PartialCommit)``); listeners (the journal) hear each added one."""

    def __init__(self) -> None:
        self._notes: list[JournalEvent] = []
        self._listeners: list[Callable[[JournalEvent], object]] = []

    def when_noted(self, callback: Callable[[JournalEvent], object]) -> None:
        self._listeners.append(callback)

    def add(self, note: JournalEvent) -> None:
        self._notes.append(note)
        for callback in self._listeners:
            callback(note)

    def remember(self, note: JournalEvent) -> None:
        """A note kept for the run but not announced: one from an earlier run (a dead run being
        recovered), or one that only this process needs."""
        self._notes.append(note)

    def of(self, kind: type[E]) -> list[E]:
        return [note for note in self._notes if isinstance(note, kind)]


class RunControl:
    """The run's steering, progress and notes (see the module's docstring)."""

    def __init__(self) -> None:
        self.steering = Steering()
        self.progress = ProgressBoard()
        self.notes = RunNotes()

    # the steering's verbs, which most callers want
    @property
    def abort_reason(self) -> str | None:
        return self.steering.abort_reason

    @property
    def throttle(self) -> float:
        return self.steering.throttle

    @throttle.setter
    def throttle(self, value: float) -> None:
        self.steering.throttle = value

    def abort(self, reason: str) -> None:
        self.steering.abort(reason)

    def pause(self, source: str, reason: str) -> None:
        self.steering.pause(source, reason)

    def resume(self, source: str) -> None:
        self.steering.resume(source)

    def checkpoint(self) -> None:
        self.steering.checkpoint()

    def sleep(self, seconds: float) -> None:
        self.steering.sleep(seconds)


_ACTIVE: contextvars.ContextVar[RunControl | None] = contextvars.ContextVar("planrun_control", default=None)


def active() -> RunControl:
    """The control of the run in progress in this thread, or a fresh one that nobody steers
    (a migration run by plain ``alembic upgrade``)."""
    return _ACTIVE.get() or RunControl()


@contextlib.contextmanager
def activated(control: RunControl) -> Iterator[None]:
    token = _ACTIVE.set(control)
    try:
        yield
    finally:
        _ACTIVE.reset(token)
