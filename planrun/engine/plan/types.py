"""Values a plan spells as short strings, parsed once here so no step re-parses them.

- Duration: ``3s``, ``500ms``, ``5min``, ``1h`` (a bare number is seconds).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|sec|m|min|h)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}
DURATION_PATTERN = r"^\s*\d+(\.\d+)?\s*(ms|s|sec|m|min|h)\s*$"


MAX_DURATION_SECONDS = 366 * 86400  # a year: any longer is a typo, and would overflow a timedelta


def parse_duration(value: Any) -> timedelta:
    seconds = None
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            seconds = float(match[1]) * _UNIT_SECONDS[match[2]]
    if seconds is None or not seconds >= 0:  # (not >= also refuses NaN)
        raise ValueError(f"expected a duration like 3s or 5min, got {_shown(value)}")
    if seconds > MAX_DURATION_SECONDS:
        raise ValueError(f"expected a duration of at most a year (366 days), got {_shown(value)}")
    return timedelta(seconds=seconds)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


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
