"""Running Alembic commands in-process against the plan's target, and saying clearly which
revision failed and why when one does.

Timeouts and the migration's application_name reach the migration's connection through
libpq's PGOPTIONS and PGAPPNAME, so they hold even for env.py files that build their own
engine from the URL (they do not hold for drivers that ignore libpq, such as asyncpg).
"""

from __future__ import annotations

import contextlib
import os
import traceback
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path

from alembic.migration import MigrationContext
from sqlalchemy import create_engine, event, pool
from sqlalchemy.engine import Engine

from planrun.plugin import StepFailed, Unreachable, describe_error, describe_url

from ..pg.connect import is_unreachable, libpq_url, timeout_options
from .app_modules import import_afresh_if_changed  # imported first: it notes what was loaded before
from .project import AlembicProject
from .shared_connection import KeptConnection

LOCK_NOT_AVAILABLE = "55P03"  # lock_timeout expired


def libpq_environment(options: str, application_name: str):
    """PGOPTIONS (the user's own, then planrun's) and PGAPPNAME for every libpq connection the
    command opens, env.py's included."""
    from .command_io import environment

    return environment(
        {
            "PGOPTIONS": " ".join(filter(None, [os.environ.get("PGOPTIONS"), options])),
            "PGAPPNAME": application_name[:63],
        }
    )


@contextlib.contextmanager
def engine_events(listeners: list[tuple[str, Callable]]) -> Iterator[None]:
    """Listen to SQLAlchemy events (``[("before_cursor_execute", fn), ("commit", fn)]``) of
    every engine while inside: env.py builds its own engine, so the listeners are on the class."""
    for name, listener in listeners:
        event.listen(Engine, name, listener)
    try:
        yield
    finally:
        for name, listener in listeners:
            event.remove(Engine, name, listener)


@contextlib.contextmanager
def before_each_statement(callback: Callable[[], None]) -> Iterator[None]:
    """Call ``callback`` before every statement any SQLAlchemy engine runs; an exception it
    raises stops the statement."""

    def listener(*_args, **_kwargs) -> None:
        callback()

    with engine_events([("before_cursor_execute", listener)]):
        yield


def stop_between_statements(aborted: Callable[[], str | None]):
    """Refuse every further statement once the run is aborted: a cancel only stops the statement
    running at that moment, and the migration would otherwise go on with its next one."""

    def guard() -> None:
        reason = aborted()
        if reason is not None:
            raise RuntimeError(f"run aborted: {reason}")

    return before_each_statement(guard)


def current_heads(url: str, version_table: str = "alembic_version") -> tuple[str, ...]:
    """The revisions the database is at, read on planrun's own connection (not env.py's)."""
    engine = create_engine(
        libpq_url(url).replace("postgresql://", "postgresql+psycopg2://", 1), poolclass=pool.NullPool
    )
    from .command_io import quietly

    try:  # (quiet: Alembic logs "Context impl PostgresqlImpl." on whatever handlers env.py set up)
        with engine.connect() as connection, quietly():
            context = MigrationContext.configure(connection, opts={"version_table": version_table})
            return tuple(sorted(context.get_current_heads()))
    finally:
        engine.dispose()


def heads_or_error(url: str, version_table: str, where: str, other: type[Exception]) -> tuple[str, ...]:
    """:func:`current_heads`, its failure said in the user's words: :class:`Unreachable` (its
    own exit code) when the server cannot be reached, ``other`` for anything else."""
    try:
        return current_heads(url, version_table)
    except Exception as exc:
        error = Unreachable if is_unreachable(exc) else other
        raise error(f"cannot read the current revision of {where}: {describe_error(exc)}") from exc


def run_command(
    project: AlembicProject,
    action: Callable[[], None],
    *,
    verb: str,
    url: str,
    lock_timeout: timedelta | None,
    statement_timeout: timedelta | None,
    application_name: str,
    aborted: Callable[[], str | None] = lambda: None,
    server_options: str = "",
    only_the_target: bool = True,
    prepare_as: str | None = None,
    expected: Callable | None = None,
    url_env: Sequence[str] = (),
    kept: KeptConnection | None = None,
) -> None:
    """Run ``action`` (an ``alembic.command`` call) inside the project; turn any failure into a
    :class:`StepFailed` that names the revision and the error. ``server_options`` are more
    ``-c name=value`` settings for the migration's sessions. ``prepare_as``: end with ``PREPARE
    TRANSACTION`` instead of committing (see :func:`.shared_connection.shared_connection`).
    ``url_env``: environment variables env.py reads its URL from, set to ``url`` as Alembic gets
    it (the driver named) while the command runs. ``kept``: lend env.py this connection, kept
    from one command to the next, instead of a new one per command."""
    options = " ".join(filter(None, [timeout_options(lock_timeout, statement_timeout), server_options]))
    from .shared_connection import shared_connection
    from .target_guard import WrongDatabase
    from .target_guard import only_the_target as guarded

    online = only_the_target and url
    guard = guarded(url, describe_url(url)) if online else contextlib.nullcontext()
    from .command_io import environment

    values = {name: project.driver_url(url) for name in url_env} if url else {}
    if values:
        import_afresh_if_changed(values, [project.folder, Path.cwd()])
    variables = environment(values)
    try:
        with (
            variables,
            guard,
            project.inside(),
            libpq_environment(options, application_name),
            stop_between_statements(aborted),
        ):
            # made inside the environment, so the connection env.py is handed gets the timeouts too
            if not online:
                shared = contextlib.nullcontext()
            elif kept is not None and prepare_as is None:
                shared = kept.lend(project.config, url, (options, application_name))
            else:
                shared = shared_connection(project.config, url, prepare_as, expected)
            with shared:
                run_in(project.runner, action)
    except BaseException as exc:  # env.py or a revision may raise anything, even SystemExit or KeyboardInterrupt
        wrong = _cause_of_type(exc, WrongDatabase)
        if wrong is not None:
            from .env_py import url_hint

            raise WrongDatabase(f"{verb} refused: {wrong}{url_hint(project)}") from exc
        failure = (Unreachable if is_unreachable(exc) else StepFailed)(describe_failure(project, exc, verb))
        failure.revision = failing_revision(project, exc)
        failure.lock_timeout = getattr(getattr(root_cause(exc), "orig", None), "pgcode", None) == LOCK_NOT_AVAILABLE
        raise failure from exc


