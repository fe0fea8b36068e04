"""Hooks of the history plugin: the store is opened (created on first use) once the run holds
its lock and has passed its preflight, and the run is recorded there from then on (heartbeat, step, snapshots, journal,
outcome); the migrate plugin hands it the applied revisions inside the migration's own
transaction. Dead runs are found here, ``status`` reads here, and operators steer runs here."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from planrun.plugin import Finding, JournalEvent, StatusSection, describe_error, hookimpl

from ..facts import Revisions, show

if TYPE_CHECKING:
    from .config import HistoryConfig
    from .recorder import RunRecorder

RECORDED_COMMANDS = ("apply", "restore", "recover")


def _config(ctx) -> HistoryConfig:
    from .config import DEFAULT

    return getattr(ctx.plan, "history", None) or DEFAULT


def _recorder(ctx) -> RunRecorder | None:
    return ctx.state.get("history.recorder")


@contextlib.contextmanager
def _looking(ctx):
    """A cursor on the store: the run's own connection, or a read-only one for a look from
    outside a run (``plan``, ``status``)."""
    recorder = _recorder(ctx)
    if recorder is not None:
        with recorder.cursor() as cursor:
            yield cursor
        return
    from ..pg.connect import connect

    conn = connect(ctx.target_url, application_name=f"planrun look {ctx.run_id}", readonly=True, autocommit=True)
    try:
        with conn.cursor() as cursor:
            yield cursor
    finally:
        conn.close()


def _store_exists(cursor, schema: str) -> bool:
    from .store import layout_version

    return layout_version(cursor.connection, schema) is not None


def _read(ctx, read, missing):
    """``read(cursor, schema)`` on the store; ``missing`` when there is no store yet; ``None``
    when the plan keeps no history in the database."""
    config = _config(ctx)
    if not config.enabled:
        return None
    with _looking(ctx) as cursor:
        if not _store_exists(cursor, config.schema_name):
            return missing
        return read(cursor, config.schema_name)


@dataclass(frozen=True)
class HistoryCreated(JournalEvent):
    """The history store was created in the target (its first run under planrun)."""

    name = "history_created"
    schema: str = ""


@hookimpl
def planrun_journal_events():
    return [HistoryCreated]


@hookimpl
def planrun_addhooks(pluginmanager):
    from ..alembic_project.hookspecs import add_to

    add_to(pluginmanager)


@hookimpl
def planrun_plan_sections():
    from .config import HistoryConfig  # with pydantic: loaded when a plan is read, not for --help

    return {"history": HistoryConfig}


@hookimpl(tryfirst=True)
def planrun_step_started(ctx, step):
    """Open the store at the first step after the lock and the preflight: only the run holding
    the target's lock creates or upgrades it, and a run refused before it starts keeps nothing
    in the target (not even the store's schema). First among the plugins told: the run is on
    record before any of them acts on the step."""
    if (recorder := _recorder(ctx)) is None and step.phase != "lock":
        recorder = _open(ctx)
    if recorder is not None:
        recorder.update(step=step.name)


def _open(ctx) -> RunRecorder | None:
    config = _config(ctx)
    if ctx.options.command not in RECORDED_COMMANDS or not config.enabled or ctx.state.get("history.tried"):
        return None
    from .store import NotPlanrunsSchema

    ctx.state["history.tried"] = True  # a failure is reported once
    try:
        from .recorder import RunRecorder

        recorder = RunRecorder.open(ctx, config.schema_name)
    except NotPlanrunsSchema:
        return None  # apply's preflight refused it already
    except Exception as exc:
        ctx.reporter.warning(
            f"planrun cannot keep its history in {ctx.target_name} (schema {config.schema_name}): "
            f"{describe_error(exc)}; applied files are checked "
            "against the journal under --state-dir only"
        )
        return None
    ctx.state["history.recorder"] = recorder
    ctx.resources.callback(recorder.close)
    if recorder.created:
        ctx.journal.emit(HistoryCreated(schema=config.schema_name))
        ctx.reporter.info(
            f"created schema {config.schema_name} in {ctx.target_name}: planrun keeps its record of applied "
            "revisions and runs there (see docs/explanation/what-planrun-keeps.md)"
        )
    return recorder


@hookimpl
def planrun_snapshot_taken(ctx, snapshots):
    if (recorder := _recorder(ctx)) is not None:
        from .runs import stored_snapshot

        recorder.update(snapshots={name: stored_snapshot(snap) for name, snap in snapshots.items()})


@hookimpl
def planrun_run_finished(ctx, result):
    if (recorder := _recorder(ctx)) is not None:
        recorder.finish(result)


@hookimpl
def planrun_preflight(ctx):
    """``apply`` refuses while a run on this target died and was never recovered, and when
    ``history.schema`` names a schema that is not planrun's."""
    config = _config(ctx)
    if ctx.options.command != "apply" or not config.enabled:
        return None
    from .store import not_planruns

    with _looking(ctx) as cursor:
        if (foreign := not_planruns(cursor.connection, config.schema_name)) is not None:
            return [Finding("error", foreign, source="history")]
    from .report import describe_dead

    dead = planrun_dead_runs(ctx)
    revisions = ctx.facts.get(Revisions)  # the migrate plugin's preflight, called before this one
    now = show(revisions.before) if revisions and revisions.before is not None else None
    return [
        Finding("error", describe_dead(run, now) + f"; run `planrun recover {ctx.loaded.path}` first", source="history")
        for run in dead or []
    ]


@hookimpl
def planrun_dead_runs(ctx):
    from .runs import dead_runs

    return _read(ctx, lambda cursor, schema: dead_runs(cursor, schema, ctx.run_id), missing=[])


@hookimpl
def planrun_run_events(ctx, run_id):
    from .runs import run_events

    return _read(ctx, lambda cursor, schema: run_events(cursor, schema, run_id), missing=None)


@hookimpl
def planrun_run_recovered(ctx, run_id, outcome, ended):
    if (recorder := _recorder(ctx)) is not None:
        recorder.recovered(run_id, outcome, ended)


@hookimpl
def planrun_applied_records(ctx):
    from .store import applied_records

    # no store yet: nothing recorded ({}), so that apply adopts what is applied
    return _read(ctx, lambda cursor, schema: applied_records(cursor.connection, schema), missing={})


@hookimpl
def planrun_record_revisions(ctx, applied, how, execute):
    config = _config(ctx)
    recorder = _recorder(ctx)
    if not config.enabled or recorder is None:
        return None
    from .store import record_applied

    if execute is not None:
        record_applied(execute, config.schema_name, applied, ctx.run_id, how)
        return True
    with recorder.cursor() as cursor:
        record_applied(cursor.execute, config.schema_name, applied, ctx.run_id, how)
    return True


@hookimpl
def planrun_record_repair(ctx, revision, path, old_sha256, new_sha256, reason, by):
    """Outside a run: its own connection, the store's layout brought up to date first, the
    record and the repair in one transaction."""
    config = _config(ctx)
    if not config.enabled:
        return None
    from ..pg.connect import connect
    from .store import ensure, record_repair

    conn = connect(ctx.target_url, application_name=f"planrun repair {revision}"[:63])
    try:
        ensure(conn, config.schema_name)
        with conn.cursor() as cursor:
            record_repair(cursor.execute, config.schema_name, revision, path, old_sha256, new_sha256, reason, by)
        conn.commit()
    finally:
        conn.close()
    return True


@hookimpl
def planrun_status(ctx):
    from .report import status_sections

    nothing = [StatusSection("runs", [f"no planrun history in this database yet (schema {_config(ctx).schema_name})"])]
    return _read(ctx, lambda cursor, schema: status_sections(cursor, schema, ctx.run_id), missing=nothing)


@hookimpl
def planrun_steer(ctx, run_id, command, by):
    config = _config(ctx)
    if not config.enabled:
        return None
    from planrun.plugin import UsageError

    from ..pg.connect import connect
    from .runs import set_control

    conn = connect(ctx.target_url, application_name=f"planrun steer {run_id}"[:63], autocommit=True)
    try:
        with conn.cursor() as cursor:
            if not _store_exists(cursor, config.schema_name):
                raise UsageError(f"no planrun history in {ctx.target_name}: no run to steer there")
            problem = set_control(cursor, config.schema_name, run_id, command, by)
    finally:
        conn.close()
    if problem:
        raise UsageError(problem)
    return f"asked run {run_id} to {command} (through {ctx.target_name}; it hears at once)"
