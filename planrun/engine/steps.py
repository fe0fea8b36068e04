"""What plugins hand the runner: steps to run, check results, preflight findings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime

    from .context import RunContext
    from .snapshot import Snapshot

# The fixed order of a run, and the engine's one list of its phase names: steps name their
# phase, and the engine reads phases only through the names below. A failure in the changing
# phase or later is rolled back; a failure before it stops the run before any change step ran.
PHASES = ("lock", "pre-checks", "backup", "verify", "migrate", "post-checks")
HOLDING, PRE_CHECKING, SAFEGUARDING, SAFEGUARD_CHECKING, CHANGING, POST_CHECKING = PHASES
FIRST_CHANGING_PHASE = CHANGING


@dataclass(frozen=True)
class Step:
    """One named unit of a run. ``run`` raises to fail; its return value (a short summary
    string, or None) is shown beside the step and written to the journal."""

    name: str
    phase: str
    run: Callable[[RunContext], str | None]
    description: str = ""

    def __post_init__(self) -> None:
        if self.phase not in PHASES:
            raise ValueError(f"step {self.name!r}: unknown phase {self.phase!r}; expected one of {PHASES}")


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str
    actual: Any = None


@dataclass(frozen=True)
class StatusSection:
    """One section of ``planrun status``: a ``title``, its ``lines``, and its ``problems`` (any
    problem makes the command exit 1: a dead run, an edited applied revision, drift)."""

    title: str
    lines: list[str]
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Finding:
    """Something a preflight look found. ``error`` stops ``apply``; ``warning`` is reported."""

    severity: str
    message: str
    source: str = ""
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class DeadRun:
    """A run on the target that started, never ended, and whose process is gone, as the plugin
    that keeps runs found it (``planrun_dead_runs``): who ran what where, the step it died
    at, the snapshots it took before changing anything (``None``: it died before), and its
    journal's records (what ``planrun recover`` resumes it from)."""

    run_id: str
    command: str | None = None
    plan: str | None = None
    host: str | None = None
    pid: int | None = None
    step: str | None = None
    heartbeat_at: datetime | None = None  # the store's clock
    snapshots: dict[str, Snapshot] | None = None
    events: tuple[dict, ...] = ()

    @property
    def is_recover(self) -> bool:
        """A ``planrun recover`` that died itself: the run it was recovering is still dead."""
        return self.command == "recover"
