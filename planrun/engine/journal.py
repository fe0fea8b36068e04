"""The append-only record of runs: one JSON object a line, one file a run, under the state
directory (``.planrun/`` by default; any fsspec URL, so it can live in object storage).

Every line goes through the redactor first: a journal never holds a password.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from .journal_events import DeclaredEvents, JournalEvent, Subscriptions


def _warn(message: str) -> None:
    sys.stderr.write(f"planrun: warning: {message}\n")


def new_run_id() -> str:
    """``20261125T003928123-6a9c7c``: UTC time to the millisecond, so ids sort by start time."""
    now = datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%S") + f"{now.microsecond // 1000:03d}-" + secrets.token_hex(3)


def _keep_out_of_git(fs, root: str) -> None:
    """A local state directory holds run journals and, by default, database dumps: a
    ``.gitignore`` of ``*`` inside it keeps all of it out of the repository it was created in
    (as pytest does with ``.pytest_cache``), written once, never over the user's own."""
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    if not {"file", "local"} & set(protocols):
        return
    marker = f"{root}/.gitignore"
    if not fs.exists(marker):
        with fs.open(marker, "w", encoding="utf-8") as handle:
            handle.write("# created by planrun: what it keeps here stays out of git\n*\n")


class _TypedEvents:
    """What every journal does with typed events: record them, and hand them to subscribers."""

    subscriptions: Subscriptions
    record: Callable[..., dict]  # each journal's own way of writing a record
    declared: DeclaredEvents | None = None  # what may be recorded (None: a journal read back, or a bare test)

    def declare(self, declared: DeclaredEvents) -> None:
        """From now on every record is checked against the declared event types."""
        self.declared = declared

    def _checked(self, event: str, fields: dict[str, Any]) -> None:
        if self.declared is not None:
            self.declared.check(event, fields, _warn)

    def emit(self, event: JournalEvent, **extra: Any) -> dict:
        """Record a typed event (see :mod:`.journal_events`) and hand it to its subscribers."""
        recorded = self.record(event.name, **event.fields(), **extra)
        self.subscriptions.deliver(event)
        return recorded

    def subscribe(self, kind: type, handler: Callable[[Any], None]) -> None:
        """``handler(event)`` for every event of type ``kind`` recorded from now on in this run."""
        self.subscriptions.subscribe(kind, handler)


class Journal(_TypedEvents):
    """Appends records of one run. Local files are appended to and flushed per record; other
    filesystems have the whole file rewritten per record (they cannot append)."""

    def __init__(self, state_dir: str, run_id: str, redact: Callable[[str], str] = lambda s: s):
        self.state_dir = state_dir.rstrip("/")
        self.run_id = run_id
        self.redact = redact
        import fsspec  # imported when a journal is opened, so --help stays fast

        self.fs, root = fsspec.core.url_to_fs(self.state_dir)
        self.path = f"{root}/runs/{run_id}.jsonl"
        self.fs.makedirs(f"{root}/runs", exist_ok=True)
        _keep_out_of_git(self.fs, root)
        self._lines: list[str] = []
        self.listeners: list[Callable[[dict], None]] = []  # e.g. the history plugin's copy in the database
        self.subscriptions = Subscriptions(_warn)
        self._appendable = "local" in getattr(self.fs, "protocol", ()) or self.fs.protocol == "file"
        if self._appendable:  # find an unwritable state directory now, not after the run started
            with self.fs.open(self.path, "a", encoding="utf-8"):
                pass

    def record(self, event: str, **fields: Any) -> dict:
        self._checked(event, fields)
        entry = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds"), "run_id": self.run_id, "event": event}
        entry.update(fields)
        line = self.redact(json.dumps(entry, default=str, sort_keys=False))
        if self._appendable:
            with self.fs.open(self.path, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
        else:
            self._lines.append(line)
            self.fs.pipe_file(self.path, ("\n".join(self._lines) + "\n").encode())
        recorded = json.loads(line)
        for listener in list(self.listeners):
            try:
                listener(recorded)
            except Exception:  # a copy that fails must never stop the run; the file has the record
                pass
        return recorded


def read_journals(state_dir: str) -> Iterator[list[dict]]:
    """Every run's records, oldest run first. A line that is not JSON (a run killed mid-write)
    is skipped rather than failing the whole history."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(state_dir.rstrip("/"))
    pattern = f"{root}/runs/*.jsonl"
    for path in sorted(fs.glob(pattern)):
        records = _records(fs, path)
        if records:
            yield records


def read_run(state_dir: str, run_id: str) -> list[dict]:
    """One run's records (empty when its journal is not under ``state_dir``)."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(state_dir.rstrip("/"))
    try:
        return _records(fs, f"{root}/runs/{run_id}.jsonl")
    except FileNotFoundError:
        return []


def _records(fs, path: str) -> list[dict]:
    records = []
    with fs.open(path, "r", encoding="utf-8") as handle:
        for line in handle:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:  # a run killed mid-write: its last line is skipped
                continue
    return records


def run_summary(records: list[dict]) -> dict:
    """One line of ``planrun history``: what ran, when, how it ended."""
    start = next((r for r in records if r["event"] == "run_start"), records[0])
    end = next((r for r in reversed(records) if r["event"] == "run_end"), None)
    return {
        "run_id": start.get("run_id"),
        "started": start.get("ts"),
        "plan": start.get("plan"),
        "command": start.get("command"),
        "target": start.get("target"),
        "outcome": end.get("outcome") if end else ("died" if _gone(start) else "unfinished"),
        "duration": end.get("duration") if end else None,
        "error": end.get("error") if end else None,
    }


def runner_identity() -> dict:
    """Who runs: written in every run_start, so that a run whose process is gone can be told
    from a live one (on the same host) by reading its journal alone."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _gone(start: dict) -> bool:
    """True when the run started on this host and its process no longer exists."""
    if start.get("host") != socket.gethostname() or not isinstance(start.get("pid"), int):
        return False
    try:
        os.kill(start["pid"], 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


class NullJournal(Journal):
    """A journal that keeps nothing: for looks that must not leave a trace (the dry run)."""

    def __init__(self, run_id: str = "dry-run"):
        self.run_id = run_id
        self.redact = lambda s: s
        self.subscriptions = Subscriptions(_warn)
        self.listeners = []  # nothing is recorded, so nobody listens: record() never calls them

    def record(self, event: str, **fields: Any) -> dict:
        self._checked(event, fields)
        return {"run_id": self.run_id, "event": event, **fields}


class TargetJournal(_TypedEvents):
    """One target's share of the journal of a run over several targets: its records go to the
    run's one journal marked ``target_key=NAME``, and its listeners (a copy kept in that target's
    database) hear only them."""

    def __init__(self, journal: Journal, name: str | None):
        self.journal = journal
        self.name = name
        self.run_id = journal.run_id
        self.redact = journal.redact
        self.listeners: list[Callable[[dict], None]] = []
        self.subscriptions = journal.subscriptions  # a reader of one type hears every target's events

    def record(self, event: str, **fields: Any) -> dict:
        recorded = self.journal.record(event, target_key=self.name, **fields)
        for listener in list(self.listeners):
            try:
                listener(recorded)
            except Exception:  # as Journal.record: a failing copy never stops the run
                pass
        return recorded
