"""The journal events the lint plugin records (typed: see ``planrun.plugin.JournalEvent``)."""

from __future__ import annotations

from dataclasses import dataclass

from planrun.plugin import JournalEvent


@dataclass(frozen=True)
class LintAllowed(JournalEvent):
    """A pending revision's finding was allowed by its ``planrun: allow`` mark, with its reason:
    the journal keeps who accepted what risk."""

    name = "lint_allowed"
    rule: str = ""
    revision: str = ""
    path: str = ""
    line: int = 0
    reason: str | None = None


EVENTS = [LintAllowed]
