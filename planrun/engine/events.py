"""What notifiers are told."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .facts import Fact


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


# What every notification carries, whatever plugins are loaded (the facts add their own keys).
CORE_PAYLOAD: dict[str, dict[str, Any]] = {
    "event": {
        "enum": ["start", "success", "failure", "rollback", "alert"],
        "description": "What happened: the run started, succeeded, failed or was rolled back, or an alert was raised "
        "during it.",
    },
    "plan": {"type": "string", "description": "The plan's name."},
    "run_id": {"type": "string", "description": "The run's id (its journal, history and status name it)."},
    "database": {"type": "string", "description": "The target as host:port/database, never with credentials."},
    "message": {"type": "string", "description": "One line saying what happened (redacted)."},
    "duration_seconds": {"type": ["number", "null"], "description": "How long the run took, when it ended."},
    "error": {"type": ["string", "null"], "description": "The first error, redacted; null when none."},
    "planrun_version": {"type": "string", "description": "The planrun that ran the plan."},
    "alert": {
        "type": ["object", "null"],
        "description": "For an alert event: what raised it, as the plugin that raised it says (the rule's "
        "condition, its action and the value that crossed it); null otherwise.",
    },
}


def payload_schema(fact_types: list[type[Fact]], *, closed: bool = False) -> dict[str, Any]:
    """The JSON Schema of what notifiers are told (:meth:`Event.payload`): the keys every event
    has, then each fact type's (``Fact.payload_schema``). ``closed``: no key beyond those (the
    built-ins' payloads are held to it; a third party's fact may add keys)."""
    properties = dict(CORE_PAYLOAD)
    for kind in fact_types:
        properties.update(kind.payload_schema)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "planrun notification payload",
        "description": "The JSON object every notifier is told: what ran where, how it ended, and what the "
        "plugins learnt about the run.",
        "type": "object",
        "properties": properties,
        "required": sorted(CORE_PAYLOAD),
        "additionalProperties": not closed,
    }
