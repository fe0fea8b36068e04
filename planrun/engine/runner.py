"""The fixed order of a run, and rollback when it fails.

lock -> (preflight) -> pre-checks -> backup -> verify -> [snapshot] -> migrate -> post-checks;
a failure at or after migrate is rolled back by the plan's strategy and the rollback is proven
by comparing snapshots; notifiers hear the start and the end either way. Every step's start,
end, duration, outcome and error go to the journal.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import __version__
from . import claims
from .context import RunContext
from .control import activated
from .control_binding import bind_control
from .errors import (
    EXIT_BAD_PLAN,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_ROLLBACK_FAILED,
    PlanrunError,
    StepFailed,
    describe_error,
)
from .journal import runner_identity
from .notify import notify
from .rollback import RollbackReport, roll_back, rollback_summary
from .snapshot import Snapshot
from .steps import CHANGING, FIRST_CHANGING_PHASE, HOLDING, PHASES, POST_CHECKING, PRE_CHECKING, Step

if TYPE_CHECKING:
    from .plan import LoadedPlan


@dataclass
class RunResult:
    run_id: str
    outcome: str  # success | failed | refused | rollback-failed
    exit_code: int
    error: str | None = None
    failed_step: str | None = None
    rollback: RollbackReport | None = None
    seconds: float = 0.0


class _StepError(Exception):
    def __init__(self, step: Step, message: str, exit_code: int = EXIT_FAILED):
        super().__init__(message)
        self.step = step
        self.exit_code = exit_code


def record_start(ctx: RunContext, steps: list[str], **extra) -> None:
    """The journal's first record of a run: what runs where, by whom (host and pid: a run whose
    process is gone can be told from a live one)."""
    ctx.journal.record(
        "run_start",
        planrun_version=__version__,
        command=ctx.options.command,
        plan=ctx.plan.name,
        plan_file=str(ctx.loaded.path),
        target=ctx.target_name,
        steps=steps,
        **extra,
        **runner_identity(),
    )


def record_end(ctx: RunContext, result: RunResult, **extra) -> None:
    ctx.journal.record(
        "run_end",
        outcome=result.outcome,
        exit_code=result.exit_code,
        duration=round(result.seconds, 3),
        error=result.error,
        failed_step=result.failed_step,
        **extra,
    )


def plan_steps(loaded: LoadedPlan) -> list[Step]:
    """Every step the plugins contribute for the plan, in phase order."""
    contributed = [s for steps in reversed(loaded.plugins.hook.planrun_steps(plan=loaded.plan)) for s in (steps or [])]
    return sorted(contributed, key=lambda s: PHASES.index(s.phase))


def collect_steps(ctx: RunContext) -> list[Step]:
    return plan_steps(ctx.loaded)


def run(
    ctx: RunContext,
    steps: list[Step] | None = None,
    *,
    preflight: bool = True,
    before: dict[str, Snapshot] | None = None,
) -> RunResult:
    """Run ``steps`` (by default every step the plugins contribute) in phase order. ``before``:
    the snapshots of the state a failure must return to, when they were taken by an earlier run
    (recovering a run that died); otherwise they are taken just before the first step that
    changes the target."""
    started = time.monotonic()
    steps = collect_steps(ctx) if steps is None else sorted(steps, key=lambda s: PHASES.index(s.phase))
    record_start(ctx, [f"{s.phase}:{s.name}" for s in steps])
    ctx.reporter.heading(f"planrun {ctx.options.command} {ctx.plan.name} on {ctx.target_name} (run {ctx.run_id})")
    notify(ctx, "start", f"{ctx.plan.name}: starting on {ctx.target_name}")
    error: _StepError | None = None
    rollback: RollbackReport | None = None
    changing = before is not None
    before = before or {}
    bind_control(ctx)
    phase = steps[0].phase if steps else PHASES[0]
    with ctx.resources, activated(ctx.control):
        _tell_plugins(ctx, "planrun_run_started")
        try:
            for index, step in enumerate(steps):
                phase = step.phase
                if index > 0:
                    _guard(ctx, step.name, step.phase)
                if preflight and step.phase != HOLDING and (index == 0 or steps[index - 1].phase == HOLDING):
                    _preflight(ctx, step)
                if PHASES.index(step.phase) >= PHASES.index(FIRST_CHANGING_PHASE) and not changing:
                    before = _snapshot(ctx, step)
                    changing = True
                _run_step(ctx, step)
            if steps:
                _guard(ctx, "success", steps[-1].phase)
        except Exception as exc:  # a step's failure, or anything between steps: the run still ends properly
            error = (
                exc
                if isinstance(exc, _StepError)
                else _StepError(
                    Step("run", phase, lambda _: None), describe_error(exc), getattr(exc, "exit_code", EXIT_FAILED)
                )
            )
            rollback = getattr(error.__cause__, "report", None)  # a recovery's own rollback, already tried
            if changing and rollback is None:
                rollback = roll_back(ctx, before)
        seconds = time.monotonic() - started
        result = _result(ctx, error, rollback, seconds)
        record_end(ctx, result, facts=ctx.facts.record())
        _tell_plugins(ctx, "planrun_run_finished", result=result)
    _report_end(ctx, result)
    kind = "success" if result.outcome == "success" else "failure"
    notify(ctx, kind, _summary(ctx, result), error=result.error, duration=seconds)
    return result


class RollbackFailed(PlanrunError):
    """A recovery's rollback could not be proven; ``report`` says how it went."""

    def __init__(self, report: RollbackReport):
        super().__init__(rollback_summary(report))
        self.report = report


