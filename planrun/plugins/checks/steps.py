"""The ``pre-checks`` and ``post-checks`` steps. Every check of the plan gets its baseline
taken during pre-checks (before anything changes); each step runs its checks, reports each,
and fails when any failed."""

from __future__ import annotations

from planrun.plugin import Step, StepFailed, describe_error, hookimpl

from ..facts import PostChecks, ReleasePhase, Revisions
from .events import EVENTS, CheckRan
from .sharing import one_connection


def _baselines(ctx) -> None:
    baselines = ctx.state.setdefault("checks.baselines", {})
    for phase in ("gate", "pre", "post"):
        for index, check in enumerate(_mine(ctx, getattr(ctx.plan.checks, phase))):
            try:
                baselines[(phase, index)] = check.baseline(ctx)
            except Exception as exc:
                raise StepFailed(
                    f"{phase}-check {check.label()}: cannot take its baseline: {describe_error(exc)}"
                ) from exc


def _mine(ctx, checks) -> list:
    """The checks of this context's target (those naming it, and those naming none) that run for
    this command (``when``: a ``test`` check is the stairway's only, a ``rollback`` check a
    release rollback's only)."""
    revisions = ctx.facts.get(Revisions)
    command = "rollback" if revisions is not None and revisions.rolling_back else ctx.options.command
    return [
        check
        for check in checks
        if (check.target is None or check.target == ctx.target_key) and check.applies_to(command)
    ]


def run_checks(ctx, phase: str) -> str:
    with one_connection(ctx):
        return _run_checks(ctx, phase)


def _run_checks(ctx, phase: str) -> str:
    checks = _mine(ctx, getattr(ctx.plan.checks, phase))
    baselines = ctx.state.get("checks.baselines", {})
    failures = []
    for index, check in enumerate(checks):
        try:
            result = check.run(ctx, baselines.get((phase, index)))
        except Exception as exc:
            failures.append(f"{check.label()}: {describe_error(exc)}")
            ctx.journal.emit(CheckRan(phase=phase, check=check.label(), ok=False, error=failures[-1]))
            ctx.reporter.info(f"    ✗ {failures[-1]}")
            continue
        ctx.journal.emit(
            CheckRan(phase=phase, check=check.label(), ok=result.ok, message=result.message, actual=result.actual)
        )
        ctx.reporter.info(f"    {'✓' if result.ok else '✗'} {check.label()}: {result.message}")
        if not result.ok:
            failures.append(f"{check.label()}: {result.message}")
    if failures:
        raise StepFailed(f"{len(failures)} of {len(checks)} {phase}-checks failed: " + "; ".join(failures))
    return f"{len(checks)} passed"


def pre_checks(ctx) -> str:
    with one_connection(ctx):
        return _pre_checks(ctx)


def _pre_checks(ctx) -> str:
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
def planrun_journal_events():
    return EVENTS


@hookimpl
def planrun_steps(plan):
    checks = plan.checks
    if not checks.pre and not checks.post and not checks.gate:
        return []
    gate = f"{len(checks.gate)} gate checks, then " if checks.gate else ""
    steps = [Step("pre-checks", "pre-checks", pre_checks, f"{gate}{len(checks.pre)} checks; baselines for post-checks")]
    if checks.post:
        steps.append(
            Step("post-checks", "post-checks", post_checks, f"{len(checks.post)} checks; a failure rolls back")
        )
    return steps


@hookimpl
def planrun_plan_sections(items):
    from planrun.plugin import PlanSection

    from .section import checks_model  # with pydantic: loaded when a plan is read, not for --help

    return {
        "checks": PlanSection(
            checks_model(items.check),
            "SQL checks run before and after the migration, each in a READ ONLY transaction.",
            always=True,
        )
    }


def _target_problems(plan) -> list[tuple[tuple, str]]:
    names = plan.target_names()
    problems = []
    for phase in ("gate", "pre", "post"):
        for index, check in enumerate(getattr(plan.checks, phase)):
            if check.target is None:
                continue
            where = ("checks", phase, index, "target")
            if not names:
                problems.append((where, "a check names its target only in a plan over several targets (targets:)"))
            elif check.target not in names:
                problems.append((where, f"unknown target '{check.target}'; expected one of: {', '.join(names)}"))
    return problems


@hookimpl
def planrun_plan_facts(plan):
    checks = getattr(plan, "checks", None)
    return [PostChecks(tuple(checks.post) if checks is not None else ())]


@hookimpl
def planrun_validate_plan(plan, plugins):
    problems = _target_problems(plan)
    if problems:
        return problems
    phase = plugins.plan_facts(plan).get(ReleasePhase)
    if phase is not None and phase.phase == "contract" and not plan.checks.gate:
        return [
            (
                ("phase",),
                "a contract plan needs checks.gate: checks proving nothing still uses what it removes "
                "(e.g. zero rows where the old and new columns differ)",
            )
        ]
    return None
