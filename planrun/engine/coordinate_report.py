"""How a run over several targets ended: each target's outcome, the run's result and exit
code (1 when every target is proven back, 3 naming those that are not), and the words the
console and the notification give it."""

from __future__ import annotations

from dataclasses import dataclass, field

from .context import RunContext
from .errors import EXIT_BAD_PLAN, EXIT_FAILED, EXIT_OK, EXIT_ROLLBACK_FAILED
from .rollback import RollbackReport, rollback_summary
from .runner import RunResult


@dataclass
class TargetOutcome:
    """How one target of the run ended."""

    name: str
    # success | failed | refused | rollback-failed | not changed | committed | in doubt (a two-phase
    # run whose COMMIT PREPARED failed: committed on some targets, prepared on the others)
    outcome: str = "not changed"
    error: str | None = None
    failed_step: str | None = None
    rollback: RollbackReport | None = None
    steps: dict[str, float] = field(default_factory=dict)  # step -> seconds

    @property
    def exit_code(self) -> int:
        return {
            "success": EXIT_OK,
            "refused": EXIT_BAD_PLAN,
            "rollback-failed": EXIT_ROLLBACK_FAILED,
            "in doubt": EXIT_ROLLBACK_FAILED,
        }.get(self.outcome, EXIT_FAILED)


@dataclass
class CoordinatedResult(RunResult):
    targets: dict[str, TargetOutcome] = field(default_factory=dict)


def coordinated_result(main: RunContext, outcomes: dict[str, TargetOutcome], seconds: float) -> CoordinatedResult:
    failed = [o for o in outcomes.values() if o.outcome != "success"]
    if not failed:
        return CoordinatedResult(main.run_id, "success", EXIT_OK, seconds=seconds, targets=outcomes)
    first = next((o for o in failed if o.failed_step), failed[0])
    unproven = [o.name for o in failed if o.outcome == "rollback-failed"]
    in_doubt = [o.name for o in failed if o.outcome == "in doubt"]
    if unproven or in_doubt:
        error = f"{first.name}: {first.error}"
        if unproven:
            error += f"; the rollback of {', '.join(unproven)} was not proven"
        if in_doubt and first.outcome != "in doubt":
            error += f"; {', '.join(in_doubt)} in doubt"
        return CoordinatedResult(
            main.run_id,
            "rollback-failed",
            EXIT_ROLLBACK_FAILED,
            error,
            f"{first.name}: {first.failed_step}",
            seconds=seconds,
            targets=outcomes,
        )
    outcome = "refused" if first.outcome == "refused" else "failed"
    code = EXIT_BAD_PLAN if outcome == "refused" else EXIT_FAILED
    return CoordinatedResult(
        main.run_id,
        outcome,
        code,
        f"{first.name}: {first.error}",
        f"{first.name}: {first.failed_step}",
        seconds=seconds,
        targets=outcomes,
    )


def summary(main: RunContext, result: CoordinatedResult) -> str:
    parts = []
    for name, outcome in result.targets.items():
        text = outcome.outcome
        if outcome.rollback is not None:
            text += f" ({rollback_summary(outcome.rollback)})"
        parts.append(f"{name}: {text}")
    head = "succeeded" if result.outcome == "success" else f"failed at {result.failed_step}: {result.error}"
    return f"{main.plan.name}: {head} -- " + "; ".join(parts)


def report(main: RunContext, result: CoordinatedResult) -> None:
    for name, outcome in result.targets.items():
        line = f"{name}: {outcome.outcome}" + (f": {outcome.error}" if outcome.error else "")
        if outcome.rollback is not None:
            line += f" -- {rollback_summary(outcome.rollback)}"
        (main.reporter.info if outcome.outcome == "success" else main.reporter.error)(line)
    if result.outcome == "success":
        main.reporter.heading(f"done in {result.seconds:.1f}s")
    else:
        main.reporter.error(f"run failed at {result.failed_step}: {result.error} (exit {result.exit_code})")
