"""The ``sql`` check: a query whose first value must meet an expectation (``0``, ``"> 0"``)."""

from __future__ import annotations

from pydantic import Field

from planrun.plugin import CheckConfig, CheckResult

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
