"""One run, as the store sees it while it runs.

Its connection carries the run's name (:func:`.runs.alive_name`) for the whole run, and a
heartbeat is written every :data:`HEARTBEAT` seconds: the run is alive while its process is.
The connection is not the process, though: a DBA, ``idle_session_timeout`` or a pooler can end
it while the run goes on. So a lost connection is opened again (same name) at its next use,
the journal records it could not copy are sent then, and the outcome is always written; and a
run counts as dead only once its connection is gone *and* its heartbeat is older than
:data:`LEASE` (see :func:`.runs.dead_runs`). Operators' pause/resume/abort arrive by NOTIFY.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import select
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import psycopg2

from planrun import __version__
from planrun.plugin import RollbackOutcome

from ..facts import BackupTaken, Revisions
from . import runs
from .store import ensure

HEARTBEAT = 2.0
LEASE = 5 * HEARTBEAT  # a run whose connection is gone is dead only once its heartbeat is this old
_LOST = (psycopg2.OperationalError, psycopg2.InterfaceError)  # the connection went away


class RunRecorder:
    def __init__(self, ctx, schema: str, conn, created: bool):
        self.ctx, self.schema, self.conn, self.created = ctx, schema, conn, created
        self._lock = threading.Lock()
        self._unsent: list[dict] = []  # journal records not copied while the connection was away
        self.reconnects = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @classmethod
    def open(cls, ctx, schema: str) -> RunRecorder:
        from ..pg.connect import connect

        conn = connect(ctx.target_url, application_name=runs.alive_name(ctx.run_id))
        try:
            created = ensure(conn, schema)
            conn.autocommit = True
            recorder = cls(ctx, schema, conn, created)
            with recorder.cursor() as cursor:
                runs.start_run(
                    cursor,
                    schema,
                    run_id=ctx.run_id,
                    command=ctx.options.command,
                    plan=ctx.plan.name,
                    plan_sha256=_sha256(ctx.loaded.path),
                    host=socket.gethostname(),
                    pid=os.getpid(),
                    planrun_version=__version__,
                )
        except Exception:
            conn.close()
            raise
        ctx.journal.listeners.append(recorder._copy)
        recorder._start(recorder._beat, "planrun-heartbeat")
        recorder._start(recorder._listen, "planrun-control-listener")
        return recorder

    @contextlib.contextmanager
    def cursor(self) -> Iterator:
        """A cursor on the run's store connection, opened again first if it was lost."""
        with self._lock:
            if self.conn.closed:
                self._reopen()
            with self.conn.cursor() as cursor:
                yield cursor

    def _retrying(self, work: Callable[[], None]) -> None:
        """``work()``, and once more if the connection was lost under it (``cursor`` reopens it)."""
        try:
            work()
        except _LOST:
            if not self.conn.closed:
                raise
            work()

    def _reopen(self) -> None:
        """Open the store connection again under the run's name (the lock is held), and send the
        journal records that could not be copied meanwhile."""
        from ..pg.connect import connect

        with contextlib.suppress(Exception):
            self.conn.close()
        self.conn = connect(self.ctx.target_url, application_name=runs.alive_name(self.ctx.run_id))
        self.conn.autocommit = True
        self.reconnects += 1
        unsent, self._unsent = self._unsent, []
        with self.conn.cursor() as cursor:
            for record in unsent:
                runs.add_event(cursor, self.schema, self.ctx.run_id, record["event"], record["data"])

    def update(self, **fields) -> None:
        def work() -> None:
            with self.cursor() as cursor:
                runs.update_run(cursor, self.schema, self.ctx.run_id, **fields)

        try:
            self._retrying(work)
        except Exception as exc:
            self.ctx.reporter.warning(f"could not record the run in schema {self.schema}: {type(exc).__name__}: {exc}")

    def finish(self, result) -> None:
        from ..pg.fingerprint import schema_fingerprint

        self._stop.set()
        revisions = self.ctx.facts.get(Revisions) or Revisions()
        backup = self.ctx.facts.get(BackupTaken) or BackupTaken()
        rollback = self.ctx.facts.get(RollbackOutcome)
        fields = dict(
            outcome=result.outcome,
            exit_code=result.exit_code,
            error=result.error,
            ended_at=datetime.now(UTC),
            backup=backup.location,
            rollback=dataclasses.asdict(rollback) if rollback else None,
            **revisions.payload(),
        )
        if result.outcome == "success":

            def after() -> None:
                with self.cursor():
                    fields["schema_after"] = list(schema_fingerprint(self.conn).items)

            with contextlib.suppress(Exception):  # drift then has no baseline from this run; the outcome still counts
                self._retrying(after)
        self.update(**fields)

    def recovered(self, run_id: str, outcome: str, ended: dict | None = None) -> None:
        with self.cursor() as cursor:
            if ended is not None:
                runs.record_late_end(cursor, self.schema, run_id, self.ctx.run_id, ended)
            else:
                runs.finish_recovery(cursor, self.schema, run_id, self.ctx.run_id, outcome)

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=3)
        with contextlib.suppress(ValueError):
            self.ctx.journal.listeners.remove(self._copy)
        self.conn.close()

    # --- threads ---------------------------------------------------------------------------
    def _start(self, target, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _beat(self) -> None:
        """Renew the lease; a lost connection is opened again here at the latest."""

        def beat() -> None:
            with self.cursor() as cursor:
                runs.update_run(cursor, self.schema, self.ctx.run_id)

        while not self._stop.wait(HEARTBEAT):
            with contextlib.suppress(Exception):
                self._retrying(beat)

    def _copy(self, record: dict) -> None:
        data = {k: v for k, v in record.items() if k not in ("ts", "run_id", "event")}

        def copy() -> None:
            with self.cursor() as cursor:
                runs.add_event(cursor, self.schema, self.ctx.run_id, record["event"], data)

        try:
            self._retrying(copy)
        except Exception:
            self._unsent.append({"event": record["event"], "data": data})  # sent once the connection is back

    def _listen(self) -> None:
        """Apply operators' commands (``planrun pause|resume|abort PLAN RUN_ID``) as they come.
        A lost channel (the connection cut, the server restarted) is said once per cause and
        opened again: pause and abort must not stop working mid-run without a word."""
        from planrun.plugin import describe_error

        seen: object = None
        told = None
        while not self._stop.is_set():
            try:
                seen = self._hear(seen)
            except Exception as exc:
                if describe_error(exc) != told:
                    told = describe_error(exc)
                    self.ctx.reporter.warning(
                        f"pause, resume and abort through {self.ctx.target_name} cannot be heard now ({told}); "
                        "listening again (the local control file still works)"
                    )
                self._stop.wait(1.0)

    def _hear(self, seen: object) -> object:
        """Listen on one connection until the run ends; returns the last command applied."""
        from ..pg.connect import connect

        listener = connect(
            self.ctx.target_url, application_name=f"planrun control {self.ctx.run_id}"[:63], autocommit=True
        )
        try:
            with listener.cursor() as cursor:
                cursor.execute(f'LISTEN "{runs.control_channel(self.schema)}"')
            while not self._stop.is_set():
                if select.select([listener], [], [], 0.5)[0]:
                    listener.poll()
                    listener.notifies.clear()
                with listener.cursor() as cursor:
                    command = runs.read_control(cursor, self.schema, self.ctx.run_id)
                if command and command[2] != seen:
                    seen = command[2]
                    self._apply(command[0], command[1])
            return seen
        finally:
            listener.close()

    def _apply(self, command: str, by: str) -> None:
        control = self.ctx.control
        if command == "abort":
            control.abort(f"aborted by {by} (planrun abort)")
        elif command == "pause":
            control.pause("operator", f"paused by {by} (planrun pause)")
        elif command == "resume":
            control.resume("operator")


def _sha256(path) -> str | None:
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None
