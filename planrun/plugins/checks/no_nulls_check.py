"""``no_nulls: {table, column}``: no row has NULL in the column."""

from __future__ import annotations

from pydantic import Field

from planrun.plugin import CheckConfig, CheckResult, Section


class TableColumn(Section):
    """A column of a table."""

    table: str = Field(..., description="The table, optionally schema-qualified.")
    column: str = Field(..., description="The column.")


class NoNulls(CheckConfig):
    """No row of the table has NULL in the column."""

    no_nulls: TableColumn

    def label(self) -> str:
        return self.name or f"no_nulls {self.no_nulls.table}.{self.no_nulls.column}"

    def run(self, ctx, baseline) -> CheckResult:
        from .readonly import quoted, scalar

        spec = self.no_nulls
        count = scalar(ctx, f"SELECT count(*) FROM {quoted(ctx, spec.table)} WHERE {quoted(ctx, spec.column)} IS NULL")
        return CheckResult(count == 0, f"{count} rows with NULL", count)
