"""What a lint rule is: one definition holding its id, category, default severity, the reason
and the safe alternative (printed with every finding), a bad and a good example (the rule's
documentation, and its tests: ``tests/plugins/test_lint_rules.py`` lints each example), and
the detector. Rules reach the linter through the ``planrun_lint_rules`` hook, so a plugin can
add one rule the way the built-ins are added."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .revision import RevisionView
    from .statements import Statement
    from .walk import State

CATEGORIES = ("destructive", "locking", "breaking", "rollback", "hygiene")


@dataclass(frozen=True)
class Example:
    """SQL that a revision's upgrade runs (statements separated by ``;``), on tables that
    exist before it unless the example creates them. ``before``: what an earlier revision of
    the same release ran; ``downgrade``: the downgrade's SQL (None: one that undoes nothing
    destructive, ``""``: an empty downgrade). ``allow``: rules the revision allows inline,
    with a reason (for a good example whose remedy is still unsafe on its own)."""

    upgrade: str
    downgrade: str | None = None
    before: str | None = None
    allow: tuple[str, ...] = ()


@dataclass
class Hit:
    """One finding before it is judged: the statement (None: about the whole revision), the
    kind of operation and the names it touches (to find its Python line), the table (to rank
    it by size) and a detail added to the message."""

    rule: str
    statement: Statement | None
    kind: str = ""
    table: str | None = None
    names: list[str] = field(default_factory=list)
    detail: str = ""


Detector = Callable[["RevisionView"], Iterable[Hit]]


@dataclass(frozen=True)
class Rule:
    id: str
    category: str  # one of CATEGORIES
    severity: str  # error | warning: the default, a plan or pyproject.toml may change it
    reason: str
    alternative: str
    bad: Example
    good: Example
    detect: Detector
    about: str = "upgrade"  # where a finding points: an upgrade or downgrade statement, or upgrade()/downgrade()

    @property
    def destructive(self) -> bool:
        return self.category == "destructive"


def each_statement(check: Callable[[Statement, State], Iterable[Hit] | Hit | None]) -> Detector:
    """A detector from a check of one upgrade statement, given what came before it in the
    revision (:class:`~.walk.State`)."""

    def detect(revision: RevisionView) -> Iterable[Hit]:
        for statement, state in revision.upgrade:
            found = check(statement, state)
            if isinstance(found, Hit):
                yield found
            elif found:
                yield from found

    detect.__doc__ = check.__doc__
    return detect
