"""The ``lock`` step: a session-level advisory lock on the target for the whole run, proven held
at every step boundary and watched between them.

Session-level, so a runner that crashes or is killed loses its connection and with it the lock:
no stale lock is ever left behind. The holder is named through ``application_name`` on the
lock's connection (run id, host, pid), which any other run can read from pg_stat_activity.

A lock can be lost while the run goes on (a session killed from outside, a server restart), so
it is not trusted once taken: :func:`planrun_guard` asks the lock's session, before every step
and before success, whether it still holds the lock, and a watcher thread asks every second in
between; a lost lock stops the run (a running migration is cancelled and rolled back).

A killed runner's migration backend can outlive the runner's lock for as long as its statement
runs; taking the lock therefore also waits (bounded) for any earlier planrun migration still
running on the target, and refuses, naming it, when it does not end.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta

from planrun.plugin import (
    JournalEvent,
    Step,
    StepFailed,
    TargetBusy,
    describe_error,
    duration_argument,
    hookimpl,
)

from ..events import LOCK_EVENTS, LockBusy

LOCK_CLASS = 0x706C616E  # 'plan'
LOCK_OBJECT = 0x72756E00  # 'run'
WATCH_INTERVAL = 1.0  # seconds between two looks at the lock while a step runs
ORPHAN_WAIT = 15.0  # how long to wait for an earlier run's migration backend to end
_HOLDER = """
    SELECT a.application_name, a.pid, a.backend_start, COALESCE(host(a.client_addr), 'local socket')
    FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s AND l.objsubid = 2"""
_HELD = """SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory' AND granted
           AND classid = %s AND objid = %s AND objsubid = 2"""
_ORPHANS = """
    SELECT pid, application_name, state, round(extract(epoch FROM now() - query_start))::int, left(query, 80)
    FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name LIKE %s
    ORDER BY query_start"""


@dataclass(frozen=True)
class LockRetake(JournalEvent):
    """The lock's connection was lost (``reason``); the run tries to take the lock again."""

    name = "lock_retake"
    reason: str = ""


@dataclass(frozen=True)
class LockRetaken(JournalEvent):
    """The lock is held again after its connection was lost."""

    name = "lock_retaken"


@dataclass(frozen=True)
class LockLost(JournalEvent):
    """The lock could not be held again: the run stops before its next step."""

    name = "lock_lost"
    reason: str = ""


@dataclass(frozen=True)
class OrphanMigration(JournalEvent):
    """An earlier run's migration backends were still running when this run took the lock."""

    name = "orphan_migration"
    backends: list[int] = field(default_factory=list)


def lock_wait(ctx) -> timedelta:
    """``--wait`` when given, else the plan's ``lock.wait``."""
    wait = ctx.options.flags.get("wait")
    return wait if wait is not None else ctx.plan.lock.wait


def holder_name(run_id: str) -> str:
    return f"planrun run={run_id} host={socket.gethostname()[:20]} pid={os.getpid()}"


def describe_holder(conn) -> str:
    from ..pg.connect import query_all

    rows = query_all(conn, _HOLDER, (LOCK_CLASS, LOCK_OBJECT))
    if not rows:
        return "another session (it has just released it)"
    name, pid, started, client = rows[0]
    started_text = started.strftime("%Y-%m-%d %H:%M:%S %Z") if started else "?"
    who = name if name and name.startswith("planrun") else f"application {name!r}"
    return f"{who} (backend pid {pid}, from {client}, since {started_text})"


