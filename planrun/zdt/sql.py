"""What the helpers share: the migration's connection, quoting, and whether Alembic is only
writing SQL (offline mode)."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator

from alembic import op
from sqlalchemy import text

from planrun.engine.control import active
from planrun.plugins.events import PartialCommit

# a statement run outside the migration's transaction (autocommit: no commit planrun can look
# into) that tells its own transaction id and table instead, so that the run still knows the rows
# it wrote from other transactions' (see planrun.plugins.pg.write_watch)
REPORTS_ITS_TRANSACTION = "/* planrun: reports its transaction */ "
# Marks one bounded batch of a batched change (a key range, committed on its own): its time does
# not grow with the table, which lint's statement-timeout rule reads from this mark
ONE_BATCH = "/* planrun: one batch */ "


def offline() -> bool:
    return op.get_context().as_sql


def quote_name(name: str) -> str:
    """``schema.table`` or ``column``, quoted per part as PostgreSQL needs."""
    preparer = op.get_context().dialect.identifier_preparer
    return ".".join(preparer.quote(part) for part in name.split("."))


def scalar(sql: str, **params):
    return op.get_bind().execute(text(sql), params).scalar()


@contextlib.contextmanager
def outside_transaction(what: str) -> Iterator[None]:
    """Run the body in autocommit mode: the migration's transaction is committed first (what
    the revision did so far becomes permanent) and a new one begins after. The run's control
    is told, so a rollback knows this revision left committed work behind."""
    context = op.get_context()
    if context.as_sql:  # offline SQL shows the commits too (lint judges what runs inside a transaction)
        with context.autocommit_block():
            yield
        return
    active().notes.add(PartialCommit(calling_revision(), what))  # read by the migrate plugin
    with context.autocommit_block():
        yield


def calling_revision() -> str | None:
    """The id of the revision whose ``upgrade``/``downgrade`` called us: the nearest frame of
    a module that defines both ``revision`` and ``down_revision`` (every Alembic revision does)."""
    frame = inspect.currentframe()
    while frame is not None:
        names = frame.f_globals
        if "revision" in names and "down_revision" in names and isinstance(names["revision"], str):
            return names["revision"]
        frame = frame.f_back
    return None


def primary_key(table: str) -> str:
    rows = (
        op.get_bind()
        .execute(
            text(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = "
                "ANY(i.indkey) "
                "WHERE i.indrelid = CAST(:table AS regclass) AND i.indisprimary"
            ),
            {"table": table},
        )
        .scalars()
        .all()
    )
    if len(rows) != 1:
        raise ValueError(f"{table}: batched work needs a single-column primary key (found {len(rows)}); pass key=")
    return rows[0]
