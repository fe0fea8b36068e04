"""The one way checks reach the database, fenced twice.

First, every statement a check sends (the built-ins' and any check plugin's that uses these
helpers) passes :func:`.guard.require_safe`: one plain query, nothing that writes, locks rows or
acts outside its transaction; and :func:`.fence.require_fenced`: every function it reaches,
through views and operators too, is known to be read-only or trusted by name. Then, the
server enforces its own fence from the connection's
first statement: ``default_transaction_read_only=on`` (so even a transaction the check's SQL
opened itself is read-only), ``statement_timeout`` and ``lock_timeout`` from the plan's
``checks:`` section, so a check cannot hang a run behind another session's lock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import psycopg2.extensions

from ..pg.connect import connect, quote_ident
from .fence import require_fenced
from .guard import require_safe
from .sharing import SHARED


class GuardedCursor(psycopg2.extensions.cursor):
    """A cursor that refuses any statement a check may not run: by its text (:mod:`.guard`),
    then by what it reaches in the live catalog (:mod:`.fence`). ``trust`` and ``url`` are set
    on a subclass per connection (see :func:`readonly_connection`)."""

    trust: tuple[str, ...] = ()
    url: str | None = None

    def execute(self, query, vars=None):  # noqa: A002 - psycopg2's own name
        text = self.mogrify(query, vars).decode("utf-8", "replace")
        require_safe(text)
        reopen = (
            (lambda: connect(self.url, application_name="planrun check fence", readonly=True)) if self.url else None
        )
        require_fenced(self.connection, text, self.trust, reopen)
        return super().execute(query, vars)

    def _reopen(self):
        return connect(self.url, application_name="planrun check fence", readonly=True)

    def executemany(self, query, vars_list):
        raise PermissionError("a check runs one query at a time")

    def callproc(self, procname, parameters=None):
        raise PermissionError("a check may not call procedures")


def checks_url(ctx) -> str:
    checks = getattr(ctx.plan, "checks", None)
    return getattr(checks, "url", None) or ctx.target_url


def _open(ctx):
    checks = getattr(ctx.plan, "checks", None)
    conn = connect(
        checks_url(ctx),
        application_name=f"planrun check {ctx.run_id}",
        readonly=True,
        statement_timeout=getattr(checks, "statement_timeout", None),
        lock_timeout=getattr(checks, "lock_timeout", None),
    )
    trust = tuple(entry.function for entry in getattr(checks, "trust", None) or ())
    conn.cursor_factory = type("GuardedCursor", (GuardedCursor,), {"trust": trust, "url": checks_url(ctx)})
    return conn


@contextlib.contextmanager
def readonly_connection(ctx) -> Iterator[Any]:
    """A fenced read-only connection: the phase's shared one (see :func:`one_connection`), or
    one of its own, closed after use."""
    state = getattr(ctx, "state", {})  # a bare context (a plugin's own test) shares nothing
    shared = SHARED in state
    conn = state.get(SHARED) if shared else None
    if conn is None or conn.closed:
        conn = _open(ctx)
        if shared:
            state[SHARED] = conn
    try:
        yield conn
    finally:
        if not shared:
            conn.rollback()
            conn.close()
        elif not conn.closed:
            try:
                conn.rollback()
            except psycopg2.Error:  # the check broke it (the server went away): the next opens another
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
