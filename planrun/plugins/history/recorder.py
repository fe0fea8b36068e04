"""One run, as the store sees it while it runs.

Its connection carries the run's name (:func:`.runs.alive_name`) for the whole run: as long as
that backend exists the run is alive, and it vanishes with the process however the process
ends (``kill -9`` included), so a dead run needs no timeout to be told from a slow one. A
heartbeat is written every :data:`HEARTBEAT` seconds for the humans reading ``status``; the
journal is copied into ``events``; operators' pause/resume/abort arrive by NOTIFY.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import select
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

from planrun import __version__
from planrun.engine.facts import RollbackOutcome

from ..facts import BackupTaken, Revisions
from . import runs
from .store import ensure

HEARTBEAT = 2.0


class RunRecorder:
    def __init__(self, ctx, schema: str, conn, created: bool):
        self.ctx, self.schema, self.conn, self.created = ctx, schema, conn, created
        self._lock = threading.Lock()
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
        with self._lock, self.conn.cursor() as cursor:
            yield cursor

    def update(self, **fields) -> None:
        try:
            with self.cursor() as cursor:
                runs.update_run(cursor, self.schema, self.ctx.run_id, **fields)
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
            with self.cursor():
                fields["schema_after"] = list(schema_fingerprint(self.conn).items)
        self.update(**fields)

    def recovered(self, run_id: str, outcome: str) -> None:
        with self.cursor() as cursor:
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
        while not self._stop.wait(HEARTBEAT):
            with contextlib.suppress(Exception):
                with self.cursor() as cursor:
                    runs.update_run(cursor, self.schema, self.ctx.run_id)

    def _copy(self, record: dict) -> None:
        if self.conn.closed:
            return
        data = {k: v for k, v in record.items() if k not in ("ts", "run_id", "event")}
        with self.cursor() as cursor:
            runs.add_event(cursor, self.schema, self.ctx.run_id, record["event"], data)

    def _listen(self) -> None:
        """Apply operators' commands (``planrun pause|resume|abort RUN_ID PLAN``) as they come."""
        from ..pg.connect import connect

        try:
            listener = connect(
                self.ctx.target_url, application_name=f"planrun control {self.ctx.run_id}"[:63], autocommit=True
            )
        except Exception:
            return
        seen = None
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
        except Exception:
            pass
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