def recovery_steps(ctx: RunContext, run_id: str, before: dict[str, Snapshot], forward: bool) -> list[Step]:
    """The steps that finish a run that died: under the lock, either roll it back to the state
    it started from and prove it against the snapshots it took then (``before``), or, forward,
    migrate and post-check again (a failure then rolls back to that same state)."""
    steps = collect_steps(ctx)
    holds = [s for s in steps if s.phase == HOLDING]
    if forward:  # the pre-checks take the post-checks' baselines again; the dead run's safeguards stay the ones to use
        return holds + [s for s in steps if s.phase in (PRE_CHECKING, CHANGING, POST_CHECKING)]

    def back(ctx: RunContext) -> str:
        report = roll_back(ctx, before)
        if not report.ok:
            raise RollbackFailed(report)
        return f"run {run_id} rolled back by {report.method} and proven"

    return holds + [Step(f"recover {run_id}", CHANGING, back, "roll the dead run back to where it started")]


def _tell_plugins(ctx: RunContext, hook: str, where: str | None = None, **kwargs) -> None:
    """Call a hook whose answers do not matter, each plugin on its own: one that fails there is
    a warning naming it, and the others are still told (a failing plugin must not keep the
    monitor from stopping at the end of a step)."""
    arguments = {"ctx": ctx, **kwargs}
    for impl in reversed(getattr(ctx.hook, hook).get_hookimpls()):  # pluggy's order: the latest first
        if impl.hookwrapper or impl.wrapper:
            continue
        try:
            impl.function(**{name: arguments[name] for name in impl.argnames})
        except Exception as exc:
            ctx.reporter.warning(f"{where or hook} ({impl.plugin_name}): {describe_error(exc)}")


def _run_step(ctx: RunContext, step: Step) -> None:
    label = f"{step.phase}: {step.name}" if step.phase != step.name else step.name
    if ctx.target_key:
        label = f"{ctx.target_key}: {label}"
    if ctx.control.abort_reason is not None:
        raise _StepError(step, f"not started: {ctx.control.abort_reason}")
    ctx.journal.record("step_start", step=step.name, phase=step.phase)
    started = time.monotonic()
    try:
        with ctx.reporter.step(label):
            ctx.hook.planrun_step_started(ctx=ctx, step=step)
            try:
                summary = _ended_process_is_failure(step, ctx)
            except Exception as exc:
                _step_finished(ctx, step, "failed", describe_error(exc))
                raise
            _step_finished(ctx, step, "ok", None)
    except Exception as exc:
        seconds = time.monotonic() - started
        message = describe_error(exc)
        if ctx.control.abort_reason is not None:
            message = f"{ctx.control.abort_reason}; the step stopped with: {message}"
        ctx.journal.record(
            "step_end",
            step=step.name,
            phase=step.phase,
            outcome="failed",
            duration=round(seconds, 3),
            error=message,
            traceback=None if isinstance(exc, PlanrunError) else traceback.format_exc(),
        )
        ctx.reporter.step_done(label, "failed", seconds, message)
        raise _StepError(step, message, getattr(exc, "exit_code", EXIT_FAILED)) from exc
    seconds = time.monotonic() - started
    ctx.journal.record(
        "step_end", step=step.name, phase=step.phase, outcome="ok", duration=round(seconds, 3), summary=summary
    )
    ctx.reporter.step_done(label, "ok", seconds, summary)


