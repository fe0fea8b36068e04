"""The one way checks reach the database: a READ ONLY transaction, so a check can never
change data, whatever SQL a plan puts in it."""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

from ..pg.connect import connect, quote_ident


@contextlib.contextmanager
def readonly_connection(ctx) -> Iterator[Any]:
    conn = connect(ctx.target_url, application_name=f"planrun check {ctx.run_id}", readonly=True)
    try:
        yield conn
    finally:
        conn.rollback()
        conn.close()


def scalar(ctx, sql: str, params: tuple | None = None) -> Any:
    """The first column of the first row (``None`` when there is no row)."""
    with readonly_connection(ctx) as conn, conn.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
        return row[0] if row else None


def quoted(ctx, name: str) -> str:
    with readonly_connection(ctx) as conn:
        return quote_ident(conn, name)
