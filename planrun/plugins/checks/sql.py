"""The ``sql`` check's hooks (the check itself, :mod:`.sql_check`, loads when a plan is read)."""

from __future__ import annotations

from planrun.plugin import Finding, hookimpl


@hookimpl
def planrun_check_types():
    from .sql_check import SqlCheck

    return {"sql": SqlCheck}


@hookimpl
def planrun_validate_plan(plan):
    """Refuse, before anything runs, a check whose SQL could write, lock or reach outside its
    transaction (see :mod:`.guard`), with the check's place in the plan."""
    from .guard import refusal
    from .sql_check import SqlCheck

    problems = []
    for phase in ("gate", "pre", "post"):
        for index, check in enumerate(getattr(plan.checks, phase)):
            if isinstance(check, SqlCheck) and (reason := refusal(check.sql)):
                problems.append((("checks", phase, index, "sql"), f"refused: {reason}"))
    return problems


@hookimpl
def planrun_preflight(ctx):
    """Refuse to start, before anything changes, when an ``sql`` check reaches a function the
    live catalog does not show to be read-only (see :mod:`.fence`), or ``checks.trust`` names
    a function the database does not hold."""
    from .fence import Refused, refusal
    from .readonly import readonly_connection
    from .sql_check import SqlCheck

    mine = [
        (phase, check)
        for phase in ("gate", "pre", "post")
        for check in getattr(ctx.plan.checks, phase)
        if isinstance(check, SqlCheck) and check.target in (None, ctx.target_key)
    ]
    trust = [entry.function for entry in ctx.plan.checks.trust]
    if not mine and not trust:
        return []
    findings = []
    with readonly_connection(ctx) as conn:
        try:
            for phase, check in mine or [(None, None)]:
                reason = refusal(conn, check.sql if check else "SELECT 1", trust)
                if reason:
                    findings.append(Finding("error", f"{phase}-check {check.label()}: refused: {reason}", "checks"))
        except Refused as exc:
            findings.append(Finding("error", str(exc), "checks"))
    return findings
