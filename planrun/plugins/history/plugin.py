"""Hooks of the history plugin: the store is opened (created on first use) once the run holds
its lock; the migrate plugin hands it the applied revisions inside the migration's own
transaction, and asks it for the records when it checks that no applied file was edited."""
from __future__ import annotations

from planrun.engine.hookspecs import hookimpl

from .config import DEFAULT, HistoryConfig


def _config(ctx) -> HistoryConfig:
    return getattr(ctx.plan, "history", None) or DEFAULT


def _connection(ctx):
    """The store's connection of this run (opened after the lock), or ``None``."""
    return ctx.state.get("history.connection")


@hookimpl
def planrun_plan_sections():
    return {"history": HistoryConfig}


@hookimpl
def planrun_step_finished(ctx, step, outcome, error):
    """Open the store once the run holds the target's lock: only one run creates or upgrades it."""
    config = _config(ctx)
    if step.phase != "lock" or outcome != "ok" or ctx.options.command != "apply" or not config.enabled:
        return
    from ..pg.connect import connect
    from .store import ensure

    conn = connect(ctx.target_url, application_name=f"planrun history {ctx.run_id}")
    ctx.resources.callback(conn.close)
    try:
        created = ensure(conn, config.schema_name)
    except Exception as exc:
        conn.rollback()
        ctx.reporter.warning(f"planrun cannot keep its history in {ctx.target_name} (schema {config.schema_name}): "
                             f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}; applied files are checked "
                             "against the journal under --state-dir only")
        return
    ctx.state["history.connection"] = conn
    if created:
        ctx.journal.record("history_created", schema=config.schema_name)
        ctx.reporter.info(f"created schema {config.schema_name} in {ctx.target_name}: planrun keeps the record of applied "
                          "revisions there (see \"What planrun keeps in your database\" in the README)")


@hookimpl
def planrun_applied_records(ctx):
    config = _config(ctx)
    if not config.enabled:
        return None
    from .store import applied_records

    conn = _connection(ctx)
    if conn is not None:
        found = applied_records(conn, config.schema_name)
        conn.rollback()
        return found if found is not None else {}
    from ..pg.connect import connect  # a look without the run's store (planrun plan): read only

    conn = connect(ctx.target_url, application_name=f"planrun history {ctx.run_id}", readonly=True)
    try:
        return applied_records(conn, config.schema_name)
    finally:
        conn.close()


@hookimpl
def planrun_record_revisions(ctx, applied, how, execute):
    config = _config(ctx)
    conn = _connection(ctx)
    if not config.enabled or conn is None:
        return None
    from .store import record_applied

    if execute is not None:
        record_applied(execute, config.schema_name, applied, ctx.run_id, how)
        return True
    with conn.cursor() as cursor:
        record_applied(cursor.execute, config.schema_name, applied, ctx.run_id, how)
    conn.commit()
    return True
