"""The ``sql`` check: a query whose first value must meet an expectation (``0``, ``"> 0"``)."""

from __future__ import annotations

from pydantic import Field

from planrun.engine.hookspecs import hookimpl
from planrun.engine.plan.model import CheckConfig
from planrun.engine.steps import CheckResult

from .expectation import ExpectationField, parse_expectation


class SqlCheck(CheckConfig):
    """Run a query (read-only) and compare its first value with ``expect``."""

    name: str = Field(..., description="What the check proves, in words.")
    sql: str = Field(..., description="A query returning one value, e.g. SELECT count(*) FROM ...")
    expect: ExpectationField = Field(parse_expectation(0), description="0, or a comparison like '> 0' or '<= 10'.")

    def run(self, ctx, baseline) -> CheckResult:
        from .readonly import scalar

        actual = scalar(ctx, self.sql)
        return CheckResult(self.expect.matches(actual), f"got {actual}, expected {self.expect}", actual)


@hookimpl
def planrun_check_types():
    return {"sql": SqlCheck}


@hookimpl
def planrun_validate_plan(plan):
    """Refuse, before anything runs, a check whose SQL could write, lock or reach outside its
    transaction (see :mod:`.guard`), with the check's place in the plan."""
    from .guard import refusal

    problems = []
    for phase in ("gate", "pre", "post"):
        for index, check in enumerate(getattr(plan.checks, phase)):
            if isinstance(check, SqlCheck) and (reason := refusal(check.sql)):
                problems.append((("checks", phase, index, "sql"), f"refused: {reason}"))
    return problems
