"""What a check's query must return (``0``, ``"> 0"``, ``"<= 10"``), parsed once."""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

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
