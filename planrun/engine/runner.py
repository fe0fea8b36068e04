"""The one run model: a run of a plan over its targets, one context each (an apply on one
database is a run over a list of one), and the one place where the phases are ordered.

Each target's steps run in phase order (``PHASES``: lock, pre-checks, backup, verify, migrate,
post-checks). Its preflight runs just before its first step after the holding phase, its
snapshot just before its first changing step, and every plugin's guard (the locks still held)
before each step of the run once a target has started. How the targets go through the phases
relative to each other (every target prepared before any changes; a failure rolls back every
target that moved, or only its own; commits deferred and finished together) is a policy of
:mod:`.policies`, written over :meth:`Run.advance`, :meth:`Run.fail` and :meth:`Run.roll_back`.
A rollback is proven by comparing snapshots; notifiers hear the start and the end either way;
every step's start, end, duration, outcome and error go to the journal.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from .. import __version__
from .context import RunContext
from .control import activated
from .control_binding import bind_control
from .errors import EXIT_BAD_PLAN, EXIT_FAILED, EXIT_UNREACHABLE, describe_error
from .journal import runner_identity
from .notify import notify
from .outcome import (
    CoordinatedResult,
    RunResult,
    TargetOutcome,
    coordinated_result,
    notification_targets,
    report,
    single_result,
    summary,
)
from .redact import redacted_output
from .retry import Retry, doubling, retrying
from .rollback import RollbackReport, roll_back
from .run_events import AbandonFailed, CommitRetried, RunEnded, RunStarted, TargetEnded
from .snapshot import Snapshot
from .stepper import StepError, guard, preflight, run_step, snapshot, tell_plugins
from .steps import CHANGING, FIRST_CHANGING_PHASE, HOLDING, PHASES, Step

if TYPE_CHECKING:
    from .plan import LoadedPlan

__all__ = ["Run", "RunResult", "CoordinatedResult", "run", "run_targets", "plan_steps", "collect_steps"]

LAST_PHASE = PHASES[-1]


def plan_steps(loaded: LoadedPlan) -> list[Step]:
    """Every step the plugins contribute for the plan, in phase order."""
    contributed = [s for steps in reversed(loaded.plugins.hook.planrun_steps(plan=loaded.plan)) for s in (steps or [])]
    return _in_phase_order(contributed)


def collect_steps(ctx: RunContext) -> list[Step]:
    return plan_steps(ctx.loaded)


def holding_steps(ctx: RunContext) -> list[Step]:
    """The steps of the first phase, which make the run the only one on its target: what a
    command that changes the target (restore, recover) runs first."""
    return [s for s in collect_steps(ctx) if s.phase == HOLDING]


def _in_phase_order(steps: list[Step]) -> list[Step]:
    return sorted(steps, key=lambda s: PHASES.index(s.phase))


@dataclass
class Target:
    """One target of a run and how far it has gone through its steps."""

    ctx: RunContext
    steps: list[Step]
    outcome: TargetOutcome
    done: int = 0  # how many of its steps have run
    preflown: bool = False
    before: dict[str, Snapshot] | None = None  # what a rollback must return it to
    error: StepError | None = None

    @property
    def phase(self) -> str:
        """The phase the target is in (of its next step; of its last once all ran)."""
        if self.done < len(self.steps):
            return self.steps[self.done].phase
        return self.steps[-1].phase if self.steps else HOLDING


@dataclass
class Run:
    """A run of one plan over ``contexts`` (``{None: ctx}`` on one database). ``before``: the
    snapshots a failure must return the target to when an earlier run took them (recovering a
    run that died); otherwise each target's are taken before its first changing step."""

    main: RunContext
    contexts: dict[str | None, RunContext]
    steps: list[Step] | None = None
    run_preflight: bool = True
    before: dict[str, Snapshot] | None = None
    targets: dict[str | None, Target] = field(init=False)
    moved: list[str | None] = field(init=False, default_factory=list)  # in the order they moved

    def __post_init__(self) -> None:
        self.targets = {
            name: Target(
                ctx,
                collect_steps(ctx) if self.steps is None else _in_phase_order(self.steps),
                TargetOutcome(name),
                before=self.before,
            )
            for name, ctx in self.contexts.items()
        }

    @property
    def single(self) -> bool:
        return list(self.targets) == [None]

    # --- the phases -----------------------------------------------------------------------

    def hold(self) -> bool:
        """Every target's holding phase (its lock), in the order of the databases themselves
        (host, port, database: the same order in every plan that names them), so two runs over
        overlapping targets cannot deadlock. False when one could not be held (the run stops)."""
        for name in sorted(self.targets, key=lambda n: (self.targets[n].ctx.target_name, n or "")):
            try:
                self.advance(name, HOLDING)
            except Exception as exc:
                self.fail(name, exc)
                return False
        return True

    def prepare(self, name: str | None) -> None:
        """Everything before the target changes: preflight, pre-checks, backup, verification."""
        self.advance(name, PHASES[PHASES.index(FIRST_CHANGING_PHASE) - 1])

    def change(self, name: str | None, *, defer_commit: bool = False) -> None:
        """The changing phase; with ``defer_commit`` the changing step is asked to keep its
        change uncommitted until :meth:`finish_deferred` (so that several targets commit alike)."""
        self.targets[name].ctx.defer_commit = defer_commit
        self.advance(name, CHANGING)

    def check_after(self, name: str | None) -> None:
        """The rest: the post-checks, then the guard's word that the target's run succeeded."""
        self.advance(name, LAST_PHASE)

    def advance(self, name: str | None, through: str) -> None:
        """Run the target's next steps, in phase order, up to and including phase ``through``."""
        target = self.targets[name]
        limit = PHASES.index(through)
        while target.done < len(target.steps) and PHASES.index(target.steps[target.done].phase) <= limit:
            step = target.steps[target.done]
            self._between(name, target, step)
            started = time.monotonic()
            with activated(target.ctx.control):
                run_step(target.ctx, step)
            target.outcome.steps[step.name] = round(time.monotonic() - started, 3)
            target.done += 1
        if through == LAST_PHASE and target.done == len(target.steps):
            if target.steps:
                guard(target.ctx, "success", target.phase)
            target.outcome.outcome = "success"

    def _between(self, name: str | None, target: Target, step: Step) -> None:
        label = step.name if name is None else f"{name}: {step.name}"
        for other in self.targets.values():  # every target started still holds its lock
            if other.done:
                guard(other.ctx, label, step.phase)
        if self.run_preflight and step.phase != HOLDING and not target.preflown:
            target.preflown = True
            preflight(target.ctx, step)
        if PHASES.index(step.phase) >= PHASES.index(FIRST_CHANGING_PHASE) and name not in self.moved:
            if target.before is None:
                target.before = snapshot(target.ctx, step)
            self.moved.append(name)

    def fail(self, name: str | None, exc: Exception) -> None:
        """Record the target's failure (a step's, or anything between steps: the run still ends
        properly). A recovery's own rollback, already tried, is its rollback."""
        target = self.targets[name]
        error = exc if isinstance(exc, StepError) else None
        if error is None:
            error = StepError(
                Step("run", target.phase, lambda _: None), describe_error(exc), getattr(exc, "exit_code", EXIT_FAILED)
            )
            error.__cause__ = exc
        target.error = error
        outcome = target.outcome
        code = error.exit_code
        if code == EXIT_UNREACHABLE and name in self.moved:  # lost after a change: the rollback's outcome says
            code = EXIT_FAILED
        outcome.error, outcome.failed_step, outcome.code = str(error), error.step.name, code
        outcome.outcome = "refused" if error.exit_code == EXIT_BAD_PLAN else "failed"
        tried = getattr(error.__cause__, "report", None)
        if isinstance(tried, RollbackReport):
            self._rolled_back(target, tried)

    def roll_back(self, names: list[str | None]) -> None:
        """Roll back each target in ``names`` (the last moved first) by the plan's strategy,
        each proven against its own snapshots."""
        for name in reversed(names):
            target = self.targets[name]
            if target.outcome.rollback is not None:
                continue
            report_ = roll_back(target.ctx, target.before or {}, announce=self.single)
            if target.outcome.outcome in ("success", "not changed"):
                target.outcome.outcome = "failed"
                target.outcome.error = target.outcome.error or "rolled back because another target failed"
            self._rolled_back(target, report_)

    @staticmethod
    def _rolled_back(target: Target, report_: RollbackReport) -> None:
        target.outcome.rollback = report_
        if not report_.ok:
            target.outcome.outcome = "rollback-failed"

    # --- deferred commits (a policy that commits every target or none) ---------------------

    def finish_deferred(self, name: str | None, commit: bool) -> str | None:
        """Commit (or roll back) what the target's changing step kept open; None when it kept
        nothing open. Raises when it fails."""
        ctx = self.targets[name].ctx
        said = ctx.hook.planrun_finish_deferred(ctx=ctx, commit=commit)
        if said:
            ctx.reporter.info(f"    {name}: {said}")
        return said

    def abandon_deferred(self, name: str | None) -> None:
        """Roll back what the target kept open; when even that fails, say so (it stays in doubt,
        ``status`` shows it, ``recover`` rolls it back: no decision to commit was made)."""
        try:
            self.finish_deferred(name, commit=False)
        except Exception as exc:
            ctx = self.targets[name].ctx
            ctx.journal.emit(AbandonFailed(describe_error(exc)))
            ctx.reporter.error(f"{name}: rolling back its deferred change failed: {describe_error(exc)}")

    def commit_deferred(self, name: str | None, deadline: float) -> tuple[bool, str | None]:
        """Commit the target's deferred change, tried again with backoff until ``deadline``:
        ``(kept open, error)``; error None when it committed (or nothing was kept open)."""
        ctx = self.targets[name].ctx

        def told(retry: Retry) -> None:
            error = describe_error(retry.error)
            ctx.journal.emit(CommitRetried(error, round(retry.pause, 2)))
            ctx.reporter.warning(
                f"{name}: committing its deferred change failed ({error}); again in {retry.pause:.1f}s"
            )

        try:
            kept = retrying(
                lambda: self.finish_deferred(name, commit=True),
                again=lambda _error: True,
                pauses=doubling(0.25, 5.0),
                deadline=deadline,
                on_retry=told,
            )
        except Exception as exc:
            return True, describe_error(exc)
        return kept is not None, None

    # --- start and end --------------------------------------------------------------------

    def execute(self, policy) -> RunResult:
        """Start the run, go through ``policy(run)``, end it: journal, console, notifiers."""
        started = time.monotonic()
        main, mode = self.main, self.main.plan.coordinate
        if self.single:
            steps = [f"{s.phase}:{s.name}" for s in self.targets[None].steps]
            record_start(main, steps)
            heading = f"on {main.target_name}"
            notify(main, "start", f"{main.plan.name}: starting on {main.target_name}")
        else:
            steps = [f"{name}:{s.phase}:{s.name}" for name, t in self.targets.items() for s in t.steps]
            record_start(main, steps, targets={n: t.ctx.target_name for n, t in self.targets.items()}, coordinate=mode)
            heading = f"on {len(self.targets)} targets, {mode}"
        main.reporter.heading(f"planrun {main.options.command} {main.plan.name} {heading} (run {main.run_id})")
        if not self.single:
            notify(main, "start", f"{main.plan.name}: starting on {main.target_name} ({mode})")
        with contextlib.ExitStack() as stack:
            stack.enter_context(redacted_output(main.redact))  # what the project's own code prints too
            stack.enter_context(activated(main.control))
            for target in self.targets.values():
                bind_control(target.ctx)
                stack.enter_context(target.ctx.resources)
                tell_plugins(target.ctx, "planrun_run_started")
            policy(self)
            result = self._ended(time.monotonic() - started)
        report(main, result)
        kind = "success" if result.outcome == "success" else "failure"
        notify(
            main,
            kind,
            summary(main, result),
            error=result.error,
            duration=result.seconds,
            **notification_targets(result),
        )
        return result

    def _ended(self, seconds: float) -> RunResult:
        main = self.main
        if self.single:
            result = single_result(main.run_id, self.targets[None].outcome, seconds)
            record_end(main, result, facts=main.facts.record())
            tell_plugins(main, "planrun_run_finished", result=result)
            return result
        outcomes = {name: target.outcome for name, target in self.targets.items()}
        result = coordinated_result(main, outcomes, seconds)
        for target in self.targets.values():
            o = target.outcome
            target.ctx.journal.emit(TargetEnded(o.outcome, o.error, o.steps))
            tell_plugins(target.ctx, "planrun_run_finished", result=o.result(main.run_id, seconds))
        record_end(
            main,
            result,
            targets={name: {"outcome": o.outcome, "error": o.error, "steps": o.steps} for name, o in outcomes.items()},
        )
        return result


