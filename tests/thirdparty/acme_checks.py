"""A third-party check plugin, written as a user would: ``max_rows: {table, limit}``."""

from pydantic import Field

from planrun.engine.hookspecs import hookimpl
from planrun.engine.plan.model import CheckConfig, Section
from planrun.engine.steps import CheckResult
from planrun.plugins.checks.readonly import quoted, scalar


class MaxRowsSpec(Section):
    table: str
    limit: int = Field(..., ge=0)


class MaxRows(CheckConfig):
    """The table holds at most ``limit`` rows."""

    max_rows: MaxRowsSpec

    def run(self, ctx, baseline):
        count = scalar(ctx, f"SELECT count(*) FROM {quoted(ctx, self.max_rows.table)}")
        return CheckResult(count <= self.max_rows.limit, f"{count} rows, limit {self.max_rows.limit}", count)


@hookimpl
def planrun_check_types():
    return {"max_rows": MaxRows}
