"""The plugin example of docs/plugins.md, word for word (tests/engine/test_plugins.py keeps them equal):
a third-party check type ``max_rows: {table, limit}`` written with nothing but ``planrun.plugin``."""

from pydantic import Field

from planrun.plugin import CheckConfig, CheckResult, Section, hookimpl


class MaxRowsSpec(Section):
    """A table and how many rows it may hold."""

    table: str
    limit: int = Field(..., ge=0)


class MaxRows(CheckConfig):
    """The table holds at most `limit` rows."""

    max_rows: MaxRowsSpec  # the field named like the type: `- {max_rows: {...}}`

    def run(self, ctx, baseline) -> CheckResult:
        from planrun.plugin import quoted, scalar  # read-only, guarded like the built-in checks

        count = scalar(ctx, f"SELECT count(*) FROM {quoted(ctx, self.max_rows.table)}")
        return CheckResult(count <= self.max_rows.limit, f"{count} rows, limit {self.max_rows.limit}", count)


@hookimpl
def planrun_check_types():
    return {"max_rows": MaxRows}
