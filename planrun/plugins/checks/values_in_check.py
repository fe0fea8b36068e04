"""``values_in: {table, column, values}``: every value of the column is one of ``values``."""

from __future__ import annotations

from pydantic import Field

from planrun.plugin import CheckConfig, CheckResult, Section


class ValuesInSpec(Section):
    """A column and the values it may hold."""

    table: str = Field(..., description="The table, optionally schema-qualified.")
    column: str = Field(..., description="The column.")
    values: list[str | int | float | bool] = Field(..., min_length=1, description="The allowed values.")
    allow_null: bool = Field(False, description="Whether NULL is allowed too.")


class ValuesIn(CheckConfig):
    """Every value of the column is one of the allowed values."""

    values_in: ValuesInSpec

    def label(self) -> str:
        return self.name or f"values_in {self.values_in.table}.{self.values_in.column}"

    def run(self, ctx, baseline) -> CheckResult:
        from ..pg.connect import quote_ident
        from .readonly import readonly_connection

        spec = self.values_in
        with readonly_connection(ctx) as conn, conn.cursor() as cursor:
            column, table = quote_ident(conn, spec.column), quote_ident(conn, spec.table)
            null_rule = "" if spec.allow_null else f" OR {column} IS NULL"
            cursor.execute(
                f"SELECT {column}::text, count(*) FROM {table} WHERE NOT ({column}::text = ANY(%s)){null_rule} "
                f"GROUP BY 1 ORDER BY 2 DESC LIMIT 5",
                ([str(v).lower() if isinstance(v, bool) else str(v) for v in spec.values],),
            )
            offenders = cursor.fetchall()
        if not offenders:
            return CheckResult(True, f"all values in {spec.values}", 0)
        found = ", ".join(f"{value!r} x{count}" for value, count in offenders)
        return CheckResult(False, f"values outside {spec.values}: {found}", sum(c for _, c in offenders))
