"""Rolling a run back: each method of the plan's strategy in turn until one is proven by the
snapshots (every snapshot taken after it equals the one taken before the run). While the
database cannot be reached (a restart, a failover) a method is tried again with backoff, for as
long as ``rollback.within`` allows."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from . import claims
from .context import RunContext
from .errors import PlanrunError, Unreachable, describe_error
from .facts import KeptOnPurpose, RollbackOutcome, Written
from .notify import notify
from .retry import Retry, doubling, retrying
from .run_events import RollbackEnded, RollbackRetried, StepEnded, StepStarted
from .snapshot import Snapshot


@dataclass
class RollbackReport:
    ok: bool
    method: str | None
    seconds: float
    within: float
    attempts: list[dict] = field(default_factory=list)
    claim: str = ""  # what the proof showed, in words (see claims.proven)

    @property
    def over_budget(self) -> bool:
        return self.seconds > self.within


def roll_back(ctx: RunContext, before: dict[str, Snapshot], announce: bool = True) -> RollbackReport:
    """Try each method of the plan's strategy until one is proven by the snapshots; tell the
    notifiers unless ``announce`` is off (a run over several targets tells them once, at its end)."""
    started = time.monotonic()
    within = ctx.plan.rollback.within.total_seconds()
    report = RollbackReport(ok=False, method=None, seconds=0.0, within=within)
    ctx.reporter.heading(f"{_prefix(ctx)}rolling back ({ctx.plan.rollback.strategy})")
    try:  # never roll back unlocked: what the run held (its lock) is held again first
        ctx.hook.planrun_hold_again(ctx=ctx, deadline=started + within)
    except Exception as exc:
        report.attempts.append(
            {"method": "hold again", "ok": False, "error": f"not rolled back: {describe_error(exc)}"}
        )
        ctx.reporter.error(f"{_prefix(ctx)}not rolled back: {describe_error(exc)}")
    methods = ctx.plan.rollback.methods() if not report.attempts else []
    for method in methods:
        attempt = _attempt_until(ctx, method, before, started + within)
        report.attempts.append(attempt)
        if attempt["ok"]:
            report.ok, report.method, report.claim = True, method, attempt["claim"]
            break
    report.seconds = time.monotonic() - started
    ctx.facts.publish(RollbackOutcome(report.ok, report.method, round(report.seconds, 3), within))
    ctx.journal.emit(RollbackEnded(report.ok, report.method, round(report.seconds, 3), within, report.attempts))
    if report.over_budget:
        ctx.reporter.warning(
            f"the rollback took {report.seconds:.1f}s, over its budget of {within:g}s (rollback.within)"
        )
    if announce:
        notify(ctx, "rollback", rollback_summary(report), duration=report.seconds)
    return report


def _attempt_until(ctx: RunContext, method: str, before: dict[str, Snapshot], deadline: float) -> dict:
    """Roll back by ``method``; while the database cannot be reached (a restart, a failover),
    try again with backoff until ``deadline`` (the start of the rollback plus rollback.within)."""
    tries = 0

    def once() -> dict:
        nonlocal tries
        tries += 1
        attempt = _attempt_rollback(ctx, method, before)
        if not attempt["ok"] and attempt.pop("unreachable", False):
            raise _StillUnreachable(attempt)
        return attempt

    def told(retry: Retry) -> None:
        error = getattr(retry.error, "attempt", {}).get("error")
        ctx.journal.emit(RollbackRetried(method, error, round(retry.pause, 2)))
        left = deadline - time.monotonic()
        ctx.reporter.warning(
            f"rollback by {method}: {error}; trying again in {retry.pause:.1f}s ({left:.0f}s of rollback.within left)"
        )

    try:
        attempt = retrying(
            once,
            again=lambda error: isinstance(error, _StillUnreachable),
            pauses=doubling(0.5, 10.0),
            deadline=deadline,
            on_retry=told,
        )
    except _StillUnreachable as still:
        attempt = still.attempt
    attempt["tries"] = tries
    return attempt


class _StillUnreachable(Exception):
    """A rollback attempt that could not reach the database: tried again until the deadline."""

    def __init__(self, attempt: dict):
        super().__init__(attempt.get("error"))
        self.attempt = attempt


def _attempt_rollback(ctx: RunContext, method: str, before: dict[str, Snapshot]) -> dict:
    label = f"{_prefix(ctx)}rollback: {method}"
    ctx.journal.emit(StepStarted(f"rollback-{method}", "rollback", method=method))
    started = time.monotonic()
    attempt: dict = {"method": method, "ok": False}
    try:
        with ctx.reporter.step(label):
            registered = ctx.plan.rollback.registry.get(method)
            if registered is None:
                raise PlanrunError(f"no plugin can roll back by {method!r}")
            ctx.facts.publish(KeptOnPurpose())  # only what this method keeps counts
            summary = registered.undo(ctx)
            attempt["summary"] = summary
            after = {name: snap for found in ctx.hook.planrun_snapshot(ctx=ctx) for name, snap in (found or {}).items()}
        kept = ctx.facts.get(KeptOnPurpose) or KeptOnPurpose()
        differences = _differences(
            {k: v.without(kept.keys) for k, v in before.items()}, {k: v.without(kept.keys) for k, v in after.items()}
        )
        written = ctx.facts.get(Written)
        gap = claims.uncovered(before, written)
        if differences:
            attempt["error"] = "the database does not match its pre-run state: " + "; ".join(differences[:10])
        elif gap:
            attempt["error"] = gap
        else:
            attempt["ok"] = True
            attempt["claim"] = claims.proven(before, written, ctx.plan.rollback.strategy, _offered(ctx), kept)
    except Exception as exc:
        attempt["error"] = describe_error(exc)
        attempt["unreachable"] = isinstance(exc, Unreachable)
    seconds = time.monotonic() - started
    attempt["duration"] = round(seconds, 3)
    ctx.journal.emit(
        StepEnded(
            f"rollback-{method}",
            "rollback",
            "ok" if attempt["ok"] else "failed",
            attempt["duration"],
            summary=attempt.get("summary"),
            error=attempt.get("error"),
            method=method,
        )
    )
    detail = "; ".join(filter(None, [attempt.get("summary"), attempt.get("claim")]))
    ctx.reporter.step_done(
        label, "ok" if attempt["ok"] else "failed", seconds, detail if attempt["ok"] else attempt.get("error")
    )
    return attempt


def _offered(ctx: RunContext) -> dict[str, str]:
    """Every proof the loaded rollback methods make, with the method that makes it (or, for one
    the strategy's own methods make, the plan key that turns it on)."""
    rollback = ctx.plan.rollback
    offered: dict[str, str] = {}
    for name, method in rollback.registry.items():
        for proof in method.proves:
            if name in rollback.methods():
                offered[proof] = f"{proof} to rollback.prove"
            offered.setdefault(proof, name)
    return offered


def _prefix(ctx: RunContext) -> str:
    return f"{ctx.target_key}: " if ctx.target_key else ""


def _differences(before: dict[str, Snapshot], after: dict[str, Snapshot]) -> list[str]:
    lines = []
    for name, snap in before.items():
        later = after.get(name)
        if later is None:
            lines.append(f"{name}: no snapshot after the rollback")
        elif later != snap:
            lines.append(f"{name}: " + ", ".join(snap.differences(later, limit=8)))
    return lines


def rollback_summary(report: RollbackReport) -> str:
    if report.ok:
        return f"rolled back by {report.method} in {report.seconds:.1f}s (budget {report.within:g}s); {report.claim}"
    errors = "; ".join(f"{a['method']}: {a.get('error')}" for a in report.attempts)
    return f"ROLLBACK FAILED after {report.seconds:.1f}s: {errors}. A human must act."
