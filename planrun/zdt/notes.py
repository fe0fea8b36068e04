"""The notes the zero-downtime helpers leave for the run, typed (see
:mod:`planrun.engine.journal_events`): the migrate plugin and the write watch read them by type,
never by a name both would have to spell alike."""

from __future__ import annotations

from dataclasses import dataclass

from planrun.engine.journal_events import JournalEvent


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
