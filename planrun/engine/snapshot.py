"""A named picture of the target taken before a run and after its rollback. The engine only
compares them; plugins decide what goes in (the schema fingerprint, row counts...), say in
words what it proves, and say which tables it holds when it holds only some."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Snapshot:
    """``digest`` decides equality; ``items`` (normalised ``key: value`` lines) let a difference
    be named, and ``explain(key, before, after)`` (from the plugin that took it) says in words
    how one value changed."""

    digest: str
    items: tuple[str, ...] = ()
    explain: Callable[[str, str, str], str] | None = field(default=None, compare=False, repr=False)
    # what a proof by this snapshot says is as before, in words ("the schema", "every table's data")
    subject: str = field(default="", compare=False)
    # the tables it holds, when it holds only some (a backup's scope): a proof by it covers the
    # run only when every table the run wrote is among them; ``None``: every table
    covers: frozenset[str] | None = field(default=None, compare=False)
    covers_what: str = field(default="", compare=False)  # the name of that set ("the backup's scope")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Snapshot) and other.digest == self.digest

    def __hash__(self) -> int:
        return hash(self.digest)

    def without(self, keys: tuple[str, ...]) -> Snapshot:
        """This snapshot less the items named by ``keys`` (compared by their items, not the digest)."""
        if not keys:
            return self
        import hashlib

        items = tuple(item for item in self.items if _key(item) not in keys)
        digest = hashlib.sha256("\n".join(items).encode()).hexdigest()
        return Snapshot(digest, items, self.explain, self.subject, self.covers, self.covers_what)

    def differences(self, later: Snapshot, limit: int = 20) -> list[str]:
        """The one way a difference is shown (a rollback's proof, the stairway, drift):
        ``removed: K`` (here, not in ``later``), ``added: K``, ``changed K: before -> after``."""
        old, new = _keyed(self.items), _keyed(later.items)
        explain = later.explain or self.explain or (lambda key, a, b: f"{a} -> {b}")
        lines = []
        for key in sorted(set(old) | set(new)):
            if key not in new:
                lines.append(f"removed: {key}")
            elif key not in old:
                lines.append(f"added: {key}")
            elif old[key] != new[key]:
                lines.append(f"changed {key}: {explain(key, old[key], new[key])}")
        if len(lines) > limit:
            lines = lines[:limit] + [f"... and {len(lines) - limit} more"]
        return lines


def _key(item: str) -> str:
    return item.split(": ", 1)[0]


def _keyed(items: tuple[str, ...]) -> dict[str, str]:
    return {key: value for key, _, value in (item.partition(": ") for item in items)}
