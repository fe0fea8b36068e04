"""The runs planrun keeps in the store: one row a run (who, what, heartbeat, step, outcome, the
snapshots a rollback must prove against) and a copy of its journal, so that any machine can
see the history, tell a live run from a dead one, and finish a dead one."""

from __future__ import annotations

from planrun.plugin import DeadRun, Snapshot

from .store import quoted


def alive_name(run_id: str) -> str:
    """The application_name of a run's store connection, held for the whole run: while a
    backend carries it, the run is alive; a run whose name is gone died (or ended)."""
    return f"planrun history {run_id}"[:63]


RUN_COLUMNS = (
    "run_id",
    "command",
    "plan",
    "plan_sha256",
    "host",
    "pid",
    "planrun_version",
    "started_at",
    "heartbeat_at",
    "step",
    "outcome",
    "exit_code",
    "error",
    "ended_at",
    "recovered_by",
    "revision_from",
    "revision_to",
    "backup",
)


def start_run(cursor, schema: str, **fields) -> None:
    names = ", ".join(fields)
    cursor.execute(
        f"INSERT INTO {quoted(schema)}.runs ({names}) VALUES ({', '.join(['%s'] * len(fields))}) "
        "ON CONFLICT (run_id) DO NOTHING",
        tuple(fields.values()),
    )


def update_run(cursor, schema: str, run_id: str, **fields) -> None:
    """Set ``fields`` on the run (JSON values given as dicts are stored as jsonb); also beats its heart."""
    from psycopg2.extras import Json

    assignments = ", ".join(f"{name} = %s" for name in fields)
    values = tuple(
        Json(v) if name in ("snapshots", "schema_after", "rollback") and v is not None else v
        for name, v in fields.items()
    )
    cursor.execute(
        f"UPDATE {quoted(schema)}.runs SET {assignments}{', ' if fields else ''}heartbeat_at = now() WHERE run_id = %s",
        values + (run_id,),
    )


def add_event(cursor, schema: str, run_id: str, event: str, data: dict) -> None:
    from psycopg2.extras import Json

    cursor.execute(
        f"INSERT INTO {quoted(schema)}.events (run_id, event, data) VALUES (%s, %s, %s)", (run_id, event, Json(data))
    )


def runs(cursor, schema: str, limit: int = 20, lease: float = 10.0) -> list[dict]:
    """The latest runs, newest first, with ``alive`` (its store connection is still there)."""
    cursor.execute(
        f"SELECT {', '.join('r.' + c for c in RUN_COLUMNS)}, "
        f"EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = 'planrun history ' || r.run_id) "
        f"FROM {quoted(schema)}.runs r ORDER BY r.started_at DESC LIMIT %s",
        (limit,),
    )
    found = [dict(zip((*RUN_COLUMNS, "alive"), row, strict=False)) for row in cursor.fetchall()]
    cursor.execute("SELECT now()")
    (now,) = cursor.fetchone()
    for run in found:  # a run whose connection was ended from outside is still alive while its process is
        if not run["alive"] and run["outcome"] is None:
            run["alive"] = process_alive(run, now, lease)
    return found


