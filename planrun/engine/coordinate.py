"""A run over several targets (a plan with ``targets:``), one context per target.

Every target's lock is taken first, in the order of the databases (host, port, database: the
same order in every plan that names them, whatever it calls them), so two runs over
overlapping targets can never deadlock (the second fails fast naming the holder, or waits with ``--wait``). Then,
on every target, the preflight, pre-checks, backup and its verification run before any target
changes. With ``coordinate: all-or-nothing`` each target is then migrated in order and
post-checked, and a failure anywhere (a migration, a post-check, a lost lock) rolls back every
target that moved, in reverse order, each proven against its own snapshots; with
``independent``, a failed target is rolled back alone and the others go on. One journal (each
record marked with its target) and one notification tell the whole run.
"""

from __future__ import annotations

import contextlib
import time

from .context import RunContext
from .control import activated
from .control_binding import bind_control
from .coordinate_report import CoordinatedResult, TargetOutcome, coordinated_result, report, summary
from .errors import EXIT_BAD_PLAN, EXIT_FAILED, describe_error
from .notify import notify
from .rollback import roll_back, rollback_summary
from .runner import (
    RunResult,
    _guard,
    _preflight,
    _run_step,
    _snapshot,
    _StepError,
    _tell_plugins,
    collect_steps,
    record_end,
    record_start,
)
from .snapshot import Snapshot
from .steps import CHANGING, FIRST_CHANGING_PHASE, HOLDING, PHASES, POST_CHECKING, Step


class _Run:
    def __init__(self, main: RunContext, contexts: dict[str, RunContext]):
        self.main = main
        self.contexts = contexts
        self.names = list(contexts)
        self.steps = {name: collect_steps(ctx) for name, ctx in contexts.items()}
        self.outcomes = {name: TargetOutcome(name) for name in self.names}
        self.before: dict[str, dict[str, Snapshot]] = {}
        self.moved: list[str] = []
        self.held: list[str] = []

    def phase_steps(self, name: str, first: str, last: str | None = None) -> list[Step]:
        low, high = PHASES.index(first), PHASES.index(last or first)
        return [s for s in self.steps[name] if low <= PHASES.index(s.phase) <= high]

    def step(self, name: str, step: Step) -> None:
        ctx = self.contexts[name]
        for other in self.held:  # every lock taken so far still held, before anything runs anywhere
            _guard(self.contexts[other], f"{name}: {step.name}", step.phase)
        started = time.monotonic()
        with activated(ctx.control):
            _run_step(ctx, step)
        self.outcomes[name].steps[step.name] = round(time.monotonic() - started, 3)

    def prepare(self, name: str) -> None:
        """Everything before the target changes: preflight, pre-checks, backup, verification."""
        later = [s for s in self.steps[name] if s.phase != HOLDING and PHASES.index(s.phase) < PHASES.index(CHANGING)]
        first = later[0] if later else next((s for s in self.steps[name] if s.phase != HOLDING), None)
        if first is not None:
            _preflight(self.contexts[name], first)
        for step in later:
            self.step(name, step)

    def change(self, name: str, last: str = POST_CHECKING) -> None:
        """Snapshot, migrate and post-check one target (only migrate, with ``last``)."""
        changing = [
            s
            for s in self.steps[name]
            if PHASES.index(FIRST_CHANGING_PHASE) <= PHASES.index(s.phase) <= PHASES.index(last)
        ]
        if changing:
            self.before[name] = _snapshot(self.contexts[name], changing[0])
            self.moved.append(name)
        for step in changing:
            self.step(name, step)
        _guard(self.contexts[name], "success", changing[-1].phase if changing else HOLDING)
        if last == POST_CHECKING:
            self.outcomes[name].outcome = "success"

    def post_check(self, name: str) -> None:
        for step in self.phase_steps(name, POST_CHECKING):
            self.step(name, step)
        _guard(self.contexts[name], "success", POST_CHECKING)
        self.outcomes[name].outcome = "success"

    def commit_prepared(self, name: str, deadline: float) -> str | None:
        """COMMIT PREPARED on ``name``, tried again with backoff until ``deadline``; None when
        it committed, else the last error (the transaction stays in doubt)."""
        ctx = self.contexts[name]
        wait = 0.25
        while True:
            try:
                self.finish_prepared(name, commit=True)
                return None
            except Exception as exc:
                error = describe_error(exc)
                if time.monotonic() >= deadline:
                    ctx.deferred = None
                    return error
                pause = min(wait, max(0.0, deadline - time.monotonic()))
                ctx.journal.record("commit_retry", error=error, wait=round(pause, 2))
                ctx.reporter.warning(
                    f"{name}: committing its prepared transaction failed ({error}); again in {pause:.1f}s"
                )
                time.sleep(pause)
                wait = min(wait * 2, 5.0)

    def finish_prepared(self, name: str, commit: bool) -> None:
        ctx = self.contexts[name]
        summary = ctx.hook.planrun_finish_prepared(ctx=ctx, gid=ctx.deferred, commit=commit)
        ctx.deferred = None
        ctx.reporter.info(f"    {name}: {summary}")

    def fail(self, name: str, exc: Exception) -> None:
        outcome = self.outcomes[name]
        error = exc if isinstance(exc, _StepError) else None
        outcome.error = str(exc) if error else describe_error(exc)
        outcome.failed_step = error.step.name if error else "run"
        outcome.outcome = "refused" if getattr(exc, "exit_code", EXIT_FAILED) == EXIT_BAD_PLAN else "failed"

    def roll_back(self, names: list[str]) -> None:
        for name in reversed(names):
            report = roll_back(self.contexts[name], self.before[name], announce=False)
            outcome = self.outcomes[name]
            outcome.rollback = report
            if outcome.outcome in ("success", "not changed"):
                outcome.outcome = "failed"
                outcome.error = outcome.error or "rolled back because another target failed"
            if not report.ok:
                outcome.outcome = "rollback-failed"


