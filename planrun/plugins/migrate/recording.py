"""Recording applied revisions inside the migration's own transactions.

Just before each commit of a connection the migration opened (env.py's engine, whatever it
is), the version table is read on that connection and the revisions applied at that point are
handed to :func:`planrun_record_revisions` with a way to run SQL in the same transaction: the
record of a revision commits with the revision, and a revision that fails (its transaction
rolled back) leaves no record. The look runs in a savepoint, so a failure to record can never
break the migration's commit; it is reported instead, and the records are written after the
migration (not atomically) as a fallback.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict

import psycopg2.extensions
from sqlalchemy import event
from sqlalchemy.engine import Engine

from planrun.plugin import describe_error


@contextlib.contextmanager
def recording(ctx, project) -> Iterator[list[str]]:
    """While the body runs, record before every commit; yields the problems met (if any)."""
    problems: list[str] = []
    version_table = project.version_table()

    def before_commit(conn) -> None:
        driver = getattr(getattr(conn, "connection", None), "dbapi_connection", None)
        if not isinstance(driver, psycopg2.extensions.connection):
            problems.append("a commit on a driver other than psycopg2 (its revisions are recorded after the migration)")
            return
        if driver.autocommit:  # no transaction to join: each statement commits as it runs
            with driver.cursor() as cursor:
                _record(cursor)
            return
        with driver.cursor() as cursor:
            cursor.execute("SAVEPOINT planrun_record")
            try:
                _record(cursor)
                cursor.execute("RELEASE SAVEPOINT planrun_record")
            except Exception as exc:
                cursor.execute("ROLLBACK TO SAVEPOINT planrun_record")
                cursor.execute("RELEASE SAVEPOINT planrun_record")
                problems.append(f"{describe_error(exc)}")

    def _record(cursor) -> None:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (version_table,))
        if not cursor.fetchone()[0]:
            return
        cursor.execute(f'SELECT version_num FROM "{version_table}"')
        heads = tuple(sorted(row[0] for row in cursor.fetchall()))
        applied = [asdict(info) for info in project.applied(heads)]
        ctx.hook.planrun_record_revisions(
            ctx=ctx, applied=applied, how="planrun", execute=lambda sql, params: cursor.execute(sql, params)
        )

    event.listen(Engine, "commit", before_commit)
    try:
        yield problems
    finally:
        event.remove(Engine, "commit", before_commit)
