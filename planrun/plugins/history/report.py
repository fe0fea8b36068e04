"""What the store says, in words: a dead run, the last runs, and drift since the last success."""

from __future__ import annotations

from planrun.plugin import DeadRun, StatusSection

from ..events import MigrationPlanned
from . import runs


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if value else "?"


def describe_dead(run: DeadRun, now: str | None = None) -> str:
    """``run X (apply of plan P, host H pid N) died at step S (last heartbeat T); it was
    migrating from A to B; the database is at C now``."""
    return (
        f"run {run.run_id} ({run.command} of plan {run.plan}, host {run.host} pid {run.pid}) died at "
        f"step {run.step or 'start'} (last heartbeat {_when(run.heartbeat_at)}); "
        f"{_begun(list(run.events))}" + (f"; the database is at {now} now" if now else "")
    )


def _begun(events: list[dict]) -> str:
    """What the dead run's journal says it had begun changing."""
    plan = MigrationPlanned.last_in(events)
    if plan is None:
        return "it had not started migrating"
    return f"it was migrating from {', '.join(plan.start) or 'base'} to {plan.target}"


def describe_run(run: dict) -> str:
    outcome = run["outcome"] or (
        "running" if run["alive"] else f"DIED at step {run['step']} (heartbeat {_when(run['heartbeat_at'])})"
    )
    if run["outcome"] == "died":
        last_error = (run["error"] or "").rsplit("; ", 1)[-1]
        outcome = f"died at step {run['step']}; recovered by run {run['recovered_by']} ({last_error})"
    return f"{run['run_id']}  {run['command']:<8} {run['plan']:<24} {outcome}"


def status_sections(cursor, schema: str, current: str) -> list[StatusSection]:
    from planrun.plugin import Snapshot

    from ..pg.fingerprint import schema_fingerprint

    recent = runs.runs(cursor, schema, limit=10)
    dead = runs.dead_runs(cursor, schema, current)
    sections = [
        StatusSection(
            "last runs",
            [describe_run(r) for r in recent] or ["none yet"],
            [describe_dead(r) + "; planrun recover finishes it" for r in dead],
        )
    ]
    last = runs.last_success(cursor, schema)
    if last is None:
        sections.append(StatusSection("drift", ["no successful run recorded yet: nothing to compare with"]))
        return sections
    recorded = tuple(last["schema_after"])
    live = schema_fingerprint(cursor.connection).items
    changes = Snapshot("", recorded).differences(Snapshot("", tuple(live)), limit=20)
    running = [r for r in recent if r["outcome"] is None and r["alive"] and r["started_at"] > last["ended_at"]]
    if changes and running:  # its own change, half done: not drift (yet)
        title = (
            f"run {running[0]['run_id']} is running (step {running[0]['step']}): its change is under way, drift is "
            f"judged when it ends; {len(set(recorded) ^ set(live))} change(s) since run {last['run_id']} so far"
        )
        sections.append(StatusSection("drift", [title, *changes]))
    elif changes:
        title = f"{len(set(recorded) ^ set(live))} change(s) since run {last['run_id']} ({_when(last['ended_at'])})"
        sections.append(StatusSection("drift", [title, *changes], [f"drift: {title}"]))
    else:
        sections.append(StatusSection("drift", [f"none: the schema is as run {last['run_id']} left it"]))
    return sections
