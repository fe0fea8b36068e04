"""Faults injected at a step of a real run, chosen by the environment (a plan loads this module
through its ``plugins:`` list):

- ``PLANRUN_FAULT=pause:STEP``: when STEP starts, write ``PLANRUN_FAULT_MARKER`` and sleep
  (``PLANRUN_FAULT_SECONDS``, default 120), so that a test can ``kill -9`` the runner exactly
  there, or stop it;
- ``PLANRUN_FAULT=drop-lock:STEP``: when STEP has finished, end the run's lock session from
  another connection, as a hostile session or an operator would;
- ``PLANRUN_FAULT=steal-lock:STEP``: as drop-lock, and another session takes the lock at once
  and keeps it for 30 s (a second run that got in);
- ``PLANRUN_FAULT=drop-history:STEP``: when STEP has finished, end the run's history session
  (``planrun history RUN``) from another connection, as a DBA, ``idle_session_timeout`` or a
  pooler would;
- ``PLANRUN_FAULT=linger:STEP``: when STEP has finished, sleep a second (a slow network), so
  that two runs started together interleave there;
- ``STEP@TARGET`` (any action): only on that target of a plan over several;
- ``PLANRUN_FAULT=pause:commit@TARGET``: pause (as above) when a two-phase run is about to
  commit its prepared transaction on TARGET;
- ``PLANRUN_FAULT=fail-commit:commit@TARGET``: every COMMIT PREPARED on TARGET fails (the
  server unreachable for it); ``fail-commit-once:commit@TARGET``: only the first.
"""

import os
import time

import psycopg2

from planrun.engine.hookspecs import hookimpl


def _fault():
    action, _, step = os.environ.get("PLANRUN_FAULT", "").partition(":")
    return action, step


def _here(ctx, step_name: str, at: str) -> bool:
    step, _, target = at.partition("@")
    return step == step_name and (not target or target == ctx.target_key)


def _pause() -> None:
    with open(os.environ["PLANRUN_FAULT_MARKER"], "w") as marker:
        marker.write(str(os.getpid()))
    time.sleep(float(os.environ.get("PLANRUN_FAULT_SECONDS", "120")))  # then the run goes on


def terminate_lock_session(url: str) -> int:
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name LIKE 'planrun "
                "run=%'"
            )
            return cursor.fetchone()[0]
    finally:
        conn.close()


def _steal_lock(url: str) -> None:
    from planrun.plugins.lock import LOCK_CLASS, LOCK_OBJECT

    conn = psycopg2.connect(url, application_name="another session")
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_CLASS, LOCK_OBJECT))
    import threading

    threading.Timer(30, conn.close).start()


def terminate_sessions(url: str, application_name: str) -> int:
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %s",
                (application_name[:63],),
            )
            return cursor.fetchone()[0]
    finally:
        conn.close()


@hookimpl
def planrun_step_started(ctx, step):
    action, at = _fault()
    if action == "pause" and _here(ctx, step.name, at):
        _pause()


@hookimpl
def planrun_step_finished(ctx, step, outcome, error):
    action, at = _fault()
    if action == "drop-lock" and _here(ctx, step.name, at):
        assert terminate_lock_session(ctx.target_url) == 1
    if action == "steal-lock" and _here(ctx, step.name, at):
        assert terminate_lock_session(ctx.target_url) == 1
        _steal_lock(ctx.target_url)
    if action == "drop-history" and _here(ctx, step.name, at):
        assert terminate_sessions(ctx.target_url, f"planrun history {ctx.run_id}") == 1
    if action == "linger" and _here(ctx, step.name, at):
        time.sleep(1)


_FAILED_COMMITS: list[str] = []


@hookimpl
def planrun_finish_deferred(ctx, commit):
    action, at = _fault()
    if action == "pause" and commit and _here(ctx, "commit", at):
        _pause()
    if action in ("fail-commit", "fail-commit-once") and commit and _here(ctx, "commit", at):
        which = f"{ctx.run_id}-{ctx.target_key}"
        if action == "fail-commit" or which not in _FAILED_COMMITS:  # once per target's commit
            _FAILED_COMMITS.append(which)
            raise psycopg2.OperationalError("server closed the connection unexpectedly (a fault of the test)")
    return None  # the migrate plugin does the work


@hookimpl
def planrun_guard(ctx, before):
    """``PLANRUN_FAULT=crash:STEP``: a plugin bug (an unexpected exception) between two steps."""
    action, at = _fault()
    if action == "crash" and before == at:
        raise ZeroDivisionError("a plugin's bug")
