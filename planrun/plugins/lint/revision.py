"""What a rule's detector is given: one revision's statements in both directions (each upgrade
statement with the state before it), its source, what earlier revisions of the release did and
what the plan sets."""

from __future__ import annotations

from dataclasses import dataclass, field

from .source import RevisionSource
from .statements import Statement
from .walk import Release, State, walk


@dataclass
class Settings:
    """What the plan (or, without one, plain ``alembic upgrade``) sets for every revision."""

    lock_timeout: bool = False
    statement_timeout: bool = False


@dataclass
class RevisionView:
    revision: str
    upgrade: list[tuple[Statement, State]]
    downgrade: list[Statement]
    source: RevisionSource
    release: Release  # what the revisions before this one did (not including it)
    own: Release  # what this revision's upgrade itself creates and adds
    settings: Settings = field(default_factory=Settings)
    final: State = field(default_factory=State)  # after the whole upgrade: what it created
    problems: list[str] = field(default_factory=list)  # "upgrade: could not render its SQL offline: ..."
    nested: list[Statement] = field(default_factory=list)  # BEGINs inside an open transaction, both directions

    @classmethod
    def of(cls, revision, up, down, source, release, settings) -> RevisionView:
        problems = [f"{r.direction}: {r.problem}" for r in (up, down) if r.problem]
        steps, final = walk(up.statements)
        own = Release()
        own.record(up.statements, revision)
        nested = up.nested + down.nested
        return cls(revision, steps, down.statements, source, release, own, settings, final, problems, nested)

    @property
    def upgrade_statements(self) -> list[Statement]:
        return [statement for statement, _ in self.upgrade]
