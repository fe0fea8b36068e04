"""planrun's own connection, handed to env.py as ``config.attributes["connection"]`` (the
pattern of Alembic's cookbook), so that an env.py that takes its URL from the application's
settings but honours that attribute migrates the database planrun means.

env.py files disagree on what that attribute is: the cookbook's passes it to
``context.configure(connection=...)`` (it must be a Connection; Alembic refuses an Engine),
others call ``.connect()`` on it as on an Engine. :class:`SharedConnection` is a Connection
that also answers ``.connect()`` with itself, left open. planrun ends its transaction
(commit after success, rollback after a failure) and closes it when the command is done.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from sqlalchemy import create_engine, pool
from sqlalchemy.engine import Connection

from ..pg.connect import libpq_url


class _Borrowed:
    """What ``.connect()`` returns: the shared connection, which the ``with`` block must not close."""

    def __init__(self, conn: SharedConnection):
        self._conn = conn

    def __enter__(self) -> SharedConnection:
        return self._conn

    def __exit__(self, *exc) -> bool:
        return False

    def __getattr__(self, name: str):
        return getattr(self._conn, name)


class SharedConnection(Connection):
    def connect(self) -> _Borrowed:  # type: ignore[override]
        return _Borrowed(self)

    def dispose(self) -> None:
        """env.py written for an Engine disposes of it at the end; planrun closes this itself."""


class NotOnSharedConnection(Exception):
    """env.py migrated on a connection of its own while the migration had to be prepared on
    planrun's: what it changed committed alone."""


def _engine(url: str):
    """An engine whose ``connect()`` makes :class:`SharedConnection` values, without a pool."""
    engine = create_engine(
        libpq_url(url).replace("postgresql://", "postgresql+psycopg2://", 1), poolclass=pool.NullPool
    )
    engine._connection_cls = SharedConnection
    return engine


@contextlib.contextmanager
def _lent(config, conn: SharedConnection) -> Iterator[SharedConnection]:
    """``conn`` as ``config.attributes["connection"]`` for the body, what was there put back after."""
    previous = config.attributes.get("connection")
    config.attributes["connection"] = conn
    try:
        yield conn
    finally:
        if previous is None:
            config.attributes.pop("connection", None)
        else:
            config.attributes["connection"] = previous


@contextlib.contextmanager
def shared_connection(
    config, url: str, prepare_as: str | None = None, expected: Callable[[SharedConnection], bool] | None = None
) -> Iterator[SharedConnection]:
    """Put a connection to ``url`` in ``config.attributes["connection"]`` for the body; commit
    what is left open when the body succeeds, roll back when it fails, close, and take it back.

    With ``prepare_as``, the whole body runs in one transaction opened before env.py sees the
    connection (Alembic then leaves it to its owner), and success ends it with ``PREPARE
    TRANSACTION prepare_as`` instead of a commit: the change is kept, invisible, until ``COMMIT
    PREPARED`` (two-phase commit over several databases). ``expected(conn)`` must then say that
    the change happened on this connection; otherwise :class:`NotOnSharedConnection`."""
    engine = _engine(url)
    conn = engine.connect()
    if prepare_as:
        conn.begin()
    try:
        with _lent(config, conn):
            yield conn
        if prepare_as:
            if expected is not None and not expected(conn):
                raise NotOnSharedConnection(
                    "env.py migrated on a connection of its own, not on config.attributes['connection']: its "
                    "change committed alone and cannot wait for the other targets (coordinate: atomic needs "
                    "env.py to use that connection)"
                )
            conn.exec_driver_sql(f"PREPARE TRANSACTION '{prepare_as}'")
            conn.rollback()  # the server has no transaction left on this session: nothing to roll back
        elif conn.in_transaction():
            conn.commit()
    except BaseException:
        with contextlib.suppress(Exception):
            conn.rollback()
        raise
    finally:
        with contextlib.suppress(Exception):
            conn.close()
        engine.dispose()


class KeptConnection:
    """One shared connection lent to Alembic command after command (the stairway's 90 commands
    for 30 revisions each opened their own: a sixth of ``planrun test``'s own time). Each command
    still starts clean: its transaction is committed (or, after a failure, rolled back and the
    connection dropped), then the session is reset (``DISCARD ALL``: a ``SET``, a temporary table
    or a session lock a revision left goes, and the timeouts given when it was opened come back),
    so a command sees what a fresh connection would show. Opened again when the URL or the
    session's settings change, or when the server dropped it."""

    def __init__(self) -> None:
        self._engine = None
        self._conn: SharedConnection | None = None
        self._key: tuple | None = None

    @contextlib.contextmanager
    def lend(self, config, url: str, key: tuple) -> Iterator[SharedConnection]:
        """Put the kept connection (opened now if needed, inside the command's environment) in
        ``config.attributes["connection"]`` for the body."""
        if self._conn is None or self._key != (url, key) or self._conn.closed or self._conn.invalidated:
            self.close()
            self._engine = _engine(url)
            self._conn, self._key = self._engine.connect(), (url, key)
        conn = self._conn
        try:
            with _lent(config, conn):
                yield conn
            if conn.in_transaction():
                conn.commit()
            self._reset(conn)
        except BaseException:
            self.close()  # a failed command's session is not lent again
            raise

    @staticmethod
    def _reset(conn: SharedConnection) -> None:
        raw = conn.connection.dbapi_connection
        raw.autocommit = True
        try:
            with raw.cursor() as cursor:
                cursor.execute("DISCARD ALL")
        finally:
            raw.autocommit = False

    def close(self) -> None:
        """Close the connection (before its database is dropped, and at the end)."""
        conn, engine = self._conn, self._engine
        self._conn = self._engine = self._key = None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.rollback()
            with contextlib.suppress(Exception):
                conn.close()
        if engine is not None:
            engine.dispose()
