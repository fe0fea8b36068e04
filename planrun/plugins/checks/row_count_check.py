"""``row_count_unchanged: TABLE``: the table has as many rows after the run as before."""

from __future__ import annotations

from pydantic import Field

from planrun.plugin import CheckConfig, CheckResult


class RowCountUnchanged(CheckConfig):
    """The table's row count after the run equals its count before (taken during pre-checks)."""

    row_count_unchanged: str = Field(..., description="The table, optionally schema-qualified.")

    def baseline(self, ctx) -> int:
        return _count(ctx, self.row_count_unchanged)

    def run(self, ctx, baseline) -> CheckResult:
        now = _count(ctx, self.row_count_unchanged)
        return CheckResult(now == baseline, f"{now} rows now, {baseline} before", now)


def _count(ctx, table: str) -> int:
    from .readonly import quoted, scalar

    return scalar(ctx, f"SELECT count(*) FROM {quoted(ctx, table)}")
