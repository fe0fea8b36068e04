"""Opening connections to the target.

Plans hold SQLAlchemy-style URLs (``postgresql+psycopg2://``); libpq wants plain
``postgresql://``. Timeouts are set as connection options, so they hold from the first
statement on and for every statement of the session.
"""

from __future__ import annotations

import re
import weakref
from datetime import timedelta
from typing import Any

import psycopg2
import psycopg2.extensions

_DRIVER = re.compile(r"^postgres(?:ql)?(\+[a-z0-9_]+)?://", re.I)


def libpq_url(url: str) -> str:
    """``postgresql+asyncpg://...`` -> ``postgresql://...`` (libpq knows no drivers)."""
    match = _DRIVER.match(url)
    if not match:
        raise ValueError("expected a postgresql:// URL")
    return "postgresql://" + url[match.end() :]


def timeout_options(lock_timeout: timedelta | None = None, statement_timeout: timedelta | None = None) -> str:
    """The ``-c name=value`` options libpq passes to the server at connection start."""
    options = []
    if lock_timeout is not None:
        options.append(f"-c lock_timeout={int(lock_timeout.total_seconds() * 1000)}")
    if statement_timeout is not None:
        options.append(f"-c statement_timeout={int(statement_timeout.total_seconds() * 1000)}")
    return " ".join(options)


# What libpq and the server say when the server is away for a while (restarting, failing
# over, refusing connections) rather than rejecting what was asked.
_UNREACHABLE = (
    "connection refused",
    "server closed the connection",
    "could not connect",
    "connection to server",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery",
    "terminating connection due to administrator command",
    "ssl syscall error",
    "connection already closed",
    "no connection to the server",
    "could not receive data from server",
    "could not send data to server",
    "cannot reconnect",
    "the connection is closed",
    "connection timed out",
    "server is not accepting connections",
)


def is_unreachable(error: BaseException | str) -> bool:
    """True when ``error`` (an exception, its causes, or a tool's stderr) says the server could
    not be reached, as opposed to an error in what was asked of it."""
    if isinstance(error, str):
        text = error.lower()
        return any(hint in text for hint in _UNREACHABLE)
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, (psycopg2.OperationalError, psycopg2.InterfaceError)) and is_unreachable(str(error)):
            return True
        if getattr(error, "connection_invalidated", False):
            return True
        error = getattr(error, "orig", None) or error.__cause__ or error.__context__
    return False


def connect(
    url: str,
    *,
    application_name: str = "planrun",
    lock_timeout: timedelta | None = None,
    statement_timeout: timedelta | None = None,
    readonly: bool = False,
    autocommit: bool = False,
    connect_timeout: int = 10,
) -> psycopg2.extensions.connection:
    options = timeout_options(lock_timeout, statement_timeout)
    if readonly:  # the server's own fence: every transaction of the session is read-only
        options = " ".join(filter(None, [options, "-c default_transaction_read_only=on"]))
    kwargs = {"application_name": application_name[:63], "connect_timeout": connect_timeout}
    if options:
        kwargs["options"] = options
    try:
        conn = psycopg2.connect(libpq_url(url), **kwargs)
    except psycopg2.OperationalError as exc:
        if is_unreachable(exc):
            from planrun.plugin import Unreachable

            raise Unreachable(f"cannot reach the database: {str(exc).strip().splitlines()[0]}") from exc
        raise
    if readonly:
        conn.set_session(readonly=True)
    conn.autocommit = autocommit
    return conn


def query_all(conn, sql: str, params=None) -> list[tuple]:
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


_PREPARED: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def query_prepared(conn, name: str, sql: str) -> list[tuple]:
    """``query_all`` for a query a connection runs again and again (the fingerprints' catalog
    queries): planned once per connection, as planning them cost more than running them."""
    prepared = _PREPARED.setdefault(conn, set())
    if name not in prepared:
        with conn.cursor() as cursor:
            cursor.execute(f"PREPARE {name} AS {sql}")
        prepared.add(name)
    return query_all(conn, f"EXECUTE {name}")


def quote_ident(conn, name: str) -> str:
    """A table's name as SQL, each part quoted: a key (:mod:`.names`: ``"odd.schema"."tab.le"``,
    never split inside its quotes), or a name a plan gave (``schema.table``, ``table``)."""
    from .names import identifier, quoted

    return quoted(name) if '"' in name else ".".join(identifier(part) for part in name.split("."))


# An SQL_ASCII database holds bytes, not text: psycopg2 would read them as ASCII and fail on the
# first byte above 127. Latin-1 maps every byte to one character and back, so names and values
# round-trip exactly (shown as Latin-1, which is what most such databases hold).
psycopg2.extensions.encodings["SQL_ASCII"] = "latin_1"
psycopg2.extensions.encodings["SQLASCII"] = "latin_1"


def python_encoding(name: str) -> str:
    """The Python codec for a PostgreSQL encoding name (``LATIN1``, ``UTF8``, ``SQL_ASCII``)."""
    key = name.upper().replace("-", "").replace("_", "")
    for pg_name, codec in psycopg2.extensions.encodings.items():
        if pg_name.upper().replace("-", "").replace("_", "") == key:
            return codec
    return "utf-8"


MIGRATION_APPLICATION_PREFIX = "planrun migrate "


def migration_application_name(run_id: str) -> str:
    """The ``application_name`` of the migration's connections: how the monitor finds the
    migration's backend, how an abort cancels it, and how the next run's lock step finds a
    migration whose runner died."""
    return f"{MIGRATION_APPLICATION_PREFIX}{run_id}"[:63]


def orphan_guard_options(server_version_num: int) -> str:
    """Server settings that end a backend soon after its client died, even mid-statement:
    ``client_connection_check_interval`` (PostgreSQL 14+) polls the socket while a query runs;
    older servers get TCP keepalives (which find a dead host, not a dead process)."""
    if server_version_num >= 140000:
        return "-c client_connection_check_interval=1000"
    return "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3"


def server_version_num(url: str) -> int:
    conn = connect(url, application_name="planrun version", autocommit=True)
    try:
        ((number,),) = query_all(conn, "SHOW server_version_num")
        return int(number)
    finally:
        conn.close()
