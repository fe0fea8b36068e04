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
