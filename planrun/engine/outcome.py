"""How a run ended, and the words it ends with: each target's outcome, the run's result and exit
code (1 when every target is where it started, 3 naming those that are not), the console's last
lines and the notification's summary. A run on one database ends as it always has (one line);
a run over several names every target."""

from __future__ import annotations

from dataclasses import dataclass, field

from . import claims
from .context import RunContext
from .errors import EXIT_BAD_PLAN, EXIT_FAILED, EXIT_OK, EXIT_ROLLBACK_FAILED
from .rollback import RollbackReport, rollback_summary


@dataclass
class RunResult:
    run_id: str
    outcome: str  # success | failed | refused | rollback-failed
    exit_code: int
    error: str | None = None
    failed_step: str | None = None
    rollback: RollbackReport | None = None
    seconds: float = 0.0


@dataclass
class TargetOutcome:
    """How one target of the run ended."""

    name: str | None
    # success | failed | refused | rollback-failed | not changed | committed | in doubt (a run whose
    # deferred commits could not all be finished: committed on some targets, kept open on others)
    outcome: str = "not changed"
    error: str | None = None
    failed_step: str | None = None
    rollback: RollbackReport | None = None
    steps: dict[str, float] = field(default_factory=dict)  # step -> seconds
    code: int = EXIT_FAILED  # the exit code the failure itself asked for

    @property
    def exit_code(self) -> int:
        if self.outcome == "failed":
            return self.code
        return {
            "success": EXIT_OK,
            "refused": EXIT_BAD_PLAN,
            "rollback-failed": EXIT_ROLLBACK_FAILED,
            "in doubt": EXIT_ROLLBACK_FAILED,
        }.get(self.outcome, EXIT_FAILED)

    def result(self, run_id: str, seconds: float) -> RunResult:
        return RunResult(
            run_id, self.outcome, self.exit_code, self.error, self.failed_step, self.rollback, seconds=seconds
        )


@dataclass
class CoordinatedResult(RunResult):
    targets: dict[str | None, TargetOutcome] = field(default_factory=dict)


def single_result(run_id: str, outcome: TargetOutcome, seconds: float) -> RunResult:
    """The result of a run on one database (its one target's outcome, as a run's)."""
    if outcome.outcome == "success":
        return RunResult(run_id, "success", EXIT_OK, seconds=seconds)
    return outcome.result(run_id, seconds)


def coordinated_result(
    main: RunContext, outcomes: dict[str | None, TargetOutcome], seconds: float
) -> CoordinatedResult:
    failed = [o for o in outcomes.values() if o.outcome != "success"]
    if not failed:
        return CoordinatedResult(main.run_id, "success", EXIT_OK, seconds=seconds, targets=outcomes)
    first = next((o for o in failed if o.failed_step), failed[0])
    unproven = [o.name for o in failed if o.outcome == "rollback-failed"]
    in_doubt = [o.name for o in failed if o.outcome == "in doubt"]
    if unproven or in_doubt:
        error = f"{first.name}: {first.error}"
        if unproven:
            error += f"; the rollback of {', '.join(map(str, unproven))} was not proven"
        if in_doubt and first.outcome != "in doubt":
            error += f"; {', '.join(map(str, in_doubt))} in doubt"
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


def summary(main: RunContext, result: RunResult) -> str:
    """The notification's one line."""
    if not isinstance(result, CoordinatedResult):
        if result.outcome == "success":
            return f"{main.plan.name}: succeeded on {main.target_name} in {result.seconds:.1f}s"
        text = f"{main.plan.name}: failed at {result.failed_step} on {main.target_name}: {result.error}"
        if result.rollback:
            text += f" -- {rollback_summary(result.rollback)}"
        return text
    parts = []
    for name, outcome in result.targets.items():
        text = outcome.outcome
        if outcome.rollback is not None:
            text += f" ({rollback_summary(outcome.rollback)})"
        parts.append(f"{name}: {text}")
    head = "succeeded" if result.outcome == "success" else f"failed at {result.failed_step}: {result.error}"
    return f"{main.plan.name}: {head} -- " + "; ".join(parts)


def report(main: RunContext, result: RunResult) -> None:
    """The console's last lines."""
    if isinstance(result, CoordinatedResult):
        for name, outcome in result.targets.items():
            line = f"{name}: {outcome.outcome}" + (f": {outcome.error}" if outcome.error else "")
            if outcome.rollback is not None:
                line += f" -- {rollback_summary(outcome.rollback)}"
            (main.reporter.info if outcome.outcome == "success" else main.reporter.error)(line)
    if result.outcome == "success":
        main.reporter.heading(f"done in {result.seconds:.1f}s")
    elif isinstance(result, CoordinatedResult):
        main.reporter.error(f"run failed at {result.failed_step}: {result.error} (exit {result.exit_code})")
    elif result.outcome == "rollback-failed":
        main.reporter.error(f"{summary(main, result)} (exit {result.exit_code})")
    else:
        tail = claims.BEFORE_ANY_CHANGE if result.rollback is None else rollback_summary(result.rollback)
        main.reporter.error(f"run failed at {result.failed_step}: {result.error}; {tail} (exit {result.exit_code})")


def notification_targets(result: RunResult) -> dict:
    """What a notification of a run over several targets says of each."""
    if not isinstance(result, CoordinatedResult):
        return {}
    return {
        "targets": {
            name: {
                "outcome": o.outcome,
                "error": o.error,
                "rollback": rollback_summary(o.rollback) if o.rollback else None,
                "seconds": round(sum(o.steps.values()), 3),
            }
            for name, o in result.targets.items()
        }
    }
