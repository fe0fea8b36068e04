"""``migrate.to``: ``head``, a revision id, or ``+N`` steps from the current revision, parsed once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

_REVISION = re.compile(r"^[A-Za-z0-9_\-]+$")
_RELATIVE = re.compile(r"^\+([1-9]\d*)$")


@dataclass(frozen=True)
class RevisionTarget:
    """Where a migration goes: ``kind`` is ``head``, ``heads`` (every head: projects with two
    heads by design), ``relative`` (``steps`` forward) or ``revision``."""

    kind: str
    revision: str | None = None
    steps: int = 0

    def __str__(self) -> str:
        if self.kind in ("head", "heads"):
            return self.kind
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
            return RevisionTarget(text)
        relative = _RELATIVE.match(text)
        if relative:
            return RevisionTarget("relative", steps=int(relative[1]))
        if _REVISION.match(text):
            return RevisionTarget("revision", revision=text)
    raise ValueError(f"expected head, heads, a revision id or +N, got {value!r}")


RevisionTargetField = Annotated[
    RevisionTarget,
    BeforeValidator(parse_revision_target),
    PlainSerializer(str, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["head", "heads", "+1", "ae1027a6acf"]}),
]
