"""The journal events the migrate plugin records and only it reads (typed: see
``planrun.plugin.JournalEvent``); those other plugins read are in ``planrun.plugins.events``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from planrun.plugin import JournalEvent


@dataclass(frozen=True)
class TablesWritten(JournalEvent):
    """Which tables the migration's transactions wrote (``unseen``: what the watch could not
    attribute), for a scoped backup's and a rollback's proof."""

    name = "tables_written"
    verb: str = ""
    tables: list[str] | None = None
    unseen: Any = None
    transactions: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Prepared(JournalEvent):
    """The migration is prepared (two-phase) as ``gid`` and waits for the other targets."""

    name = "prepared"
    gid: str = ""
    start: list[str] = field(default_factory=list)
    target: str | None = None


@dataclass(frozen=True)
class PreparedCommitted(JournalEvent):
    """The prepared transaction ``gid`` was committed."""

    name = "committed"
    gid: str = ""


@dataclass(frozen=True)
class PreparedRolledBack(JournalEvent):
    """The prepared transaction ``gid`` was rolled back."""

    name = "prepared_rolled_back"
    gid: str = ""


@dataclass(frozen=True)
class StampedPartlyApplied(JournalEvent):
    """A failed revision had committed part of its work: stamped as applied, so that its own
    downgrade undoes that part."""

    name = "stamped_partly_applied"
    revision: str = ""
    committed: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class MigrationCancelled(JournalEvent):
    """The migration's statements were cancelled on an abort (``backends``: the cancelled pids)."""

    name = "migration_cancelled"
    reason: str = ""
    backends: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class LockRetried(JournalEvent):
    """A revision hit ``lock_timeout`` and is tried again after ``wait`` seconds."""

    name = "lock_retry"
    revision: str = ""
    attempt: int = 0
    wait: float = 0.0
    error: str = ""


@dataclass(frozen=True)
class RevisionsRecordedLate(JournalEvent):
    """The applied revisions could not be recorded inside the migration's transactions."""

    name = "revisions_recorded_late"
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RevisionsAdopted(JournalEvent):
    """Revisions applied before planrun kept records, now recorded as found."""

    name = "revisions_adopted"
    revisions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RevisionRepaired(JournalEvent):
    """``planrun repair`` accepted an applied revision's edited file."""

    name = "revision_repaired"
    revision: str = ""
    path: str = ""
    old_sha256: str = ""
    sha256: str = ""
    reason: str = ""
    by: str = ""


EVENTS = [
    TablesWritten,
    Prepared,
    PreparedCommitted,
    PreparedRolledBack,
    StampedPartlyApplied,
    MigrationCancelled,
    LockRetried,
    RevisionsRecordedLate,
    RevisionsAdopted,
    RevisionRepaired,
]
