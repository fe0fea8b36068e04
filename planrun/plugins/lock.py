"""The ``lock`` step: a session-level advisory lock on the target for the whole run.

Session-level, so a runner that crashes or is killed loses its connection and with it the lock:
no stale lock is ever left behind. The holder is named through ``application_name`` on the
lock's connection (run id, host, pid), which any other run can read from pg_stat_activity.
"""
from __future__ import annotations

import os
import socket
import time

from planrun.engine.errors import LockBusy
from planrun.engine.hookspecs import hookimpl
from planrun.engine.steps import Step

from .pg.connect import connect, query_all

LOCK_CLASS = 0x706C616E  # 'plan'
LOCK_OBJECT = 0x72756E00  # 'run'
_HOLDER = """
    SELECT a.application_name, a.pid, a.backend_start, COALESCE(host(a.client_addr), 'local socket')
    FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s AND l.objsubid = 2"""


def holder_name(run_id: str) -> str:
    return f"planrun run={run_id} host={socket.gethostname()[:20]} pid={os.getpid()}"


def describe_holder(conn) -> str:
    rows = query_all(conn, _HOLDER, (LOCK_CLASS, LOCK_OBJECT))
    if not rows:
        return "another session (it has just released it)"
    name, pid, started, client = rows[0]
    started_text = started.strftime("%Y-%m-%d %H:%M:%S %Z") if started else "?"
    who = name if name and name.startswith("planrun") else f"application {name!r}"
    return f"{who} (backend pid {pid}, from {client}, since {started_text})"


def acquire(ctx) -> str:
    conn = connect(ctx.target_url, application_name=holder_name(ctx.run_id), autocommit=True)
    ctx.resources.callback(conn.close)  # closing the session releases the lock
    wait = ctx.lock_wait.total_seconds()
    deadline = time.monotonic() + wait
    while True:
        ((got,),) = query_all(conn, "SELECT pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, LOCK_OBJECT))
        if got:
            ctx.state["lock.connection"] = conn
            return f"held by run {ctx.run_id}"
        if time.monotonic() >= deadline:
            holder = describe_holder(conn)
            ctx.journal.record("lock_busy", holder=holder)
            hint = " (pass --wait 5m to wait for it)" if wait == 0 else f" (waited {wait:g}s)"
            raise LockBusy(f"{ctx.target_name} is locked by {holder}{hint}")
        time.sleep(min(0.5, max(0.05, deadline - time.monotonic())))


@hookimpl
def planrun_steps(plan):
    return [Step("lock", "lock", acquire, "advisory lock on the target for the whole run")]
