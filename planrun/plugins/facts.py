"""The run facts the built-in plugins publish and read from each other, typed (revision ids,
not their display): a shared module, so that reading another plugin's fact never means
importing that plugin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from planrun.engine.facts import Fact


def show(heads: tuple[str, ...] | None) -> str:
    """Heads as people read them: ``a1, b2``, or ``base (empty)`` before the first revision."""
    return ", ".join(heads) if heads else "base (empty)"


@dataclass(frozen=True)
class Revisions(Fact):
    """Where the target was before the run (``before``: read in the preflight), where the
    migration started and where it was asked to go."""

    before: tuple[str, ...] | None = None
    start: tuple[str, ...] | None = None
    target: str | None = None
    committed: str | None = None  # what a failed upgrade left committed, in words

    @property
    def origin(self) -> tuple[str, ...] | None:
        return self.start if self.start is not None else self.before

    def payload(self) -> dict[str, Any]:
        origin = self.origin
        return {"revision_from": show(origin) if origin is not None else None, "revision_to": self.target}


@dataclass(frozen=True)
class BackupTaken(Fact):
    """Where the run's backup was written (published by the backup plugin)."""

    location: str | None = None

    def payload(self) -> dict[str, Any]:
        return {"backup_location": self.location}
