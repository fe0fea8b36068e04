"""The journal events the checks plugin records (typed: see ``planrun.plugin.JournalEvent``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from planrun.plugin import JournalEvent


@dataclass(frozen=True)
class CheckRan(JournalEvent):
    """One check's result in a phase: ``ok``, its message and the value it found, or the error
    that kept it from running."""

    name = "check"
    phase: str = ""
    check: str = ""
    ok: bool = False
    message: str | None = None
    actual: Any = None
    error: str | None = None


EVENTS = [CheckRan]
