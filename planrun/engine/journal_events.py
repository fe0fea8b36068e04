"""Typed journal events: what a plugin records of a run, declared as a type others can read.

A plugin declares each event it records as a frozen dataclass subclassing :class:`JournalEvent`
(its ``name`` is the record's ``event`` in the journal file), returns those types from
``planrun_journal_events`` and records them with ``ctx.journal.emit(MigrationPlanned(...))``.
Another plugin reads them by type, never by parsing the other's strings: in a run it subscribes
(``ctx.journal.subscribe(MigrationPlanned, handler)``, from ``planrun_run_started``), and from a
journal read back (a dead run's, in ``recover``) it finds them with ``MigrationPlanned.last_in``.
Event types two plugins read live in a module both may import (``planrun.plugins.events`` for
the built-ins), as fact types do (:mod:`.facts`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, TypeVar

from .errors import PlanrunError

E = TypeVar("E", bound="JournalEvent")


class JournalEvent:
    """Base of every journal event type: a frozen dataclass; ``name`` is its record's ``event``
    (snake_case, unique across plugins: two plugins declaring one name is an error)."""

    name: ClassVar[str] = ""

    def fields(self) -> dict[str, Any]:
        """The record's fields, as the journal writes them (JSON values)."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_record(cls: type[E], record: dict[str, Any]) -> E:
        """The event a journal record holds (fields it lacks take their defaults)."""
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return cls(**{key: value for key, value in record.items() if key in known})

    @classmethod
    def all_in(cls: type[E], records: Iterable[dict[str, Any]]) -> list[E]:
        """Every such event among a journal's records, in order."""
        return [cls.from_record(record) for record in records if record.get("event") == cls.name]

    @classmethod
    def last_in(cls: type[E], records: Iterable[dict[str, Any]]) -> E | None:
        """The last such event among a journal's records (``None``: there is none)."""
        found = None
        for record in records:
            if record.get("event") == cls.name:
                found = record
        return cls.from_record(found) if found is not None else None


Handler = Callable[[Any], None]


class Subscriptions:
    """Who listens to which event type; a handler that fails is reported (``on_error``), and the
    others still hear the event: a reader's bug never stops the run."""

    def __init__(self, on_error: Callable[[str], None]) -> None:
        self._handlers: dict[type, list[Handler]] = {}
        self.on_error = on_error

    def subscribe(self, kind: type[E], handler: Callable[[E], None]) -> None:
        self._handlers.setdefault(kind, []).append(handler)

    def deliver(self, event: JournalEvent) -> None:
        for handler in list(self._handlers.get(type(event), ())):
            try:
                handler(event)
            except Exception as exc:
                name = getattr(handler, "__qualname__", repr(handler))
                self.on_error(f"journal event {event.name}: subscriber {name} failed: {type(exc).__name__}: {exc}")


STRICT_SWITCH = "PLANRUN_STRICT_EVENTS"  # set (as the test suite does): an undeclared record is an error
ALWAYS_ALLOWED = frozenset({"target_key"})  # the journal's own mark on a target's share of the run


class UndeclaredEvent(PlanrunError):
    """A plugin recorded a journal event no plugin declared, or a field its type does not have."""


class DeclaredEvents:
    """The journal events a run may record: the engine's and every loaded plugin's declared types,
    by record name. A record of another name, or with a field its type lacks, is a word no reader
    can rely on: under :data:`STRICT_SWITCH` it is an error at the line that records it, otherwise
    a warning once per name (a third party's plugin keeps working)."""

    def __init__(self, kinds: dict[str, type[JournalEvent]], strict: bool | None = None) -> None:
        self.kinds = kinds
        self.strict = bool(os.environ.get(STRICT_SWITCH)) if strict is None else strict
        self._fields = {name: {f.name for f in dataclasses.fields(kind)} for name, kind in kinds.items()}  # type: ignore[arg-type]
        self._warned: set[str] = set()

    def check(self, event: str, fields: Iterable[str], warn: Callable[[str], None]) -> None:
        known = self._fields.get(event)
        if known is None:
            problem = (
                f"journal event {event!r} is not declared: declare a JournalEvent type for it "
                "(returned from the plugin's planrun_journal_events) and record it with ctx.journal.emit"
            )
        else:
            unknown = sorted(set(fields) - known - ALWAYS_ALLOWED)
            if not unknown:
                return
            problem = (
                f"journal event {event!r} recorded with {', '.join(unknown)}, which its type "
                f"{self.kinds[event].__qualname__} does not declare"
            )
        if self.strict:
            raise UndeclaredEvent(problem)
        if event not in self._warned:
            self._warned.add(event)
            warn(problem)
