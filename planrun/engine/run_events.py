"""The journal events the engine itself records, typed like every plugin's (see
:mod:`.journal_events`): a run's start and end, each step's, the rollback's attempts, the commit
decision of a run over several targets, notifications, the run's control and progress.

A plugin reads them by type as it reads another plugin's: ``StepEnded.all_in(records)`` on a
dead run's journal, ``ctx.journal.subscribe(StepEnded, ...)`` in a live run. Their names are the
journal file's ``event`` values since planrun's first release, so old journals read the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .journal_events import JournalEvent


@dataclass(frozen=True)
class RunStarted(JournalEvent):
    """A run's first record: what runs where, by whom (``host`` and ``pid``: a run whose process
    is gone can be told from a live one by its journal alone); ``targets`` and ``coordinate`` for
    a run over several targets."""

    name = "run_start"
    planrun_version: str = ""
    command: str = ""
    plan: str = ""
    plan_file: str = ""
    target: str | None = None
    steps: list[str] = field(default_factory=list)
    host: str = ""
    pid: int = 0
    targets: dict[str, str] | None = None
    coordinate: str | None = None


@dataclass(frozen=True)
class RunEnded(JournalEvent):
    """A run's last record: how it ended; ``facts`` (one target) or ``targets`` (several) say
    what the plugins published and how each target ended."""

    name = "run_end"
    outcome: str = ""
    exit_code: int = 0
    duration: float = 0.0
    error: str | None = None
    failed_step: str | None = None
    facts: dict[str, Any] | None = None
    targets: dict[str, dict[str, Any]] | None = None


@dataclass(frozen=True)
class TargetEnded(JournalEvent):
    """How one target of a run over several ended (in that target's share of the journal)."""

    name = "target_end"
    outcome: str = ""
    error: str | None = None
    steps: dict[str, float] = field(default_factory=dict)  # each step that ran, with its seconds


@dataclass(frozen=True)
class StepStarted(JournalEvent):
    """A step began. ``method`` names the rollback method of a rollback attempt's step."""

    name = "step_start"
    step: str = ""
    phase: str = ""
    method: str | None = None


@dataclass(frozen=True)
class StepEnded(JournalEvent):
    """A step ended: ``outcome`` ok or failed, with its summary or its error (and the traceback
    of an error no plugin expected). ``method`` names the rollback method of a rollback attempt."""

    name = "step_end"
    step: str = ""
    phase: str = ""
    outcome: str = ""
    duration: float = 0.0
    summary: str | None = None
    error: str | None = None
    traceback: str | None = None
    method: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


@dataclass(frozen=True)
class GuardFailed(JournalEvent):
    """A plugin refused to let the run go on ``before`` a step (say, its lock is gone)."""

    name = "guard_failed"
    before: str = ""
    error: str = ""


@dataclass(frozen=True)
class PreflightFound(JournalEvent):
    """A plugin's preflight finding; ``severity`` error refuses the run before anything changes."""

    name = "preflight"
    severity: str = ""
    message: str = ""
    source: str = ""


@dataclass(frozen=True)
class SnapshotTaken(JournalEvent):
    """The snapshot the rollback's proof compares with: each plugin's digest."""

    name = "snapshot"
    when: str = "before"
    digests: dict[str, str] = field(default_factory=dict)
    duration: float = 0.0


@dataclass(frozen=True)
class RollbackRetried(JournalEvent):
    """A rollback method failed and is tried again after ``wait`` seconds."""

    name = "rollback_retry"
    method: str = ""
    error: str | None = None
    wait: float = 0.0


@dataclass(frozen=True)
class RollbackEnded(JournalEvent):
    """The rollback is over: ``ok`` (proven) or not, by which method, after how many attempts."""

    name = "rollback_end"
    ok: bool = False
    method: str | None = None
    duration: float = 0.0
    within: float = 0.0
    attempts: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class CommitDecided(JournalEvent):
    """A run over several targets decided to commit every target's change (written before the
    first commit: a dead run with it is finished forward, one without it undone)."""

    name = "commit_decision"
    commit: bool = True


@dataclass(frozen=True)
class CommitRetried(JournalEvent):
    """Committing a target's deferred change failed and is tried again."""

    name = "commit_retry"
    error: str = ""
    wait: float = 0.0


@dataclass(frozen=True)
class AbandonFailed(JournalEvent):
    """Abandoning a target's deferred change failed (recovery will finish it)."""

    name = "abandon_failed"
    error: str = ""


@dataclass(frozen=True)
class Notified(JournalEvent):
    """A notifier was told (after ``attempts`` tries)."""

    name = "notified"
    notifier: str = ""
    kind: str = ""
    attempts: int = 1


@dataclass(frozen=True)
class NotifyFailed(JournalEvent):
    """A notifier could not be told; the run's outcome is unchanged."""

    name = "notify_failed"
    notifier: str = ""
    kind: str = ""
    error: str | None = None


@dataclass(frozen=True)
class Paused(JournalEvent):
    """Someone (``reason`` says who and why) paused the run between two pieces of work."""

    name = "control_pause"
    reason: str = ""


@dataclass(frozen=True)
class Resumed(JournalEvent):
    """The one who paused the run let it go on."""

    name = "control_resume"
    reason: str = ""


@dataclass(frozen=True)
class AbortAsked(JournalEvent):
    """Someone asked the run to stop; it rolls back from where it is."""

    name = "control_abort"
    reason: str = ""


@dataclass(frozen=True)
class ProgressReported(JournalEvent):
    """Long work's progress (at most one record a second per piece of work)."""

    name = "progress"
    work: str = ""  # which piece of work
    done: int = 0
    total: int | None = None
    rate: float = 0.0
    eta: float | None = None


CONTROL_CHANGES = {"pause": Paused, "resume": Resumed, "abort": AbortAsked}

ENGINE_EVENTS: list[type[JournalEvent]] = [
    RunStarted,
    RunEnded,
    TargetEnded,
    StepStarted,
    StepEnded,
    GuardFailed,
    PreflightFound,
    SnapshotTaken,
    RollbackRetried,
    RollbackEnded,
    CommitDecided,
    CommitRetried,
    AbandonFailed,
    Notified,
    NotifyFailed,
    Paused,
    Resumed,
    AbortAsked,
    ProgressReported,
]
