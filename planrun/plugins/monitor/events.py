"""The journal events the monitor records (typed: see ``planrun.plugin.JournalEvent``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from planrun.plugin import JournalEvent


@dataclass(frozen=True)
class MonitorSampled(JournalEvent):
    """One sample of the target while the migration runs."""

    name = "monitor_sample"
    metrics: dict[str, float | None] = field(default_factory=dict)
    migration: dict[str, Any] | None = None
    waits: list[Any] = field(default_factory=list)
    blockers: list[Any] = field(default_factory=list)
    long_queries: list[Any] = field(default_factory=list)
    size: Any = None
    indexes: Any = None
    replication: Any = None


@dataclass(frozen=True)
class AlertFired(JournalEvent):
    """An alert rule's condition held (``do``: what the monitor did about it)."""

    name = "alert"
    when: str = ""
    do: str = ""
    metric: str = ""
    value: float | None = None
    message: str = ""


@dataclass(frozen=True)
class AlertCleared(JournalEvent):
    """An alert's condition no longer holds."""

    name = "alert_cleared"
    when: str = ""
    do: str = ""


@dataclass(frozen=True)
class Throttled(JournalEvent):
    """Batched work slowed down or sped up by ``factor`` (blocked sessions, replication lag)."""

    name = "throttle"
    factor: float = 1.0
    blocked_sessions: float | None = None
    replication_lag: float | None = None


@dataclass(frozen=True)
class MonitorEnded(JournalEvent):
    """The monitor stopped: how many samples it took."""

    name = "monitor_end"
    samples: int = 0
    queries: int = 0


EVENTS = [MonitorSampled, AlertFired, AlertCleared, Throttled, MonitorEnded]
