"""One worker of a fleet run (``planrun fleet-apply`` of a plan with ``fleet:``): it joins the fleet in
the control database, claims targets of the open wave, runs each as a full planrun run (lock,
checks, backup, migrate, post-checks, rollback with proof) in a process of its own, keeps its
claims alive, and records each outcome; it stops taking targets when a canary fails or the
failure budget is spent, and ends when the fleet has nothing left to run. A process it started
dies with it (``kill -9`` included), so a dead worker's target is free to be taken over, after
its lease, by a worker that recovers it first."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from planrun.plugin import EXIT_FAILED, EXIT_OK, JournalEvent, RunResult, StepFailed, Unreachable

from ..events import LockBusy, RevisionApplied
from . import store
from .events import (
    FleetClaimed,
    FleetClaimLost,
    FleetControlLost,
    FleetEnded,
    FleetJoined,
    FleetTargetBusy,
    FleetTargetEnded,
)
from .targets import listed, waves

_PR_SET_PDEATHSIG = 1
CONTROL_WAIT = 120.0  # how long a worker waits for its control database to come back


def _die_with_parent() -> None:  # in the child: the kernel kills it when the worker dies
    import ctypes
    import signal

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


# What a target's run imports, imported once by the worker: a forked child starts with them, so a
# target costs its run, not an interpreter's start (half of a target's time when measured).
_PRELOAD = (
    "alembic.command",
    "sqlalchemy",
    "psycopg2",
    "pglast",
    "rich.console",
    "planrun.engine.api",
    "planrun.plugins.alembic_project.project",
    "planrun.plugins.alembic_project.running",
    "planrun.plugins.migrate.commands",
    "planrun.plugins.migrate.recording",
    "planrun.plugins.lint.linter",
    "planrun.plugins.checks.readonly",
    "planrun.plugins.pg.fingerprint",
    "planrun.plugins.history.recorder",
)


def preload() -> None:
    import importlib

    for name in _PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:  # an optional part: the child imports it if it needs it
            pass


def _forked(verb: str, plan: Path, state_dir: str, env: dict, log: Path) -> dict:
    """``verb`` (apply or recover) of the target's plan, called directly in a forked child (the
    worker's imports already done), its output to ``log``; the child dies with the worker. What
    the run ended with comes back through a pipe: ``{"exit_code", "run_id", "error"}``."""
    import json

    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(read_end)
        said: dict = {"exit_code": 4, "run_id": None, "error": "the target's run ended without a result"}
        try:
            _die_with_parent()
            os.environ.clear()
            os.environ.update(env)
            out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.dup2(out, 1)
            os.dup2(out, 2)
            # new stream objects: another thread of the worker may have held the old ones' locks
            sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8", line_buffering=True)
            sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8", line_buffering=True)
            said = _target_run(verb, plan, state_dir)
        finally:
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
                os.write(write_end, json.dumps(said).encode())
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        answer = pipe.read()
    _, status = os.waitpid(pid, 0)
    if not answer:  # the child was killed, or ended its process inside a step
        code = os.waitstatus_to_exitcode(status)
        return {"exit_code": 4, "run_id": None, "error": f"the target's run ended its process (exit {code})"}
    return json.loads(answer)


def _target_run(verb: str, plan: Path, state_dir: str) -> dict:
    """The target's run: the same engine run as ``planrun apply`` (or ``recover``), in-process."""
    from planrun.plugin import PlanrunError, RunOptions, api, describe_error

    run = api.apply if verb == "apply" else api.recover
    try:
        result = run(str(plan), options=RunOptions(state_dir=state_dir))
    except PlanrunError as exc:
        print(f"planrun: {exc}", file=sys.stderr)
        return {"exit_code": exc.exit_code, "run_id": None, "error": str(exc)}
    except Exception as exc:  # a bug: named, never a traceback in the fleet's output
        print(f"planrun: internal error: {describe_error(exc)}", file=sys.stderr)
        return {"exit_code": 4, "run_id": None, "error": f"internal error: {describe_error(exc)}"}
    error = result.error if result.exit_code != EXIT_OK else None
    return {"exit_code": result.exit_code, "run_id": result.run_id, "error": error}


def target_plan(ctx, name: str, folder: Path) -> Path:
    """The plan for one target: the fleet plan as written (its ${VARS} unexpanded: no secret in
    the file), its ``fleet:`` removed, its URL read from the environment the worker gives it."""
    import yaml

    data = yaml.safe_load(Path(ctx.loaded.path).read_text(encoding="utf-8-sig"))
    data.pop("fleet", None)
    data["name"] = f"{ctx.plan.name}.{name}"
    target = dict(data.get("target") or {})
    target["url"] = "${PLANRUN_FLEET_TARGET_URL}"
    alembic = dict(target.get("alembic") or {})
    alembic["config"] = str(ctx.loaded.resolve(ctx.plan.target.alembic.config))
    target["alembic"] = alembic
    data["target"] = target
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@dataclass
class _Ended:
    """How one target's run ended, as the worker records it."""

    ok: bool
    run_id: str | None
    error: str | None
    busy: bool = False  # its lock was held by another run: not a failure, to be tried again
    migrated: bool = False  # it applied revisions (a run that found nothing to do is done, not a migration)


