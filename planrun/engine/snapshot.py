"""A named picture of the target taken before a run and after its rollback. The engine only
compares them; plugins decide what goes in (the schema fingerprint, row counts...)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Snapshot:
    """``digest`` decides equality; ``items`` (normalised lines) let a difference be named."""

    digest: str
    items: tuple[str, ...] = ()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Snapshot) and other.digest == self.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    def differences(self, later: "Snapshot", limit: int = 20) -> list[str]:
        """What ``later`` lacks (``-``) and what it has in excess (``+``) compared to this one."""
        before, after = set(self.items), set(later.items)
        lines = [f"- {item}" for item in sorted(before - after)] + [f"+ {item}" for item in sorted(after - before)]
        if len(lines) > limit:
            lines = lines[:limit] + [f"... and {len(lines) - limit} more"]
        return lines