def _ended_process_is_failure(step: Step, ctx: RunContext) -> str | None:
    """Run the step; code that tries to end the process inside it (``sys.exit()`` or
    ``KeyboardInterrupt`` in a revision, in env.py, in a plugin) fails the step, so the run
    still rolls back and says so, instead of leaving with exit 0 half-way."""
    try:
        return step.run(ctx)
    except (SystemExit, KeyboardInterrupt) as exc:
        raise StepFailed(
            f"{type(exc).__name__}({exc}) raised inside the step tried to end the process; the run fails instead"
        ) from exc


def _guard(ctx: RunContext, before: str, phase: str) -> None:
    """Every plugin's word that the run may go on (the lock is still held)."""
    try:
        ctx.hook.planrun_guard(ctx=ctx, before=before)
    except Exception as exc:
        message = describe_error(exc)
        ctx.journal.record("guard_failed", before=before, error=message)
        ctx.reporter.error(message)
        raise _StepError(Step("guard", phase, lambda _: None), message) from exc


def _step_finished(ctx: RunContext, step: Step, outcome: str, error: str | None) -> None:
    # a plugin's cleanup must not change the step's outcome
    _tell_plugins(ctx, "planrun_step_finished", f"after {step.name}", step=step, outcome=outcome, error=error)


def _preflight(ctx: RunContext, next_step: Step) -> None:
    try:
        findings = [f for found in ctx.hook.planrun_preflight(ctx=ctx) for f in (found or [])]
    except Exception as exc:
        step = Step("preflight", next_step.phase, lambda _: None)
        raise _StepError(step, describe_error(exc), getattr(exc, "exit_code", EXIT_FAILED)) from exc
    for finding in findings:
        ctx.journal.record("preflight", severity=finding.severity, message=finding.message, source=finding.source)
        (ctx.reporter.error if finding.severity == "error" else ctx.reporter.warning)(finding.message)
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        step = Step("preflight", next_step.phase, lambda _: None)
        raise _StepError(step, f"refused to start: {errors[0].message}", EXIT_BAD_PLAN)


def _snapshot(ctx: RunContext, next_step: Step) -> dict[str, Snapshot]:
    started = time.monotonic()
    try:
        taken = {name: snap for found in ctx.hook.planrun_snapshot(ctx=ctx) for name, snap in (found or {}).items()}
    except Exception as exc:
        raise _StepError(
            Step("snapshot", next_step.phase, lambda _: None),
            f"could not take the pre-run snapshot: {describe_error(exc)}",
        ) from exc
    ctx.journal.record(
        "snapshot",
        when="before",
        digests={k: v.digest for k, v in taken.items()},
        duration=round(time.monotonic() - started, 3),
    )
    _tell_plugins(ctx, "planrun_snapshot_taken", snapshots=taken)
    return taken


def _result(ctx: RunContext, error: _StepError | None, rollback: RollbackReport | None, seconds: float) -> RunResult:
    if error is None:
        return RunResult(ctx.run_id, "success", EXIT_OK, seconds=seconds)
    result = RunResult(ctx.run_id, "failed", error.exit_code, str(error), error.step.name, rollback, seconds)
    if error.exit_code == EXIT_BAD_PLAN:
        result.outcome = "refused"
    if rollback is not None and not rollback.ok:
        result.outcome, result.exit_code = "rollback-failed", EXIT_ROLLBACK_FAILED
    return result


def _summary(ctx: RunContext, result: RunResult) -> str:
    if result.outcome == "success":
        return f"{ctx.plan.name}: succeeded on {ctx.target_name} in {result.seconds:.1f}s"
    text = f"{ctx.plan.name}: failed at {result.failed_step} on {ctx.target_name}: {result.error}"
    if result.rollback:
        text += f" -- {rollback_summary(result.rollback)}"
    return text


def _report_end(ctx: RunContext, result: RunResult) -> None:
    if result.outcome == "success":
        ctx.reporter.heading(f"done in {result.seconds:.1f}s")
    elif result.outcome == "rollback-failed":
        ctx.reporter.error(f"{_summary(ctx, result)} (exit {result.exit_code})")
    else:
        tail = claims.not_rolled_back() if result.rollback is None else rollback_summary(result.rollback)
        ctx.reporter.error(f"run failed at {result.failed_step}: {result.error}; {tail} (exit {result.exit_code})")
