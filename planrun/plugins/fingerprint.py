"""The snapshot a rollback must restore: the target's schema fingerprint (see
:mod:`planrun.plugins.pg.fingerprint`). Taken before the migrate phase and after each rollback."""
from __future__ import annotations

from planrun.engine.hookspecs import hookimpl

from .pg.connect import connect
from .pg.fingerprint import schema_fingerprint


@hookimpl
def planrun_snapshot(ctx):
    conn = connect(ctx.target_url, application_name=f"planrun fingerprint {ctx.run_id}", readonly=True)
    try:
        return {"schema": schema_fingerprint(conn)}
    finally:
        conn.close()
