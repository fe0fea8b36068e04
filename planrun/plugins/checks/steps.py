"""The ``pre-checks`` and ``post-checks`` steps. Every check of the plan gets its baseline
taken during pre-checks (before anything changes); each step runs its checks, reports each,
and fails when any failed."""
from __future__ import annotations

from planrun.engine.errors import StepFailed
from planrun.engine.hookspecs import hookimpl
from planrun.engine.steps import Step


def _baselines(ctx) -> None:
    baselines = ctx.state.setdefault("checks.baselines", {})
    for phase in ("gate", "pre", "post"):
        for index, check in enumerate(getattr(ctx.plan.checks, phase)):
            try:
                baselines[(phase, index)] = ctx.hook.planrun_check_baseline(ctx=ctx, check=check)
            except Exception as exc:
                raise StepFailed(f"{phase}-check {check.label()}: cannot take its baseline: {_first_line(exc)}") from exc


def run_checks(ctx, phase: str) -> str:
    checks = getattr(ctx.plan.checks, phase)
    baselines = ctx.state.get("checks.baselines", {})
    failures = []
    for index, check in enumerate(checks):
        try:
            result = ctx.hook.planrun_run_check(ctx=ctx, check=check, baseline=baselines.get((phase, index)))
        except Exception as exc:
            failures.append(f"{check.label()}: {_first_line(exc)}")
            ctx.journal.record("check", phase=phase, check=check.label(), ok=False, error=failures[-1])
            ctx.reporter.info(f"    ✗ {failures[-1]}")
            continue
        if result is None:
            raise StepFailed(f"no plugin runs checks of type {check.check_type!r}")
        ctx.journal.record("check", phase=phase, check=check.label(), ok=result.ok, message=result.message, actual=result.actual)
        ctx.reporter.info(f"    {'✓' if result.ok else '✗'} {check.label()}: {result.message}")
        if not result.ok:
            failures.append(f"{check.label()}: {result.message}")
    if failures:
        raise StepFailed(f"{len(failures)} of {len(checks)} {phase}-checks failed: " + "; ".join(failures))
    return f"{len(checks)} passed"


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def pre_checks(ctx) -> str:
    _baselines(ctx)
    summary = []
    if ctx.plan.checks.gate:
        try:
            summary.append("gate: " + run_checks(ctx, "gate"))
        except StepFailed as exc:
            raise StepFailed(f"the contract's gate is closed: {exc}") from exc
    if ctx.plan.checks.pre or not summary:
        summary.append(run_checks(ctx, "pre"))
    return "; ".join(summary)


def post_checks(ctx) -> str:
    return run_checks(ctx, "post")


@hookimpl
def planrun_steps(plan):
    checks = plan.checks
    if not checks.pre and not checks.post and not checks.gate:
        return []
    gate = f"{len(checks.gate)} gate checks, then " if checks.gate else ""
    steps = [Step("pre-checks", "pre-checks", pre_checks, f"{gate}{len(checks.pre)} checks; baselines for post-checks")]
    if checks.post:
        steps.append(Step("post-checks", "post-checks", post_checks, f"{len(checks.post)} checks; a failure rolls back"))
    return steps


@hookimpl
def planrun_validate_plan(plan):
    if plan.phase == "contract" and not plan.checks.gate:
        return [(("phase",), "a contract plan needs checks.gate: checks proving nothing still uses what it removes "
                             "(e.g. zero rows where the old and new columns differ)")]
    return None
