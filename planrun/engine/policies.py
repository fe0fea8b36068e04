"""How the targets of a run go through the phases relative to each other (the plan's
``coordinate``). Each policy is a few lines over :class:`~.runner.Run`; the order of the phases
within a target is the run's, never written here.

- ``all-or-nothing``: every target prepared (checks, backup, verification) before any changes;
  then each is changed and post-checked in turn, and a failure anywhere rolls back every target
  that moved, the last first, each proven against its own snapshots. A run on one database is
  this policy over a list of one.
- ``independent``: each target on its own; a failed one is rolled back alone, the others go on.
- ``atomic``: every target's change is kept open (deferred) until all have made it, then the run
  decides to commit, records the decision in every target's journal, and commits them all; no
  target ever commits alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .run_events import CommitDecided
from .runner import Run


def all_or_nothing(run: Run) -> None:
    if not run.hold():
        return
    if not _each(run, run.prepare) or not _each(run, run.change, run.check_after):
        run.roll_back(list(run.moved))


def independent(run: Run) -> None:
    if not run.hold():
        return
    for name in run.targets:
        try:
            run.prepare(name)
            run.change(name)
            run.check_after(name)
        except Exception as exc:
            run.fail(name, exc)
            if name in run.moved:
                run.roll_back([name])


def atomic(run: Run) -> None:
    """A failure before every target has made its change rolls back the ones kept open
    (nothing committed anywhere, proven); a commit that keeps failing past ``rollback.within``
    leaves that target in doubt, named (``planrun recover`` finishes it as decided); a failure
    after the commit (a post-check) rolls every target back."""
    if not run.hold() or not _each(run, run.prepare):
        return
    if not _each(run, lambda name: run.change(name, defer_commit=True)):
        for name in run.moved:
            run.abandon_deferred(name)
        run.roll_back(list(run.moved))  # nothing moved: the proof says so
        return
    if _commit_everywhere(run) and not _each(run, run.check_after):
        run.roll_back(list(run.moved))


def _each(run: Run, *phases: Callable[[str | None], None]) -> bool:
    """Each target in turn through ``phases``; False once one failed (its failure recorded)."""
    current = None
    try:
        for current in run.targets:
            for phase in phases:
                phase(current)
    except Exception as exc:
        run.fail(current, exc)
        return False
    return True


def _commit_everywhere(run: Run) -> bool:
    """The decision, durable before the first commit: in the journal of every target that moved
    (and, through it, in each target's own store); whatever happens next, recover follows it.
    Committed somewhere means every other target must commit too: each is tried again until
    ``rollback.within``. False when some stayed in doubt (each target's outcome then says so)."""
    for name in run.moved:
        run.targets[name].ctx.journal.emit(CommitDecided(commit=True))
    deadline = time.monotonic() + run.main.plan.rollback.within.total_seconds()
    kept_open, in_doubt = [], {}
    for name in run.moved:
        open_, error = run.commit_deferred(name, deadline)
        if open_:
            kept_open.append(name)
        if error is not None:
            in_doubt[name] = error
    if not in_doubt:
        return True
    for name in kept_open:
        outcome = run.targets[name].outcome
        if name in in_doubt:
            outcome.outcome, outcome.failed_step = "in doubt", "commit"
            outcome.error = (
                f"its change, kept open, could not be committed ({in_doubt[name]}) within rollback.within; the run "
                f"decided to commit: `planrun recover {run.main.loaded.path}` commits it"
            )
        else:
            outcome.outcome = "committed"
            outcome.error = f"its change committed; the run stops there: {', '.join(map(str, in_doubt))} in doubt"
    return False


POLICIES: dict[str, Callable[[Run], None]] = {
    "all-or-nothing": all_or_nothing,
    "independent": independent,
    "atomic": atomic,
}


def policy_for(coordinate: str | None) -> Callable[[Run], None]:
    return POLICIES[coordinate or "all-or-nothing"]
