"""Values a plan spells as short strings, parsed once here so no step re-parses them.

- Duration: ``3s``, ``500ms``, ``5min``, ``1h`` (a bare number is seconds).
- RevisionTarget: ``head``, a revision id, or ``+N`` steps from the current revision.
- Expectation: what a check's query must return: ``0``, ``"> 0"``, ``"<= 10"``.
"""
from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}
DURATION_PATTERN = r"^\s*\d+(\.\d+)?\s*(ms|s|sec|m|min|h)\s*$"


def parse_duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return timedelta(seconds=float(match[1]) * _UNIT_SECONDS[match[2]])
    raise ValueError(f"expected a duration like 3s or 5min, got {value!r}")


def format_duration(value: timedelta) -> str:
    seconds = value.total_seconds()
    if seconds and seconds < 1:
        return f"{round(seconds * 1000)}ms"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}min"
    return f"{seconds:g}s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": DURATION_PATTERN},
                {"type": "number", "minimum": 0},
            ],
            "examples": ["3s", "500ms", "5min"],
        }
    ),
]

_REVISION = re.compile(r"^[A-Za-z0-9_\-]+$")
_RELATIVE = re.compile(r"^\+([1-9]\d*)$")


@dataclass(frozen=True)
class RevisionTarget:
    """Where a migration goes: ``kind`` is ``head``, ``relative`` (``steps`` forward) or ``revision``."""

    kind: str
    revision: str | None = None
    steps: int = 0

    def __str__(self) -> str:
        if self.kind == "head":
            return "head"
        if self.kind == "relative":
            return f"+{self.steps}"
        return str(self.revision)


def parse_revision_target(value: Any) -> RevisionTarget:
    if isinstance(value, RevisionTarget):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        value = f"{value:03d}" if value >= 0 else str(value)
    if isinstance(value, str):
        text = value.strip()
        if text in ("head", "heads"):
            return RevisionTarget("head")
        relative = _RELATIVE.match(text)
        if relative:
            return RevisionTarget("relative", steps=int(relative[1]))
        if _REVISION.match(text):
            return RevisionTarget("revision", revision=text)
    raise ValueError(f"expected head, a revision id or +N, got {value!r}")


RevisionTargetField = Annotated[
    RevisionTarget,
    BeforeValidator(parse_revision_target),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["head", "+1", "ae1027a6acf"]}),
]

_OPERATORS = {
    "==": operator.eq,
    "=": operator.eq,
    "!=": operator.ne,
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
}
_EXPECTATION = re.compile(r"^\s*(==|=|!=|<=|>=|<|>)?\s*(-?\d+(?:\.\d+)?)\s*$")


@dataclass(frozen=True)
class Expectation:
    """A comparison a single value must satisfy, e.g. ``> 0``."""

    op: str
    value: float

    def matches(self, actual: Any) -> bool:
        try:
            number = float(actual)
        except (TypeError, ValueError):
            return False
        return _OPERATORS[self.op](number, self.value)

    def __str__(self) -> str:
        value = int(self.value) if self.value == int(self.value) else self.value
        return f"{value}" if self.op in ("==", "=") else f"{self.op} {value}"


def parse_expectation(value: Any) -> Expectation:
    if isinstance(value, Expectation):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Expectation("==", float(value))
    if isinstance(value, str):
        match = _EXPECTATION.match(value)
        if match:
            return Expectation(match[1] or "==", float(match[2]))
    raise ValueError(f"expected a number or a comparison like '> 0' or '<= 10', got {value!r}")


ExpectationField = Annotated[
    Expectation,
    BeforeValidator(parse_expectation),
    PlainSerializer(str, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number"},
                {"type": "string", "pattern": r"^\s*(==|=|!=|<=|>=|<|>)?\s*-?\d+(\.\d+)?\s*$"},
            ],
            "examples": [0, "> 0", "<= 10"],
        }
    ),
]
