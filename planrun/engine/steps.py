"""What plugins hand the runner: steps to run, check results, preflight findings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .context import RunContext

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
