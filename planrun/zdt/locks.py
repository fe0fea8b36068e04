"""DDL under a short lock_timeout, retried with backoff.

A DDL statement that waits for its lock queues every later query on the table behind it: one
long transaction elsewhere and the application stalls. With a short ``lock_timeout`` the
statement gives up quickly, lets the queue drain, and tries again a moment later.
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from planrun.engine.control import active
from planrun.engine.retry import doubling, retrying

from .sql import offline

LOCK_NOT_AVAILABLE = "55P03"


def retry_on_lock_timeout(
    sql: str, *, timeout: str = "2s", attempts: int = 10, backoff: float = 0.5, max_backoff: float = 10.0
) -> int:
    """Run ``sql`` with ``lock_timeout`` = ``timeout``; when the lock is not granted in time,
    roll back to a savepoint, wait (doubling from ``backoff``) and retry, up to ``attempts``
    times. Returns the attempts it took. Works inside the migration's transaction (savepoints)
    and inside an autocommit block."""
    if offline():
        op.execute(f"SET lock_timeout = '{timeout}'")
        op.execute(sql)
        return 1
    connection = op.get_bind()
    in_transaction = not getattr(connection.connection.dbapi_connection, "autocommit", False)
    previous = connection.execute(text("SHOW lock_timeout")).scalar()
    tries = 0

    def once() -> None:
        nonlocal tries
        tries += 1
        active().checkpoint()
        connection.execute(text(f"SET lock_timeout = '{timeout}'"))
        if in_transaction:
            with connection.begin_nested():  # a savepoint: a timed-out try leaves the transaction usable
                connection.execute(text(sql))
        else:
            connection.execute(text(sql))

    try:
        retrying(
            once,
            again=lambda exc: (
                isinstance(exc, OperationalError) and getattr(exc.orig, "pgcode", None) == LOCK_NOT_AVAILABLE
            ),
            pauses=doubling(backoff, max_backoff),
            attempts=attempts,
        )
    finally:
        connection.execute(text(f"SET lock_timeout = '{previous}'"))
    return tries