def run_in(runner: str, action: Callable[[], None]) -> None:
    """Run ``action`` where the project's env.py expects to run: in this thread, in a thread of
    its own, or in an AnyIO worker thread under a running event loop (``anyio.from_thread``
    works there). The run's context (its control: abort, pause) goes along."""
    import contextvars

    if runner == "direct":
        action()
        return
    context = contextvars.copy_context()
    if runner == "anyio":
        import anyio
        import anyio.to_thread

        async def in_worker() -> None:
            await anyio.to_thread.run_sync(context.run, action)

        anyio.run(in_worker)
        return
    import threading

    failure: list[BaseException] = []

    def target() -> None:
        try:
            context.run(action)
        except BaseException as exc:  # handed back to the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=target, name="planrun-alembic")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def _cause_of_type(exc: BaseException, kind: type) -> BaseException | None:
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kind):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def describe_failure(project: AlembicProject, exc: BaseException, verb: str) -> str:
    missing = _missing_function(project, exc)
    if missing:
        return missing
    revision = failing_revision(project, exc)
    error = error_text(exc)
    if revision:
        info = project.revision(revision)
        where = os.path.relpath(info.path, project.folder)
        return f"revision {revision} ({where}) failed during {verb}: {error}"
    return f"{verb} failed before any revision ran (env.py or the connection): {error}"


def _missing_function(project: AlembicProject, exc: BaseException) -> str | None:
    """A revision without ``downgrade()`` (or ``upgrade()``): Alembic's own AttributeError, raised
    outside the revision's file, once read as "failed before any revision ran"."""
    cause = root_cause(exc)
    while cause is not None and not isinstance(cause, AttributeError):
        cause = cause.__cause__ or cause.__context__
    name, module = getattr(cause, "name", None), getattr(cause, "obj", None)
    if name not in ("upgrade", "downgrade") or not getattr(module, "__file__", None):
        return None
    revision = project.revision_paths().get(os.path.realpath(module.__file__))
    if revision is None:
        return None
    where = os.path.relpath(project.revision(revision).path, project.folder)
    hint = "; roll it back by restore (rollback.strategy: restore)" if name == "downgrade" else ""
    return f"revision {revision} ({where}) has no {name}(){hint}"


def failing_revision(project: AlembicProject, exc: BaseException) -> str | None:
    """The revision whose file is deepest in the traceback; failing that, the step Alembic was
    applying (its ``run_migrations`` holds it in ``step``): a failure in Alembic's own write of
    the version table, after the revision's code returned, is still that revision's, and its
    committed part must be undone by its downgrade."""
    paths = project.revision_paths()
    known = set(paths.values())
    found = in_step = None
    for frame, _line in traceback.walk_tb(exc.__traceback__):
        revision = paths.get(os.path.realpath(frame.f_code.co_filename))
        if revision:
            found = revision
        elif frame.f_code.co_name == "run_migrations":
            in_step = _revision_of_step(frame.f_locals.get("step"), known) or in_step
    return found or in_step


def _revision_of_step(step: object, known: set[str]) -> str | None:
    """The revision id of an Alembic migration step, when it is one of the project's."""
    revision = getattr(getattr(step, "revision", None), "revision", None)
    return revision if isinstance(revision, str) and revision in known else None


def root_cause(exc: BaseException) -> BaseException:
    """The error that started it: SQLAlchemy's PendingRollbackError ("Can't reconnect until
    invalid transaction is rolled back") only says an earlier error broke the connection."""
    seen = set()
    while type(exc).__name__ == "PendingRollbackError" and id(exc) not in seen:
        seen.add(id(exc))
        earlier = exc.__context__ or exc.__cause__
        if earlier is None:
            break
        exc = earlier
    return exc


def error_text(exc: BaseException) -> str:
    exc = root_cause(exc)
    original = getattr(exc, "orig", None)  # sqlalchemy wraps the driver's error
    source = original if original is not None else exc
    lines = [line for line in str(source).strip().splitlines() if line.strip()]
    text = lines[0] if lines else ""
    if timeout := _timeout_hint(str(source)):
        text += f" ({timeout})"
    return f"{type(source).__name__}: {text}" if text else type(source).__name__


def _timeout_hint(message: str) -> str | None:
    if "lock timeout" in message:
        return "waited longer than migrate.lock_timeout for a lock"
    if "statement timeout" in message:
        return "ran longer than migrate.statement_timeout"
    return None