def _try_lock(ctx) -> tuple[object | None, str]:
    """A new session holding the run's lock (closing it releases the lock), or None and who
    holds it instead."""
    from ..pg.connect import connect, query_all

    conn = connect(ctx.target_url, application_name=holder_name(ctx.run_id), autocommit=True)
    ctx.resources.callback(conn.close)
    ((got,),) = query_all(conn, "SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, LOCK_OBJECT))
    if got:
        return conn, ""
    holder = describe_holder(conn)
    conn.close()
    return None, holder


@hookimpl
def planrun_hold_again(ctx, deadline):
    """Before a rollback: a lock lost during the run (its session ended from outside, the
    server restarted) is taken again, waiting for it until ``deadline``; a lock another session
    still holds by then is a refusal to roll back, naming the holder."""
    reason = lost(ctx)
    if reason is None:
        return
    ctx.journal.emit(LockRetake(reason=reason))
    wait = 0.2
    while True:
        try:
            conn, holder = _try_lock(ctx)
            holder = f"it is held by {holder}"
        except Exception as exc:
            conn, holder = None, f"the target cannot be reached ({describe_error(exc)})"
        if conn is not None:
            with ctx.state["lock.guard"]:
                ctx.state["lock.connection"] = conn
            ctx.journal.emit(LockRetaken())
            ctx.reporter.info(f"    the run's lock on {ctx.target_name} was lost ({reason}); taken again")
            _watch(ctx)
            return
        left = deadline - time.monotonic()
        if left <= 0:
            raise StepFailed(
                f"the run's lock on {ctx.target_name} was lost ({reason}) and could not be taken again within "
                f"rollback.within: {holder}; nothing is rolled back without it"
            )
        pause = min(wait, left)
        ctx.reporter.warning(
            f"the run's lock on {ctx.target_name} must be held again before the rollback: {holder}; "
            f"trying again in {pause:.1f}s ({left:.0f}s of rollback.within left)"
        )
        time.sleep(pause)
        wait = min(wait * 2, 2.0)


def acquire(ctx) -> str:
    from ..pg.connect import connect, query_all

    conn = connect(ctx.target_url, application_name=holder_name(ctx.run_id), autocommit=True)
    ctx.resources.callback(conn.close)  # closing the session releases the lock
    wait = lock_wait(ctx).total_seconds()
    asked = time.monotonic()
    deadline = asked + wait
    holder = None
    while True:
        ((got,),) = query_all(conn, "SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, LOCK_OBJECT))
        if got:
            break
        if time.monotonic() >= deadline:
            holder = describe_holder(conn)
            ctx.journal.emit(LockBusy(holder=holder))
            hint = " (pass --wait 5m to wait for it)" if wait == 0 else f" (waited {wait:g}s)"
            raise TargetBusy(f"{ctx.target_name} is locked by {holder}{hint}")
        if holder is None:
            holder = describe_holder(conn)
            ctx.reporter.info(f"    {ctx.target_name} is locked by {holder}; waiting up to {wait:g}s")
        time.sleep(min(0.5, max(0.05, deadline - time.monotonic())))
    queued = time.monotonic() - asked if holder is not None else 0.0
    waited = _wait_for_orphans(ctx, conn, max(wait, ORPHAN_WAIT))
    ctx.state["lock.connection"] = conn
    ctx.state["lock.guard"] = threading.Lock()
    _watch(ctx)
    return (
        f"held by run {ctx.run_id}"
        + (f" (waited {queued:.1f}s for another run's lock)" if queued else "")
        + (f" (waited {waited:.1f}s for an earlier run's migration to end)" if waited else "")
    )


def _wait_for_orphans(ctx, conn, wait: float) -> float:
    """Wait until no backend of an earlier planrun migration runs on the target; refuse with
    their names when they outlast ``wait``."""
    from ..pg.connect import MIGRATION_APPLICATION_PREFIX, query_all

    started = time.monotonic()
    while True:
        rows = query_all(conn, _ORPHANS, (MIGRATION_APPLICATION_PREFIX + "%",))
        if not rows:
            return time.monotonic() - started if time.monotonic() > started + 0.1 else 0.0
        if time.monotonic() - started >= wait:
            names = "; ".join(
                f"pid {pid} ({name}, {state}, running {seconds}s: {query.splitlines()[0] if query else ''})"
                for pid, name, state, seconds, query in rows
            )
            ctx.journal.emit(OrphanMigration(backends=[r[0] for r in rows]))
            raise TargetBusy(
                f"an earlier planrun migration is still running on {ctx.target_name} without its run: {names}. "
                f"Wait for it to end, or end it with SELECT pg_terminate_backend({rows[0][0]}) (its transaction is "
                "rolled back); then run again"
            )
        time.sleep(0.2)


def lost(ctx) -> str | None:
    """Why the run no longer holds its lock, or ``None`` while it does (or never took one)."""
    from ..pg.connect import query_all

    conn = ctx.state.get("lock.connection")
    if conn is None:
        return None
    with ctx.state["lock.guard"]:
        try:
            ((held,),) = query_all(conn, _HELD, (LOCK_CLASS, LOCK_OBJECT))
        except Exception as exc:
            return f"the lock's session is gone ({describe_error(exc)})"
    return None if held else "the lock's session no longer holds the advisory lock"


def _watch(ctx) -> None:
    """Look at the lock every second until the run ends; a lost lock aborts the run, which
    cancels a running migration and rolls it back."""
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(WATCH_INTERVAL):
            reason = lost(ctx)
            if reason is not None:
                ctx.journal.emit(LockLost(reason=reason))
                ctx.control.abort(f"the run's lock on {ctx.target_name} was lost: {reason}")
                return

    thread = threading.Thread(target=watch, name="planrun-lock-watch", daemon=True)
    thread.start()

    def end() -> None:
        stop.set()
        thread.join(timeout=5)

    ctx.resources.callback(end)


@hookimpl
def planrun_journal_events():
    return [*LOCK_EVENTS, LockRetake, LockRetaken, LockLost, OrphanMigration]


@hookimpl
def planrun_guard(ctx, before):
    reason = lost(ctx)
    if reason is not None:
        where = "declaring success" if before == "success" else f"{before}"
        raise StepFailed(
            f"the run's lock on {ctx.target_name} was lost before {where}: {reason}; "
            "the run stops here so that nothing runs unlocked"
        )


@hookimpl
def planrun_steps(plan):
    return [Step("lock", "lock", acquire, "advisory lock on the target for the whole run")]


@hookimpl
def planrun_plan_sections():
    from planrun.plugin import PlanSection

    from .config import LockConfig  # with pydantic: loaded when a plan is read, not for --help

    return {"lock": PlanSection(LockConfig, "The run's lock on the target.", always=True)}


@hookimpl
def planrun_command_options(command, parser):
    if command.runs_steps:
        parser.add_argument(
            "--wait", type=duration_argument, default=None, help="wait this long for another run's lock (e.g. 5m)"
        )
