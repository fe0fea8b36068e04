"""The snapshots a rollback must restore: the target's schema fingerprint and, when the plan's
``rollback.prove`` asks for it, its data fingerprint (see :mod:`planrun.plugins.pg.fingerprint`).
Taken before the migrate phase and after each rollback."""
from __future__ import annotations

from planrun.engine.hookspecs import hookimpl

from .pg.connect import connect
from .pg.fingerprint import data_fingerprint, schema_fingerprint


@hookimpl
def planrun_snapshot(ctx):
    proofs = ctx.plan.rollback.proofs()
    conn = connect(ctx.target_url, application_name=f"planrun fingerprint {ctx.run_id}", readonly=True)
    try:
        conn.set_session(isolation_level="REPEATABLE READ", readonly=True)
        taken = {}
        if "schema" in proofs:
            taken["schema"] = schema_fingerprint(conn)
        if "data" in proofs:
            taken["data"] = data_fingerprint(conn)
        return taken
    finally:
        conn.close()
