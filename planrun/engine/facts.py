"""Typed run facts: what plugins learn during a run and others read.

A plugin publishes an instance of a fact type (a dataclass subclassing :class:`Fact`), and any
other reads it by its type: ``ctx.facts.get(Revisions)``. Values stay typed (revision ids, not
their display); a fact's :meth:`Fact.payload` says what notifications and the run's record show
of it, and is the one place where display strings are made. Fact types shared by several
plugins live in a shared module, so that reading one never means importing another plugin.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

F = TypeVar("F", bound="Fact")


class Fact:
    """Base of every fact type. Subclasses are dataclasses whose fields all have defaults: an
    instance built with none says "not known" and gives the payload's keys with no values.
    ``payload_schema`` documents each key :meth:`payload` gives, as JSON Schema (its type and
    description): the notification payload's published schema is built from them
    (``planrun schema --notifications``), and a test holds every payload to it."""

    payload_schema: ClassVar[dict[str, dict[str, Any]]] = {}

    def payload(self) -> dict[str, Any]:
        """The fact as notifications show it (flat, JSON-ready keys)."""
        return {}


@dataclass(frozen=True)
class RollbackOutcome(Fact):
    """How the run's rollback went (published by the engine when a run was rolled back)."""

    ok: bool | None = None
    method: str | None = None
    duration: float | None = None
    within: float | None = None

    payload_schema: ClassVar[dict[str, dict[str, Any]]] = {
        "rollback": {
            "description": "How the run's rollback went; null when the run was not rolled back.",
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "properties": {
                        "ok": {"type": "boolean", "description": "The rollback ran and its proof passed."},
                        "method": {
                            "type": ["string", "null"],
                            "description": "The rollback method that ran (rollback.strategy's word).",
                        },
                        "duration_seconds": {"type": ["number", "null"]},
                    },
                    "required": ["ok", "method", "duration_seconds"],
                    "additionalProperties": False,
                },
            ],
        }
    }

    def payload(self) -> dict[str, Any]:
        if self.ok is None:
            return {"rollback": None}
        return {"rollback": {"ok": self.ok, "method": self.method, "duration_seconds": self.duration}}


@dataclass(frozen=True)
class Written(Fact):
    """The tables the run's own transactions wrote (rows inserted, updated or deleted, by its
    statements, triggers, rules or cascades), as the database itself counted them inside each
    transaction just before it committed: published by the plugin that changes the target. It
    is what a rollback's proof must cover, whatever the backup's scope found by reading SQL.
    ``tables``: ``None`` when the plugin could not see every commit (then only a proof over
    every table counts); ``why``: what it could not see."""

    tables: tuple[str, ...] | None = ()
    why: str = ""

    def adding(self, tables: set[str] | None, why: str = "") -> Written:
        if self.tables is None or tables is None:
            return Written(None, self.why or why)
        return Written(tuple(sorted(set(self.tables) | tables)))


@dataclass(frozen=True)
class KeptOnPurpose(Fact):
    """Snapshot items (their keys, as ``Snapshot.items`` name them) that a rollback method left
    different from the pre-run state on purpose, each checked by that method another way:
    published by it when it succeeds (a restore that kept rows other transactions wrote during
    the run, checked row by row against the backup). The proof ignores exactly these items and
    the claim names them."""

    keys: tuple[str, ...] = ()
    why: str = ""


class Facts:
    """The facts of one run, one per type; thread-safe (the monitor publishes from its thread)."""

    def __init__(self, declared: list[type[Fact]] | None = None) -> None:
        self._declared = list(declared or [])
        self._facts: dict[type, Fact] = {}
        self._mutex = threading.Lock()

    def publish(self, fact: Fact) -> None:
        with self._mutex:
            self._facts[type(fact)] = fact

    def get(self, kind: type[F]) -> F | None:
        with self._mutex:
            return self._facts.get(kind)  # type: ignore[return-value]

    def update(self, kind: type[F], **changes: Any) -> F:
        """Publish ``kind`` with ``changes`` applied to what was published before (or to an empty one)."""
        with self._mutex:
            current = self._facts.get(kind) or kind()
            fact = dataclasses.replace(current, **changes)  # type: ignore[type-var]  # every Fact is a dataclass
            self._facts[kind] = fact
            return fact  # type: ignore[return-value]

    def payload(self) -> dict[str, Any]:
        """Every declared fact type's payload (empty when unpublished), then any other's."""
        with self._mutex:
            kinds = [*self._declared, *(k for k in self._facts if k not in self._declared)]
            facts = [self._facts.get(kind) or kind() for kind in kinds]
        merged: dict[str, Any] = {}
        for fact in facts:
            merged.update(fact.payload())
        return merged

    def record(self) -> dict[str, Any]:
        """The published facts, whole, for the journal: ``{type name: fields}``."""
        with self._mutex:
            return {type(f).__name__: dataclasses.asdict(f) for f in self._facts.values()}  # type: ignore[call-overload]
