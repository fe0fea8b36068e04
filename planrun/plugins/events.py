"""The journal events built-in plugins record and others read, typed (see
:mod:`planrun.engine.journal_events`): a shared module, so that reading another plugin's event
never means importing that plugin or parsing its strings."""

from __future__ import annotations

from dataclasses import dataclass, field

from planrun.plugin import JournalEvent


@dataclass(frozen=True)
class MigrationPlanned(JournalEvent):
    """The migrate step is about to change the target: from ``start`` (its heads) to ``target``,
    through ``pending`` (revision ids, in the order they run); ``direction`` is ``down`` for a
    release rollback. Recorded by the migrate plugin; a dead run's one tells ``recover`` and
    ``status`` where it was going."""

    name = "migrate_plan"
    start: list[str] = field(default_factory=list)
    target: str | None = None
    pending: list[str] = field(default_factory=list)
    direction: str = "up"


@dataclass(frozen=True)
class RevisionApplied(JournalEvent):
    """A revision is applied on ``target`` (its file as it ran: ``path``, ``sha256``); ``how`` is
    ``repaired`` when ``planrun repair`` accepted an edited file instead."""

    name = "revision_applied"
    revision: str = ""
    path: str = ""
    sha256: str = ""
    target: str | None = None
    how: str = "planrun"


@dataclass(frozen=True)
class RevisionUndone(JournalEvent):
    """A release rollback undid a revision on ``target``."""

    name = "revision_undone"
    revision: str = ""
    path: str = ""
    target: str | None = None


@dataclass(frozen=True)
class LockBusy(JournalEvent):
    """Another run holds the target's lock (``holder``: who, as the server tells it). Recorded by
    the lock plugin; a fleet worker reads it to put the target back in the queue."""

    name = "lock_busy"
    holder: str = ""


@dataclass(frozen=True)
class PartialCommit(JournalEvent):
    """A revision committed part of its work outside its transaction (a batched backfill, an
    autocommit block): its rollback must undo that part too. Journaled as the run goes (a dead
    run's note tells ``recover``); declared by the migrate plugin, which reads it."""

    name = "partial_commit"
    revision: str | None = None
    what: str = ""


@dataclass(frozen=True)
class OwnTransaction(JournalEvent):
    """A batch committed in a transaction of its own (``xid``) wrote ``table``: the run still
    tells its rows from other transactions'. Kept in the run, not journaled."""

    name = "own_transaction"
    xid: int = 0
    table: str = ""


# declared by the migrate plugin (the last two are planrun.zdt's run notes, which it reads)
MIGRATE_EVENTS = [MigrationPlanned, RevisionApplied, RevisionUndone, PartialCommit, OwnTransaction]
LOCK_EVENTS = [LockBusy]  # declared by the lock plugin
