"""Running one step of a run, and what happens between steps: the journal's records, the
console's line, the plugins told it started and ended, their guard (the lock still held), the
preflight before the first step after holding, and the snapshot before the first changing one.
:mod:`.runner` decides which step runs next; this module runs it."""

from __future__ import annotations

import time
import traceback

from .context import RunContext
from .errors import EXIT_BAD_PLAN, EXIT_FAILED, PlanrunError, StepFailed, describe_error
from .run_events import GuardFailed, PreflightFound, SnapshotTaken, StepEnded, StepStarted
from .snapshot import Snapshot
from .steps import Step


class StepError(Exception):
    """A step (or the guard, preflight or snapshot around it) failed: ``step`` names it and
    ``exit_code`` is what the failure asks the run to end with."""

    def __init__(self, step: Step, message: str, exit_code: int = EXIT_FAILED):
        super().__init__(message)
        self.step = step
        self.exit_code = exit_code


def tell_plugins(ctx: RunContext, hook: str, where: str | None = None, **kwargs) -> None:
    """Call a hook whose answers do not matter, each plugin on its own: one that fails there is
    a warning naming it, and the others are still told (a failing plugin must not keep the
    monitor from stopping at the end of a step)."""
    for name, call in reversed(ctx.loaded.plugins.each(hook, ctx=ctx, **kwargs)):  # pluggy's order: the latest first
        try:
            call()
        except Exception as exc:
            ctx.reporter.warning(f"{where or hook} ({name}): {describe_error(exc)}")


def run_step(ctx: RunContext, step: Step) -> None:
    label = f"{step.phase}: {step.name}" if step.phase != step.name else step.name
    if ctx.target_key:
        label = f"{ctx.target_key}: {label}"
    if ctx.control.abort_reason is not None:
        raise StepError(step, f"not started: {ctx.control.abort_reason}")
    ctx.journal.emit(StepStarted(step.name, step.phase))
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
        ctx.journal.emit(
            StepEnded(
                step.name,
                step.phase,
                "failed",
                round(seconds, 3),
                error=message,
                traceback=None if isinstance(exc, PlanrunError) else traceback.format_exc(),
            )
        )
        ctx.reporter.step_done(label, "failed", seconds, message)
        raise StepError(step, message, getattr(exc, "exit_code", EXIT_FAILED)) from exc
    seconds = time.monotonic() - started
    ctx.journal.emit(StepEnded(step.name, step.phase, "ok", round(seconds, 3), summary=summary))
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


def guard(ctx: RunContext, before: str, phase: str) -> None:
    """Every plugin's word that the run may go on (the lock is still held)."""
    try:
        ctx.hook.planrun_guard(ctx=ctx, before=before)
    except Exception as exc:
        message = describe_error(exc)
        ctx.journal.emit(GuardFailed(before, message))
        ctx.reporter.error(message)
        raise StepError(Step("guard", phase, lambda _: None), message) from exc


def _step_finished(ctx: RunContext, step: Step, outcome: str, error: str | None) -> None:
    # a plugin's cleanup must not change the step's outcome
    tell_plugins(ctx, "planrun_step_finished", f"after {step.name}", step=step, outcome=outcome, error=error)


def preflight(ctx: RunContext, next_step: Step) -> None:
    try:
        findings = [f for found in ctx.hook.planrun_preflight(ctx=ctx) for f in (found or [])]
    except Exception as exc:
        step = Step("preflight", next_step.phase, lambda _: None)
        raise StepError(step, describe_error(exc), getattr(exc, "exit_code", EXIT_FAILED)) from exc
    for finding in findings:
        ctx.journal.emit(PreflightFound(finding.severity, finding.message, finding.source))
        (ctx.reporter.error if finding.severity == "error" else ctx.reporter.warning)(finding.message)
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        step = Step("preflight", next_step.phase, lambda _: None)
        raise StepError(step, f"refused to start: {errors[0].message}", EXIT_BAD_PLAN)


def snapshot(ctx: RunContext, next_step: Step) -> dict[str, Snapshot]:
    started = time.monotonic()
    try:
        taken = {name: snap for found in ctx.hook.planrun_snapshot(ctx=ctx) for name, snap in (found or {}).items()}
    except Exception as exc:
        raise StepError(
            Step("snapshot", next_step.phase, lambda _: None),
            f"could not take the pre-run snapshot: {describe_error(exc)}",
        ) from exc
    ctx.journal.emit(
        SnapshotTaken("before", {k: v.digest for k, v in taken.items()}, round(time.monotonic() - started, 3))
    )
    tell_plugins(ctx, "planrun_snapshot_taken", snapshots=taken)
    return taken
