"""``planrun recover``: finish what runs on the plan's targets left unfinished.

First every plugin settles what a run left undecided across its targets (:func:`planrun_settle`:
a two-phase run's changes kept open are committed or rolled back as it had decided). Then each
target's runs that died are finished under the lock: rolled back to the state each started from
and proven against the snapshots it took then (or forward, when the plan's
``rollback.recover`` says so), and recorded. A run that recorded its end is never rolled back:
its end is recorded where it was missing. Idempotent: a recover that is killed can be run
again. A plan over several targets is recovered target by target; the exit code is the worst.
This is the same :class:`~.runner.Run` as any other, given the dead run's snapshots."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from . import claims
from .context import RunContext, RunOptions
from .errors import PlanrunError, UsageError
from .journal import NullJournal, read_run
from .plan import LoadedPlan
from .rollback import RollbackReport, roll_back, rollback_summary
from .runner import RunResult, collect_steps, holding_steps, run
from .snapshot import Snapshot
from .steps import CHANGING, POST_CHECKING, PRE_CHECKING, DeadRun, Step


def recover_plan(
    loaded: LoadedPlan, options: RunOptions, confirm: Callable[[RunContext], bool] | None, stream: TextIO | None
) -> RunResult:
    from .contexts import make_context, target_contexts

    probe = make_context(loaded, RunOptions(state_dir=options.state_dir, command="recover"), stream, NullJournal())
    contexts = target_contexts(probe) if loaded.plan.target_names() else {None: probe}
    probe.hook.planrun_settle(contexts=contexts)
    results = [_recover(view, options, confirm, stream) for view in loaded.views().values()]
    return max(results, key=lambda result: result.exit_code)


def _recover(loaded: LoadedPlan, options: RunOptions, confirm, stream: TextIO | None) -> RunResult:
    from .contexts import make_context

    probe = make_context(loaded, RunOptions(state_dir=options.state_dir, command="recover"), stream, NullJournal())
    dead = probe.hook.planrun_dead_runs(ctx=probe)
    if dead is None:
        raise UsageError(
            "no plugin keeps runs in the database (is history: {enabled: false}?): nothing to recover from"
        )
    # a recover that died itself is only abandoned: the run it was recovering is still dead
    victims = [run for run in dead if not run.is_recover]
    if not victims:
        if dead:
            return _abandon(loaded, options, stream, dead)
        probe.reporter.info(f"no run died on {probe.target_name}: nothing to recover")
        return RunResult(probe.run_id, "success", 0)
    victim = victims[0]
    ctx = make_context(loaded, options, stream)
    if confirm is not None and not confirm(ctx):
        raise UsageError(claims.CANCELLED)
    end = _recorded_end(victim, options.state_dir)
    if end is not None:  # it ended: its end only missed the store; a run that ended is never rolled back
        told = (
            f"it had ended ({end.get('outcome')}, exit {end.get('exit_code')}); its end is recorded now, nothing undone"
        )
        return _run_and_mark(ctx, holding_steps(ctx), None, [victim], told, ended=end)
    ctx.hook.planrun_resume_state(ctx=ctx, events=list(victim.events))
    before = dict(victim.snapshots or {})
    forward = ctx.plan.rollback.recover == "forward"
    if not before:  # it died before changing anything
        return _run_and_mark(
            ctx,
            holding_steps(ctx),
            None,
            dead,
            "it had not reached a step that changes the target (no pre-run snapshot was recorded)",
        )
    outcome = "completed forward" if forward else "rolled back and proven"
    return _run_and_mark(ctx, recovery_steps(ctx, victim.run_id, before, forward), before, dead, outcome)


def _recorded_end(victim: DeadRun, state_dir: str) -> dict | None:
    """The ``run_end`` record of a run the store lists as dead: in the store's copy of its
    journal, or in the journal under ``state_dir`` (the store may have been away at its end)."""
    for event in victim.events:
        if event.get("event") == "run_end":
            return event
    try:
        records = read_run(state_dir, victim.run_id)
    except Exception:  # no journal here: the store's copy is all there is
        return None
    return next((r for r in records if r.get("event") == "run_end"), None)


def _run_and_mark(
    ctx: RunContext, steps: list[Step], before, dead: list[DeadRun], outcome: str, ended: dict | None = None
) -> RunResult:
    marked: list[str] = []

    def mark(ctx: RunContext) -> str:
        for run_ in dead:
            text = outcome if not run_.is_recover else "a recover that died; finished by this one"
            ctx.hook.planrun_run_recovered(ctx=ctx, run_id=run_.run_id, outcome=text, ended=ended)
            marked.append(run_.run_id)
        return f"recorded: {', '.join(marked)}: {outcome}"

    return run(ctx, [*steps, Step("record recovery", "post-checks", mark)], preflight=False, before=before)


def _abandon(loaded: LoadedPlan, options: RunOptions, stream: TextIO | None, dead: list[DeadRun]) -> RunResult:
    from .contexts import make_context

    ctx = make_context(loaded, options, stream)
    return _run_and_mark(
        ctx,
        holding_steps(ctx),
        None,
        dead,
        "a recover that died with nothing left to recover",
    )


class RollbackFailed(PlanrunError):
    """A recovery's rollback could not be proven; ``report`` says how it went."""

    def __init__(self, report: RollbackReport):
        super().__init__(rollback_summary(report))
        self.report = report


def recovery_steps(ctx: RunContext, run_id: str, before: dict[str, Snapshot], forward: bool) -> list[Step]:
    """The steps that finish a run that died: under the lock, either roll it back to the state
    it started from and prove it against the snapshots it took then (``before``), or, forward,
    migrate and post-check again (a failure then rolls back to that same state)."""
    holds = holding_steps(ctx)
    if forward:  # the pre-checks take the post-checks' baselines again; the dead run's safeguards stay the ones to use
        return holds + [s for s in collect_steps(ctx) if s.phase in (PRE_CHECKING, CHANGING, POST_CHECKING)]

    def back(ctx: RunContext) -> str:
        report_ = roll_back(ctx, before)
        if not report_.ok:
            raise RollbackFailed(report_)
        return f"run {run_id} rolled back by {report_.method} and proven"

    return holds + [Step(f"recover {run_id}", CHANGING, back, "roll the dead run back to where it started")]
