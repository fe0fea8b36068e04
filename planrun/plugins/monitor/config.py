"""The plan's ``monitor:`` section and its alert rules.

A rule reads ``{when: lock_wait > 5s, do: abort}``. The condition is parsed once, here, so a
misspelt metric or a value in the wrong unit is a plan error with its line, not a surprise at
the first sample.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import Field, PlainSerializer, WithJsonSchema, field_validator

from planrun.plugin import Duration, Section, did_you_mean, parse_duration

# name -> (unit, what it measures)
METRICS: dict[str, tuple[str, str]] = {
    "lock_wait": (
        "duration",
        "the longest current lock wait the migration is part of: the migration waiting, or a session queued behind it",
    ),
    "blocked_sessions": ("count", "sessions of this database waiting for a lock"),
    "query_runtime": ("duration", "the longest running query other than the migration's"),
    "migration_runtime": ("duration", "how long the migration's current statement has run"),
    "db_size_growth": ("percent", "growth of the database's size since the step began"),
    "replication_lag": ("duration", "the largest replay lag of any standby"),
}
_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
_CONDITION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|>|<)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Condition:
    metric: str
    op: str
    threshold: float  # seconds, a count, or a percentage
    text: str

    def holds(self, value: float | None) -> bool:
        return value is not None and _OPS[self.op](value, self.threshold)

    def __str__(self) -> str:
        return self.text


def parse_condition(value: Any) -> Condition:
    if isinstance(value, Condition):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a condition like 'lock_wait > 5s', got {value!r}")
    match = _CONDITION.match(value)
    if not match:
        raise ValueError(f"expected a condition like 'lock_wait > 5s' (metric, one of > >= < <=, value), got {value!r}")
    metric, op, raw = match.groups()
    if metric not in METRICS:
        raise ValueError(f"unknown metric '{metric}'{did_you_mean(metric, METRICS)}; known: {', '.join(METRICS)}")
    unit = METRICS[metric][0]
    threshold = _threshold(metric, unit, raw)
    return Condition(metric, op, threshold, f"{metric} {op} {raw}")


def _threshold(metric: str, unit: str, raw: str) -> float:
    if unit == "duration":
        try:
            return parse_duration(raw).total_seconds()
        except ValueError:
            raise ValueError(f"{metric} is a duration: write the value like 5s or 2min, got {raw!r}") from None
    if unit == "percent":
        match = re.fullmatch(r"(\d+(?:\.\d+)?)%?", raw)
        if not match:
            raise ValueError(f"{metric} is a percentage: write the value like 20%, got {raw!r}")
        return float(match[1])
    if not re.fullmatch(r"\d+", raw):
        raise ValueError(f"{metric} is a count: write a whole number, got {raw!r}")
    return float(raw)


ConditionField = Annotated[
    Condition,
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "examples": ["lock_wait > 5s", "blocked_sessions > 20", "db_size_growth > 20%"],
            "description": "metric op value; metrics: " + ", ".join(METRICS),
        }
    ),
]


class AlertRule(Section):
    """When a metric crosses its threshold, do something, once per episode (until it clears)."""

    when: ConditionField = Field(
        ...,
        description="metric op value, e.g. lock_wait > 5s. Metrics: "
        + "; ".join(f"{k}: {v[1]}" for k, v in METRICS.items()),
    )
    do: Literal["abort", "pause", "notify"] = Field(
        ...,
        description="abort: cancel the migration and roll back; pause: batched backfills wait until it clears; "
        "notify: tell the notifiers (event 'alert').",
    )

    @field_validator("when", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Condition:
        return parse_condition(value)


class MonitorConfig(Section):
    """Watch the database from a connection of its own while the migration runs: the migration's
    statement and waits, blocked sessions, long queries, size, index builds, standbys' lag."""

    enabled: bool = Field(True, description="false: no monitoring (the monitor also runs when this section is absent).")
    every: Duration = Field(timedelta(seconds=2), description="How often to sample.")
    alerts: list[AlertRule] = Field([], description="Rules evaluated on every sample.")
    pushgateway: str | None = Field(None, description="A Prometheus Pushgateway URL to push each sample's metrics to.")

    @field_validator("every")
    @classmethod
    def _not_too_often(cls, value: timedelta) -> timedelta:
        if value < timedelta(milliseconds=50):
            raise ValueError("monitor.every must be at least 50ms")
        return value
