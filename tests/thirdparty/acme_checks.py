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


@hookimpl
def planrun_check_types():
    return {"max_rows": MaxRows}


@hookimpl
def planrun_run_check(ctx, check, baseline):
    if not isinstance(check, MaxRows):
        return None
    count = scalar(ctx, f"SELECT count(*) FROM {quoted(ctx, check.max_rows.table)}")
    return CheckResult(count <= check.max_rows.limit, f"{count} rows, limit {check.max_rows.limit}", count)
