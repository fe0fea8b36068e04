"""The snapshots a rollback must restore: the target's schema fingerprint and, when the plan's
``rollback.prove`` asks for it, its data fingerprint (see :mod:`planrun.plugins.pg.fingerprint`).
Taken before the migrate phase and after each rollback. A data fingerprint of a scoped backup's
tables says so (``covers``): the engine then counts its proof only when every table the run
wrote is among them."""

from __future__ import annotations

from dataclasses import replace

from planrun.plugin import Unreachable, hookimpl


@hookimpl
def planrun_snapshot(ctx):
    from .facts import BackupTaken
    from .pg.connect import connect, is_unreachable
    from .pg.fingerprint import data_fingerprint, schema_fingerprint

    proofs = ctx.plan.rollback.proofs()
    backup = ctx.facts.get(BackupTaken)
    scope = backup.tables if backup is not None else None  # a scoped backup: the data proof covers its tables
    conn = connect(ctx.target_url, application_name=f"planrun fingerprint {ctx.run_id}", readonly=True)
    try:
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        taken = {}
        if "schema" in proofs:
            taken["schema"] = replace(schema_fingerprint(conn), subject="the schema")
        if "data" in proofs:
            data = data_fingerprint(conn, only=scope)
            if scope is None:
                taken["data"] = replace(data, subject="every table's data")
            else:
                taken["data"] = replace(
                    data,
                    subject=f"the data of the {len(scope)} table(s) in the backup's scope",
                    covers=frozenset(scope),
                    covers_what="the backup's scope",
                )
        return taken
    except Exception as exc:
        if is_unreachable(exc):
            raise Unreachable(f"the fingerprint lost the database: {str(exc).strip().splitlines()[0]}") from exc
        raise
    finally:
        conn.close()
