"""Index builds and drops that do not block writes, inside Alembic's migration flow.

``CREATE INDEX CONCURRENTLY`` cannot run in a transaction, so it runs in an autocommit block.
A concurrent build that failed leaves an INVALID index behind; it is dropped and built again.
"""

from __future__ import annotations

from alembic import op

from .sql import offline, outside_transaction, quote_name, scalar


def create_index_concurrently(
    name: str, table: str, columns: list[str], *, unique: bool = False, where: str | None = None
) -> None:
    cols = ", ".join(quote_name(c) if c.isidentifier() else c for c in columns)
    sql = (
        f"CREATE {'UNIQUE ' if unique else ''}INDEX CONCURRENTLY IF NOT EXISTS {quote_name(name)} "
        f"ON {quote_name(table)} ({cols})" + (f" WHERE {where}" if where else "")
    )
    with outside_transaction(f"create index {name} concurrently"):
        if not offline():
            invalid = scalar(
                "SELECT NOT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass(:name)", name=name
            )
            if invalid:
                op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {quote_name(name)}")
        op.execute(sql)


def drop_index_concurrently(name: str) -> None:
    with outside_transaction(f"drop index {name} concurrently"):
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {quote_name(name)}")