class Worker:
    def __init__(self, ctx):

        self.ctx = ctx
        self.config = ctx.plan.fleet
        self.name = f"{socket.gethostname()}:{os.getpid()}:{ctx.run_id}"
        self.urls = listed(ctx)
        self.lease = self.config.lease.total_seconds()
        self.conn = None
        sha = hashlib.sha256(Path(ctx.loaded.path).read_bytes()).hexdigest()
        plan_waves = waves(list(self.urls), self.config.canary, self.config.wave_size(len(self.urls)))
        self.fleet = self._control(store.open_fleet, ctx.plan.name, sha, plan_waves)
        self.folder = Path(tempfile.mkdtemp(prefix="planrun-fleet-"))
        self.mine: dict[str, Future] = {}
        self._stop = threading.Event()
        preload()

    def run(self) -> RunResult:
        started = time.monotonic()
        self.ctx.journal.emit(FleetJoined(fleet=self.fleet, worker=self.name, targets=len(self.urls)))
        self.ctx.reporter.heading(
            f"planrun fleet {self.ctx.plan.name}: {len(self.urls)} targets, worker {self.name} (run {self.ctx.run_id})"
        )
        beat = threading.Thread(target=self._heartbeats, name="planrun-fleet-heartbeat", daemon=True)
        beat.start()
        try:
            with ThreadPoolExecutor(self.config.concurrency, thread_name_prefix="planrun-fleet") as pool:
                self._loop(pool)
        finally:
            self._stop.set()
            beat.join(timeout=5)
            shutil.rmtree(self.folder, ignore_errors=True)  # the targets' plans and logs (no secret in them)
        return self._result(time.monotonic() - started)

    def _loop(self, pool: ThreadPoolExecutor) -> None:
        reason = None
        while True:
            self._reap()
            reason = reason or self._control(store.stopped, self.fleet, self.config.max_failures)
            while reason is None and len(self.mine) < self.config.concurrency:
                claim = self._control(store.claim, self.fleet, self.name, self.lease)
                if claim is None:
                    break
                self.ctx.journal.emit(FleetClaimed(target=claim.name, attempt=claim.attempts))
                self.mine[claim.name] = pool.submit(self._one, claim)
            if not self.mine:
                left = self._control(store.counts, self.fleet)
                if reason or left["pending"] + left["claimed"] == 0:
                    if reason:
                        self.ctx.reporter.warning(f"fleet stopped taking targets: {reason}")
                    return
            time.sleep(0.2)

    def _reap(self) -> None:
        for name, future in list(self.mine.items()):
            if not future.done():
                continue
            del self.mine[name]
            ended = future.result()
            if ended.busy:  # another run holds the target (a worker back from a stop, say): later, not failed
                if self._control(store.release, self.fleet, self.name, name, self.lease):
                    self.ctx.journal.emit(FleetTargetBusy(target=name, run_id=ended.run_id))
                    self.ctx.reporter.info(f"{name}: busy (another run holds it); tried again in {self.lease:g}s")
                continue
            mine = self._control(
                store.finish, self.fleet, self.name, name, ended.ok, ended.run_id, ended.error, ended.migrated
            )
            if not mine:  # this worker's lease ran out while it was away: the target is another's now
                if ended.ok and ended.migrated:  # what its run did still happened: counted, not decided
                    self._control(store.add_migration, self.fleet, name, ended.run_id)
                self.ctx.journal.emit(FleetClaimLost(target=name, run_id=ended.run_id, ok=ended.ok))
                self.ctx.reporter.warning(
                    f"{name}: taken over by another worker while this one was away (its lease ran out); "
                    "its outcome is that worker's to record"
                )
                continue
            self.ctx.journal.emit(FleetTargetEnded(target=name, ok=ended.ok, run_id=ended.run_id, error=ended.error))
            (self.ctx.reporter.info if ended.ok else self.ctx.reporter.error)(
                f"{name}: {'done' if ended.ok else 'failed'}"
                + (f" (run {ended.run_id})" if ended.run_id else "")
                + (f": {ended.error}" if ended.error else "")
            )

    def _one(self, claim: store.Claim) -> _Ended:
        plan = target_plan(self.ctx, claim.name, self.folder)
        log = self.folder / f"{claim.name}.log"
        env = dict(os.environ, PLANRUN_FLEET_TARGET_URL=self.urls[claim.name])
        if claim.attempts > 1:  # its last worker died mid-run, or the target was busy: finish a dead run first
            code, run_id, error = self._planrun("recover", plan, env, log)
            if code != EXIT_OK:
                busy = self._journal_says(run_id, LockBusy)
                return _Ended(False, run_id, f"recovering the run a dead worker left failed: {error}", busy=busy)
        code, run_id, error = self._planrun("apply", plan, env, log)
        return _Ended(
            code == EXIT_OK,
            run_id,
            error,
            busy=code != EXIT_OK and self._journal_says(run_id, LockBusy),
            migrated=self._journal_says(run_id, RevisionApplied),
        )

    def _journal_says(self, run_id: str | None, kind: type[JournalEvent]) -> bool:
        """Whether the target's run recorded an event of type ``kind`` (its journal, not its words)."""
        from planrun.plugin import read_run

        return bool(run_id) and kind.last_in(read_run(self.ctx.options.state_dir, run_id)) is not None

    def _planrun(self, verb: str, plan: Path, env: dict, log: Path) -> tuple[int, str | None, str | None]:
        said = _forked(verb, plan, self.ctx.options.state_dir, env, log)
        error = said["error"] or (
            f"planrun {verb} exited {said['exit_code']}" if said["exit_code"] != EXIT_OK else None
        )
        return said["exit_code"], said["run_id"], error

    def _control(self, call, *args):
        """``call(connection, *args)`` on the control database. While it cannot be reached (a
        failover, a restart), wait and connect again, saying so once, for up to
        :data:`CONTROL_WAIT` seconds; then the worker stops with that message (never an
        internal error)."""
        import psycopg2

        from ..pg.connect import connect

        deadline = None
        while True:
            try:
                if self.conn is None or self.conn.closed:
                    self.conn = connect(self.config.control, application_name=f"planrun fleet {self.ctx.run_id}")
                return call(self.conn, *args)
            except (psycopg2.OperationalError, psycopg2.InterfaceError, Unreachable) as exc:
                with contextlib.suppress(Exception):
                    self.conn.close()
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                now = time.monotonic()
                if deadline is None:
                    deadline = now + CONTROL_WAIT
                    self.ctx.journal.emit(FleetControlLost(error=reason))
                    self.ctx.reporter.warning(
                        f"the fleet's control database cannot be reached ({reason}); waiting up to "
                        f"{CONTROL_WAIT:g}s for it"
                    )
                if now >= deadline:
                    raise StepFailed(
                        f"the fleet's control database could not be reached for {CONTROL_WAIT:g}s ({reason}); "
                        "the targets this worker had are taken over by another worker after their lease"
                    ) from exc
                time.sleep(1.0)

    def _heartbeats(self) -> None:
        """Renew this worker's claims; a control database away is waited for here too."""
        import psycopg2

        from ..pg.connect import connect

        conn = None
        try:
            while not self._stop.wait(max(0.5, self.lease / 3)):
                if not self.mine:
                    continue
                try:
                    if conn is None or conn.closed:
                        conn = connect(
                            self.config.control, application_name=f"planrun fleet heartbeat {self.ctx.run_id}"
                        )
                    store.heartbeat(conn, self.fleet, self.name, list(self.mine), self.lease)
                except (psycopg2.OperationalError, psycopg2.InterfaceError, Unreachable):
                    with contextlib.suppress(Exception):
                        conn.close()
                    conn = None
        finally:
            if conn is not None:
                conn.close()

    def _result(self, seconds: float) -> RunResult:
        rows = self._control(store.rows, self.fleet)
        self.conn.close()
        failed = [r for r in rows if r["state"] == "failed"]
        unrun = [r for r in rows if r["state"] in ("pending", "claimed")]
        done = len(rows) - len(failed) - len(unrun)
        summary = f"{done} of {len(rows)} targets done, {len(failed)} failed, {len(unrun)} not run"
        self.ctx.journal.emit(FleetEnded(done=done, failed=[r["name"] for r in failed], not_run=len(unrun)))
        if not failed and not unrun:
            self.ctx.reporter.heading(f"fleet done: {summary} in {seconds:.1f}s")
            return RunResult(self.ctx.run_id, "success", EXIT_OK, seconds=seconds)
        names = ", ".join(f"{r['name']} ({r['error']})" for r in failed)
        error = f"{summary}" + (f"; failed: {names}" if names else "")
        self.ctx.reporter.error(f"fleet: {error}")
        return RunResult(
            self.ctx.run_id, "failed", EXIT_FAILED, error, failed[0]["name"] if failed else None, seconds=seconds
        )
