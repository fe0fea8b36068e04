"""No migration on a database other than the target, whatever env.py does.

Many env.py files take their URL from the application's own settings, and some connect where
they like whatever planrun hands them. Left alone, Alembic then migrates another database while
planrun fingerprints the untouched target and reports success. So while an Alembic command
runs, every new connection any SQLAlchemy pool opens in this process (sync or async, any
driver) is asked which server and database it reached before env.py can send a statement on
it; one that is not the target is closed there and the command stops with
:class:`WrongDatabase`, naming both.

A server is told by its port setting and its start time (``pg_postmaster_start_time``): the
same server reached over TCP or a Unix socket, by name or by address, answers the same.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import event
from sqlalchemy.pool import Pool

from planrun.plugin import ProjectError

from ..pg.connect import connect, query_all

IDENTITY = "SELECT current_database(), current_setting('port'), pg_postmaster_start_time()::text"


class WrongDatabase(ProjectError):
    """env.py connected somewhere other than the target; nothing was run there."""


_KNOWN: dict[str, tuple[str, str, str]] = {}


def identity(url: str, fresh: bool = False) -> tuple[str, str, str]:
    """The target's identity; remembered per URL (a stairway runs ~100 commands on one scratch
    database), read again when ``fresh`` (a server that restarted has a new start time)."""
    if fresh or url not in _KNOWN:
        conn = connect(url, application_name="planrun target", autocommit=True)
        try:
            ((database, port, started),) = query_all(conn, IDENTITY)
        finally:
            conn.close()
        _KNOWN[url] = (database, port, started)
    return _KNOWN[url]


def _identity_of(dbapi_connection) -> tuple[str, str, str]:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(IDENTITY)
        row = cursor.fetchone()
    finally:
        cursor.close()
    with contextlib.suppress(Exception):
        dbapi_connection.rollback()  # leave the connection as the pool handed it: no transaction open
    return str(row[0]), str(row[1]), str(row[2])


@contextlib.contextmanager
def only_the_target(url: str, shown: str) -> Iterator[None]:
    """While the body runs, refuse every new pooled connection that is not to ``url``
    (``shown``: how the target is named to the user)."""
    expected = identity(url)

    def check(dbapi_connection, _record) -> None:
        nonlocal expected
        try:
            found = _identity_of(dbapi_connection)
        except Exception as exc:  # not PostgreSQL at all (an application's own SQLite, MySQL...)
            with contextlib.suppress(Exception):
                dbapi_connection.close()
            driver = type(dbapi_connection).__module__.split(".")[0]
            raise WrongDatabase(
                f"env.py connected through {driver} to a database that is not PostgreSQL ({type(exc).__name__}: "
                f"{exc}), not to the plan's target {shown}; nothing was run there. Make env.py use the URL planrun "
                "gives it (config.get_main_option('sqlalchemy.url')) or the connection in "
                "config.attributes['connection']"
            ) from None
        if found != expected:
            expected = identity(url, fresh=True)  # the target restarted since it was remembered?
        if found != expected:
            with contextlib.suppress(Exception):
                dbapi_connection.close()
            database, port, started = found
            raise WrongDatabase(
                f"env.py connected to database {database!r} (server on port {port}, started {started[:19]}), not to "
                "the "
                f"plan's target {shown}; nothing was run there. Make env.py use the URL planrun gives it "
                "(config.get_main_option('sqlalchemy.url')) or the connection in config.attributes['connection']"
            )

    event.listen(Pool, "connect", check)
    try:
        yield
    finally:
        event.remove(Pool, "connect", check)
