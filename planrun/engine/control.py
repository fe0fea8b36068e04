"""Steering a run while it runs: abort, pause, resume and throttle.

Three kinds of hands steer a run: the monitor's alert rules (``do: abort``/``pause``), the
operator in another terminal (``planrun pause|resume|abort RUN_ID``, which write a small
control file the run watches), and nobody (a run that is never steered behaves as before).
Work that can stop between pieces (batched backfills) asks :meth:`RunControl.checkpoint`
between batches; work that cannot (a DDL statement) is cancelled through the
``planrun_abort`` hook, which the plugin that started it answers.

Inside an Alembic migration there is no run context to hand around, so the control of the
run in progress is reachable with :func:`active` (a context variable, set by the runner
around each step: the migration runs in the same thread).
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import os
import threading
import time
from dataclasses import dataclass
from typing import Callable, Iterator

OPERATOR_COMMANDS = ("pause", "resume", "abort")


class Aborted(Exception):
    """Raised at a checkpoint when the run was asked to stop."""


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


class RunControl:
    """The steering of one run. Thread-safe: the monitor and the watcher steer from their own
    threads while the run's thread does the work."""

    def __init__(self, control_file: str | None = None):
        self.control_file = control_file
        self.abort_reason: str | None = None
        self.throttle = 1.0  # a factor on backfill pauses; the monitor raises it under pressure
        self.progress: dict[str, Progress] = {}
        self._paused_by: dict[str, str] = {}
        self._changed = threading.Condition()
        self._on_abort: list[Callable[[str], None]] = []
        self._on_progress: list[Callable[[Progress], None]] = []
        self._on_change: list[Callable[[str, str], None]] = []
        self._operator_seen: float = 0.0
        self.partial_commits: list[tuple[str | None, str]] = []  # (revision, what)
        self._on_partial_commit: list[Callable[[str | None, str], None]] = []

    # --- who listens ---------------------------------------------------------------------
    def when_aborted(self, callback: Callable[[str], None]) -> None:
        self._on_abort.append(callback)

    def when_progress(self, callback: Callable[[Progress], None]) -> None:
        self._on_progress.append(callback)

    def when_changed(self, callback: Callable[[str, str], None]) -> None:
        """``callback(what, why)`` on pause, resume and abort: the journal and the console."""
        self._on_change.append(callback)

    # --- steering ------------------------------------------------------------------------
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

    @property
    def paused_by(self) -> dict[str, str]:
        return dict(self._paused_by)

    def _tell(self, what: str, why: str) -> None:
        for callback in self._on_change:
            callback(what, why)

    # --- the working side ----------------------------------------------------------------
    def checkpoint(self) -> None:
        """Between two pieces of work: raise :class:`Aborted` when asked to stop, wait while
        paused (re-reading the operator's control file meanwhile)."""
        while True:
            self.poll_operator()
            with self._changed:
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

    def report(self, name: str, done: int, total: int | None, unit: str = "rows") -> Progress:
        progress = self.progress.get(name)
        if progress is None:
            progress = self.progress[name] = Progress(name, done, total, time.monotonic(), unit)
        progress.done, progress.total = done, total
        for callback in self._on_progress:
            callback(progress)
        return progress

    def note_partial_commit(self, revision: str | None, what: str) -> None:
        """Work that committed part of a revision before the revision finished (an autocommit
        block): if the revision fails, rolling back must undo that part too."""
        self.partial_commits.append((revision, what))
        for callback in self._on_partial_commit:
            callback(revision, what)

    def when_partial_commit(self, callback: Callable[[str | None, str], None]) -> None:
        """``callback(revision, what)`` when a revision commits part of its work early (the
        journal keeps it, so a run that dies there can still be recovered)."""
        self._on_partial_commit.append(callback)

    # --- the operator's control file -----------------------------------------------------
    def poll_operator(self) -> None:
        """Apply the latest command written by ``planrun pause|resume|abort``."""
        if not self.control_file:
            return
        try:
            mtime = os.stat(self.control_file).st_mtime
        except OSError:
            return
        if mtime <= self._operator_seen:
            return
        self._operator_seen = mtime
        command = read_command(self.control_file)
        if command is None:
            return
        by = command.get("by", "operator")
        if command["command"] == "abort":
            self.abort(f"aborted by {by} (planrun abort)")
        elif command["command"] == "pause":
            self.pause("operator", f"paused by {by} (planrun pause)")
        elif command["command"] == "resume":
            self.resume("operator")

    @contextlib.contextmanager
    def watching(self, interval: float = 0.5) -> Iterator[None]:
        """Watch the operator's control file from a thread for as long as the body runs, so an
        abort reaches work that never reaches a checkpoint."""
        if not self.control_file:
            yield
            return
        stop = threading.Event()

        def watch() -> None:
            while not stop.wait(interval):
                self.poll_operator()

        thread = threading.Thread(target=watch, name="planrun-control", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=2)


def control_file(state_dir: str, run_id: str) -> str | None:
    """Where the operator's commands for a run are written; ``None`` when the state directory
    is not local (the control file needs a cheap stat)."""
    if "://" in state_dir and not state_dir.startswith("file://"):
        return None
    root = state_dir.removeprefix("file://").rstrip("/")
    return os.path.join(root, "control", f"{run_id}.json")


def write_command(path: str, command: str, by: str) -> None:
    if command not in OPERATOR_COMMANDS:
        raise ValueError(f"unknown command {command!r}")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump({"command": command, "by": by, "at": time.time()}, handle)
    os.replace(temporary, path)
    now = time.time()
    os.utime(path, (now, max(now, os.stat(path).st_mtime + 0.001)))


def read_command(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("command") in OPERATOR_COMMANDS else None


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
