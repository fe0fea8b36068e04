"""What notifiers are told."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    """One thing that happened in a run: ``kind`` is start, success, failure, rollback or alert.

    ``facts`` is the run's facts as notifications show them (see :meth:`Facts.payload`: what
    each plugin published, e.g. the revisions and the backup's location), plus what came with
    this event alone; ``error`` is the first error, already redacted.
    """

    kind: str
    plan: str
    run_id: str
    target: str
    message: str
    facts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    duration: float | None = None

    def payload(self) -> dict[str, Any]:
        """The event as every notifier tells it: what ran where, how long, the first error, and
        every fact plugins published about the run."""
        return {
            **self.facts,
            "event": self.kind,
            "plan": self.plan,
            "run_id": self.run_id,
            "database": self.target,
            "message": self.message,
            "duration_seconds": round(self.duration, 3) if self.duration is not None else None,
            "error": self.error,
        }