def process_alive(run: dict, now, lease: float) -> bool:
    """Whether the process of a run whose store connection is gone still runs: on this host,
    its pid says so at once; from another host, a heartbeat younger than ``lease`` seconds (a
    run whose connection was ended from outside opens it again and beats within that time)."""
    import os
    import socket

    if run.get("host") == socket.gethostname() and run.get("pid"):
        try:
            os.kill(int(run["pid"]), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # another user's process: it exists
        return True
    beat = run.get("heartbeat_at")
    return beat is not None and (now - beat).total_seconds() < lease


def stored_snapshot(snap: Snapshot) -> dict:
    """A pre-run snapshot as the store keeps it for ``recover``: its digest and items, and what
    its proof may claim, whole: the words for it and the tables it covers (a backup's scope).
    Kept without the scope, a recovery's proof once called a restore of the scoped tables
    proven while the dead run had written others."""
    return {
        "digest": snap.digest,
        "items": list(snap.items),
        "subject": snap.subject,
        "covers": sorted(snap.covers) if snap.covers is not None else None,
        "covers_what": snap.covers_what,
    }


def read_snapshot(stored: dict) -> Snapshot:
    """The snapshot :func:`stored_snapshot` kept (one kept before the scope was: every table)."""
    covers = stored.get("covers")
    return Snapshot(
        stored["digest"],
        tuple(stored["items"]),
        subject=stored.get("subject") or "",
        covers=frozenset(covers) if covers is not None else None,
        covers_what=stored.get("covers_what") or "",
    )


def dead_runs(cursor, schema: str, current: str, lease: float = 10.0) -> list[DeadRun]:
    """Runs that never ended and whose process is gone (see :func:`process_alive`), oldest
    first, each with its journal's copy (``events``). A store laid out before runs were kept
    (layout 1, upgraded when the next run starts) has none."""
    cursor.execute("SELECT to_regclass(%s)", (f"{quoted(schema)}.runs",))
    if cursor.fetchone()[0] is None:
        return []
    cursor.execute(
        f"SELECT {', '.join('r.' + c for c in RUN_COLUMNS)}, r.snapshots FROM {quoted(schema)}.runs r "
        "WHERE r.outcome IS NULL AND r.run_id <> %s "
        "AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = 'planrun history ' || r.run_id) "
        "ORDER BY r.started_at",
        (current,),
    )
    found = []
    rows = cursor.fetchall()
    cursor.execute("SELECT now()")
    (now,) = cursor.fetchone()
    for row in rows:
        run = dict(zip((*RUN_COLUMNS, "snapshots"), row, strict=False))
        if process_alive(run, now, lease):
            continue
        found.append(
            DeadRun(
                run["run_id"],
                run["command"],
                run["plan"],
                run["host"],
                run["pid"],
                run["step"],
                run["heartbeat_at"],
                {name: read_snapshot(stored) for name, stored in run["snapshots"].items()}
                if run["snapshots"]
                else None,
                tuple(run_events(cursor, schema, run["run_id"])),
            )
        )
    return found


def run_events(cursor, schema: str, run_id: str) -> list[dict]:
    """The store's copy of one run's journal, oldest first."""
    cursor.execute(f"SELECT event, data FROM {quoted(schema)}.events WHERE run_id = %s ORDER BY at", (run_id,))
    return [{"event": event, **data} for event, data in cursor.fetchall()]


def last_success(cursor, schema: str) -> dict | None:
    cursor.execute(
        f"SELECT run_id, ended_at, schema_after FROM {quoted(schema)}.runs "
        "WHERE outcome = 'success' AND schema_after IS NOT NULL ORDER BY ended_at DESC LIMIT 1"
    )
    row = cursor.fetchone()
    return {"run_id": row[0], "ended_at": row[1], "schema_after": row[2]} if row else None


def finish_recovery(cursor, schema: str, run_id: str, by: str, outcome: str) -> None:
    """The dead run ``run_id`` was dealt with by run ``by``: it stays a run that died, now with
    what was done about it."""
    cursor.execute(
        f"UPDATE {quoted(schema)}.runs SET outcome = 'died', recovered_by = %s, "
        "error = COALESCE(error || '; ', '') || %s, ended_at = COALESCE(ended_at, now()) WHERE run_id = %s",
        (by, outcome, run_id),
    )


def record_late_end(cursor, schema: str, run_id: str, by: str, end: dict) -> None:
    """The run ``run_id`` had ended (its journal's ``run_end`` record says how), but its end
    never reached the store: record that end as its own (never "died"), noting who found it."""
    cursor.execute(
        f"UPDATE {quoted(schema)}.runs SET outcome = %s, exit_code = %s, error = %s, recovered_by = %s, "
        "ended_at = COALESCE(%s::timestamptz, now()) WHERE run_id = %s",
        (end.get("outcome"), end.get("exit_code"), end.get("error"), by, end.get("ts"), run_id),
    )


def set_control(cursor, schema: str, run_id: str, command: str, by: str) -> str | None:
    """Ask the running run ``run_id`` to pause, resume or abort (and wake it with NOTIFY).
    Returns why it cannot be asked, or ``None`` when it was."""
    cursor.execute(
        "SELECT outcome, EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.application_name = 'planrun history ' || "
        "r.run_id), step "
        f"FROM {quoted(schema)}.runs r WHERE run_id = %s",
        (run_id,),
    )
    row = cursor.fetchone()
    if row is None:
        return f"no run {run_id} on this database (see planrun status)"
    outcome, alive, step = row
    if outcome is not None:
        return f"run {run_id} has already ended ({outcome})"
    if not alive:
        return f"run {run_id} is not running: it died at step {step} (see planrun status; planrun recover finishes it)"
    cursor.execute(
        f"UPDATE {quoted(schema)}.runs SET control = %s, control_by = %s, control_at = clock_timestamp() WHERE "
        "run_id = %s",
        (command, by, run_id),
    )
    cursor.execute("SELECT pg_notify(%s, %s)", (control_channel(schema), run_id))
    return None


def read_control(cursor, schema: str, run_id: str) -> tuple | None:
    cursor.execute(f"SELECT control, control_by, control_at FROM {quoted(schema)}.runs WHERE run_id = %s", (run_id,))
    row = cursor.fetchone()
    return row if row and row[0] else None


def control_channel(schema: str) -> str:
    return f"planrun_control_{schema}"[:63]