def run(
    ctx: RunContext,
    steps: list[Step] | None = None,
    *,
    preflight: bool = True,
    before: dict[str, Snapshot] | None = None,
) -> RunResult:
    """Run ``steps`` (by default every step the plugins contribute) on the context's one target;
    ``before`` as :class:`Run` says."""
    from .policies import all_or_nothing

    return Run(ctx, {None: ctx}, steps, preflight, before).execute(all_or_nothing)


def run_targets(main: RunContext, contexts: dict[str | None, RunContext]) -> CoordinatedResult:
    """Run the plan on every target of a plan over several, as its ``coordinate`` says."""
    from .policies import policy_for

    # a run over several targets ends with each one's outcome (coordinated_result)
    return cast(CoordinatedResult, Run(main, dict(contexts)).execute(policy_for(main.plan.coordinate)))


def record_start(ctx: RunContext, steps: list[str], **extra) -> None:
    """The journal's first record of a run: what runs where, by whom (host and pid: a run whose
    process is gone can be told from a live one)."""
    ctx.journal.emit(
        RunStarted(
            planrun_version=__version__,
            command=ctx.options.command,
            plan=ctx.plan.name,
            plan_file=str(ctx.loaded.path),
            target=ctx.target_name,
            steps=steps,
            **extra,
            **runner_identity(),
        )
    )


def record_end(ctx: RunContext, result: RunResult, **extra) -> None:
    ctx.journal.emit(
        RunEnded(
            outcome=result.outcome,
            exit_code=result.exit_code,
            duration=round(result.seconds, 3),
            error=result.error,
            failed_step=result.failed_step,
            **extra,
        )
    )