def run_coordinated(main: RunContext, contexts: dict[str, RunContext]) -> CoordinatedResult:
    """Run the plan on every target as its ``coordinate`` says; see the module's docstring."""
    started = time.monotonic()
    run = _Run(main, contexts)
    mode = main.plan.coordinate
    record_start(
        main,
        [f"{name}:{s.phase}:{s.name}" for name in run.names for s in run.steps[name]],
        targets={name: ctx.target_name for name, ctx in contexts.items()},
        coordinate=mode,
    )
    main.reporter.heading(
        f"planrun {main.options.command} {main.plan.name} on {len(contexts)} targets, {mode} (run {main.run_id})"
    )
    notify(main, "start", f"{main.plan.name}: starting on {main.target_name} ({mode})")
    with contextlib.ExitStack() as stack:
        for ctx in contexts.values():
            bind_control(ctx)
            stack.enter_context(ctx.resources)
            _tell_plugins(ctx, "planrun_run_started")
        _drive(run, mode)
        seconds = time.monotonic() - started
        result = coordinated_result(main, run.outcomes, seconds)
        for name, ctx in contexts.items():
            outcome = run.outcomes[name]
            ctx.journal.record("target_end", outcome=outcome.outcome, error=outcome.error, steps=outcome.steps)
            target_result = RunResult(
                main.run_id,
                outcome.outcome,
                outcome.exit_code,
                outcome.error,
                outcome.failed_step,
                outcome.rollback,
                seconds,
            )
            _tell_plugins(ctx, "planrun_run_finished", result=target_result)
        record_end(
            main,
            result,
            targets={
                name: {"outcome": o.outcome, "error": o.error, "steps": o.steps} for name, o in run.outcomes.items()
            },
        )
    report(main, result)
    kind = "success" if result.outcome == "success" else "failure"
    targets = {
        name: {
            "outcome": o.outcome,
            "error": o.error,
            "rollback": rollback_summary(o.rollback) if o.rollback else None,
            "seconds": round(sum(o.steps.values()), 3),
        }
        for name, o in run.outcomes.items()
    }
    notify(main, kind, summary(main, result), error=result.error, duration=seconds, targets=targets)
    return result


def _drive(run: _Run, mode: str) -> None:
    try:  # every lock first, in the order of the databases themselves: overlapping runs cannot deadlock
        for name in sorted(run.names, key=lambda n: (run.contexts[n].target_name, n)):
            for step in run.phase_steps(name, HOLDING):
                run.step(name, step)
            run.held.append(name)
    except Exception as exc:
        run.fail(name, exc)
        return
    if mode == "atomic":
        _atomic(run)
        return
    if mode == "independent":
        for name in run.names:
            try:
                run.prepare(name)
                run.change(name)
            except Exception as exc:
                run.fail(name, exc)
                if name in run.moved:
                    run.roll_back([name])
        return
    current = run.names[0]
    try:
        for current in run.names:
            run.prepare(current)
        for current in run.names:
            run.change(current)
    except Exception as exc:
        run.fail(current, exc)
        run.roll_back(list(run.moved))


def _atomic(run: _Run) -> None:
    """Prepare every target's migration, then commit them all: no target ever commits alone.
    A failure before every target has prepared rolls the prepared ones back (nothing committed
    anywhere, proven); a failure after the commit (a post-check) rolls every target back."""
    current = run.names[0]
    try:
        for current in run.names:
            run.prepare(current)
    except Exception as exc:
        run.fail(current, exc)
        return
    prepared: list[str] = []
    try:
        for current in run.names:
            run.contexts[current].defer_commit = True
            run.change(current, last=CHANGING)
            if run.contexts[current].deferred:  # the changing step may have had nothing to keep open
                prepared.append(current)
    except Exception as exc:
        run.fail(current, exc)
        run.contexts[current].deferred = None  # its own transaction was rolled back with the failure
        for name in prepared:
            run.finish_prepared(name, commit=False)
        run.roll_back(list(run.moved))  # nothing moved: the proof says so
        return
    # the decision, durable before the first COMMIT PREPARED: in the journal and, through each
    # target's own journal, in every target's store; whatever happens next, recover follows it
    gids = {name: run.contexts[name].deferred for name in prepared}
    for name in prepared:
        run.contexts[name].journal.record("commit_decision", commit=True, gids=gids)
    deadline = time.monotonic() + run.main.plan.rollback.within.total_seconds()
    in_doubt = {}
    for current in prepared:  # committed somewhere: every other target must commit too
        error = run.commit_prepared(current, deadline)
        if error is not None:
            in_doubt[current] = error
    if in_doubt:
        for name in prepared:
            outcome = run.outcomes[name]
            if name in in_doubt:
                outcome.outcome, outcome.failed_step = "in doubt", "commit"
                outcome.error = (
                    f"its prepared transaction {gids[name]} could not be committed ({in_doubt[name]}) within "
                    f"rollback.within; the run decided to commit: `planrun recover {run.main.loaded.path}` commits it"
                )
            else:
                outcome.outcome = "committed"
                outcome.error = f"its change committed; the run stops there: {', '.join(in_doubt)} in doubt"
        return
    try:
        for current in run.names:
            run.post_check(current)
    except Exception as exc:
        run.fail(current, exc)
        run.roll_back(list(run.moved))
