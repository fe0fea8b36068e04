"""The journal events the backup plugin records (typed: see ``planrun.plugin.JournalEvent``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from planrun.plugin import JournalEvent


@dataclass(frozen=True)
class BackupRecorded(JournalEvent):
    """A backup of the target was written to ``location`` (``scope``: the tables it holds, or
    ``None`` for the whole database; ``scope_fallback`` why a narrower scope was not possible)."""

    name = "backup"
    location: str = ""
    size: int = 0
    files: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    tables: int = 0
    scope: list[str] | None = None
    scope_fallback: str | None = None


@dataclass(frozen=True)
class RestoreSpeed(JournalEvent):
    """How fast a verification by restore loaded the backup of ``target``: the next runs'
    rollback estimate is made from the last one."""

    name = "restore-speed"  # spelled as in the journals of earlier versions, whose speeds still count
    target: str | None = None
    bytes: int = 0
    seconds: float = 0.0
    bytes_per_second: float = 0.0


@dataclass(frozen=True)
class RollbackEstimated(JournalEvent):
    """How long a restore of this run's backup would take, against ``rollback.within``."""

    name = "rollback_estimate"
    seconds: float = 0.0
    bytes: int = 0
    scope: list[str] | None = None
    measured: bool = False
    within: float = 0.0


@dataclass(frozen=True)
class Swept(JournalEvent):
    """What killed runs left behind, removed: half-written backups, stale password files."""

    name = "swept"
    partial_backups: list[str] = field(default_factory=list)
    secret_files: int = 0


@dataclass(frozen=True)
class RetentionApplied(JournalEvent):
    """Old backups deleted by ``backup.keep``."""

    name = "retention"
    deleted: list[str] = field(default_factory=list)


EVENTS = [BackupRecorded, RestoreSpeed, RollbackEstimated, Swept, RetentionApplied]
