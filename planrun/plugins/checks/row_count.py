"""``row_count_unchanged: TABLE``: the table has as many rows after the run as before."""
from __future__ import annotations

from pydantic import Field

from planrun.engine.hookspecs import hookimpl
from planrun.engine.plan.model import CheckConfig
from planrun.engine.steps import CheckResult

from .readonly import quoted, scalar


class RowCountUnchanged(CheckConfig):
    """The table's row count after the run equals its count before (taken during pre-checks)."""

    row_count_unchanged: str = Field(..., description="The table, optionally schema-qualified.")


def _count(ctx, table: str) -> int:
    return scalar(ctx, f"SELECT count(*) FROM {quoted(ctx, table)}")


@hookimpl
def planrun_check_types():
    return {"row_count_unchanged": RowCountUnchanged}


@hookimpl
def planrun_check_baseline(ctx, check):
    if isinstance(check, RowCountUnchanged):
        return _count(ctx, check.row_count_unchanged)
    return None


@hookimpl
def planrun_run_check(ctx, check, baseline):
    if not isinstance(check, RowCountUnchanged):
        return None
    now = _count(ctx, check.row_count_unchanged)
    return CheckResult(now == baseline, f"{now} rows now, {baseline} before", now)
