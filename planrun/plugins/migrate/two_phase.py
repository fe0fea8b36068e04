"""The migrate plugin's part of a two-phase run (``coordinate: atomic``): what is checked before
(prepared transactions allowed, every pending revision able to run in one transaction, nothing
left in doubt by an earlier run), and how a prepared migration is committed or rolled back."""

from __future__ import annotations

from planrun.plugin import Finding, StepFailed

from ..facts import show
from .commands import heads_of, offline_sql, project_of
from .events import PreparedCommitted, PreparedRolledBack

GID_PREFIX = "planrun-"  # the prepared transactions of planrun runs: planrun-RUN_ID-TARGET


def gid_of(run_id: str, target: str) -> str:
    return f"{GID_PREFIX}{run_id}-{target}"


def prepared_transactions(ctx) -> list[tuple[str, str, int]]:
    """The prepared transactions planrun runs left on this target and no live run holds (a run
    alive holds its lock, named ``planrun run=RUN_ID ...``): ``(gid, run_id, age in seconds)``."""
    from ..pg.connect import connect, query_all

    conn = connect(ctx.target_url, application_name=f"planrun prepared {ctx.run_id}", autocommit=True)
    try:
        rows = query_all(
            conn,
            "SELECT p.gid, round(extract(epoch FROM now() - p.prepared))::int FROM pg_prepared_xacts p "
            "WHERE p.database = current_database() AND p.gid LIKE %s ORDER BY p.prepared",
            (GID_PREFIX + "%",),
        )
        found = []
        for gid, age in rows:
            rest = gid[len(GID_PREFIX) :]
            run_id = "-".join(rest.split("-")[:2])  # run ids are TIME-HEX; the target's name follows
            ((alive,),) = query_all(
                conn,
                "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE %s",
                (f"planrun run={run_id} %",),
            )
            if not alive:
                found.append((gid, run_id, age))
        return found
    finally:
        conn.close()


def prepared_here(ctx) -> dict[str, str]:
    """The prepared transactions of runs that are not alive: ``{run_id: gid}``."""
    return {run_id: gid for gid, run_id, _age in prepared_transactions(ctx)}


def in_doubt_problems(ctx) -> list[str]:
    """What ``status`` says of them (each a problem: exit 1)."""
    return [
        f"prepared transaction {gid} of run {run_id} is in doubt on {ctx.target_name} for {age} s (its rows stay "
        f"locked): `planrun recover {ctx.loaded.path}` settles it as the run decided"
        for gid, run_id, age in prepared_transactions(ctx)
    ]


def finish(ctx, gid: str, commit: bool) -> str:
    """COMMIT PREPARED (then check the target is where the run took it) or ROLLBACK PREPARED."""
    from ..pg.connect import connect

    verb = "COMMIT PREPARED" if commit else "ROLLBACK PREPARED"
    try:
        conn = connect(
            ctx.target_url, application_name=f"planrun {verb.split()[0].lower()} {ctx.run_id}", autocommit=True
        )
        try:
            with conn.cursor() as cursor:
                cursor.execute(f"{verb} %s", (gid,))
        finally:
            conn.close()
    except Exception:
        # the server may have finished it and only the answer was lost: a transaction no longer
        # prepared, with the target where the run took it, was committed
        if not commit or not _finished_already(ctx, gid):
            raise
    ctx.journal.emit(PreparedCommitted(gid) if commit else PreparedRolledBack(gid))
    if not commit:
        return f"rolled back the prepared {gid}"
    target = ctx.state.get("migrate.target")
    now = heads_of(ctx, project_of(ctx))
    if target and now != project_of(ctx).heads_at(target):
        raise StepFailed(f"{ctx.target_name} is at {show(now)} after {verb} {gid}, expected {target}")
    return f"committed {gid}: at {show(now)}"


def _finished_already(ctx, gid: str) -> bool:
    try:
        still = gid in prepared_here(ctx).values()
        target = ctx.state.get("migrate.target")
        project = project_of(ctx)
        return not still and bool(target) and heads_of(ctx, project) == project.heads_at(target)
    except Exception:
        return False


def preflight(ctx) -> list[Finding]:
    """Refuse a run while a prepared transaction of an earlier run is in doubt here; for an atomic
    run, refuse unless the server allows prepared transactions and every pending revision can run
    inside one transaction."""
    findings = [
        Finding(
            "error",
            f"{ctx.target_name} holds the prepared transaction {gid} of run {run_id}, in doubt since that run died: "
            f"run `planrun recover {ctx.loaded.path}` first (it commits or rolls back every target of that run alike)",
            source="migrate",
        )
        for run_id, gid in prepared_here(ctx).items()
    ]
    if ctx.plan.coordinate != "atomic" or findings:
        return findings
    from ..pg.connect import connect, query_all

    conn = connect(ctx.target_url, application_name=f"planrun preflight {ctx.run_id}", autocommit=True)
    try:
        ((allowed,),) = query_all(conn, "SELECT current_setting('max_prepared_transactions')::int")
    finally:
        conn.close()
    if allowed <= 0:
        findings.append(
            Finding(
                "error",
                f"coordinate: atomic needs prepared transactions, and {ctx.target_name} allows none "
                "(max_prepared_transactions = 0; set it above 0 and restart the server)",
                source="migrate",
            )
        )
    project = project_of(ctx)
    current = heads_of(ctx, project)
    target = project.resolve_target(ctx.plan.migrate.to, current)
    for info in project.pending(current, target):
        reason = _not_transactional(ctx, project, info.revision)
        if reason:
            findings.append(
                Finding(
                    "error",
                    f"coordinate: atomic runs every migration in one transaction, and revision {info.revision} "
                    f"({info.path}) cannot: {reason}",
                    source="migrate",
                )
            )
    return findings


def _not_transactional(ctx, project, revision: str) -> str | None:
    """Why a revision cannot run inside one transaction (it commits on its own: an autocommit
    block, an index built concurrently, a batched backfill), from the SQL it emits offline."""
    down = project.script.get_revision(revision).down_revision
    start = down if isinstance(down, str) else (down[0] if down else None)
    try:
        sql = offline_sql(ctx, project, f"{start}:{revision}" if start else revision)
    except StepFailed as exc:
        return f"its SQL cannot be rendered to check ({exc})"
    statements = [line.strip().upper() for line in sql.splitlines() if line.strip()]
    statements = [s for s in statements if not s.startswith("--")]
    if statements and statements[-1].startswith("COMMIT"):
        statements = statements[:-1]  # the end of the revision's own transaction
    if any("CONCURRENTLY" in statement for statement in statements):  # (zdt shows the commit before it too)
        return "it builds or drops an index CONCURRENTLY, which cannot run inside a transaction"
    for statement in statements:
        if statement.startswith("COMMIT"):
            return (
                "it commits part of its work on its own (an autocommit block: a batched backfill, a concurrent index)"
            )
    return None
