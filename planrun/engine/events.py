"""What notifiers are told."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    """One thing that happened in a run: ``kind`` is start, success, failure, rollback or alert.

    ``facts`` holds what plugins learnt (revisions from/to, backup location, rollback
    duration...); ``error`` is the first error, already redacted.
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
        """The event as every notifier tells it: what ran where, from which revision to which,
        how long, where the backup is, how the rollback went, and the first error."""
        facts = self.facts
        rollback = facts.get("rollback") or {}
        return {
            "event": self.kind,
            "plan": self.plan,
            "run_id": self.run_id,
            "database": self.target,
            "message": self.message,
            "revision_from": facts.get("revision_from") or facts.get("revision_before"),
            "revision_to": facts.get("revision_to"),
            "duration_seconds": round(self.duration, 3) if self.duration is not None else None,
            "backup_location": facts.get("backup_location"),
            "rollback": {"ok": rollback.get("ok"), "method": rollback.get("method"), "duration_seconds": rollback.get("duration")} if rollback else None,
            "error": self.error,
            "alert": facts.get("alert"),
            "planrun_version": facts.get("planrun_version"),
        }
