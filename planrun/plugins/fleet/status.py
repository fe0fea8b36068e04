"""``planrun fleet-status PLAN``: where a fleet run stands, from its control database."""

from __future__ import annotations

import hashlib
from pathlib import Path

from . import store


def fleet_status(plan_path: str, bar: bool = False) -> tuple[list[str], bool]:
    """Lines to print (with a progress bar, for a terminal), and whether every target is done."""
    from planrun.plugin import load_plan

    from ..pg.connect import connect

    loaded = load_plan(plan_path)
    sha = hashlib.sha256(Path(plan_path).read_bytes()).hexdigest()
    conn = connect(loaded.plan.fleet.control, application_name="planrun fleet-status")
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{store.SCHEMA}.fleets",))
            if not cursor.fetchone()[0]:
                return [f"no fleet run of {loaded.plan.name} yet"], False
            cursor.execute(
                f"SELECT id FROM {store.SCHEMA}.fleets WHERE plan = %s AND plan_sha256 = %s", (loaded.plan.name, sha)
            )
            found = cursor.fetchone()
        if found is None:
            return [f"no fleet run of this version of {loaded.plan.name} yet"], False
        rows = store.rows(conn, found[0])
    finally:
        conn.close()
    total = len(rows)
    by_state = {state: [r for r in rows if r["state"] == state] for state in ("pending", "claimed", "done", "failed")}
    lines = [f"fleet {loaded.plan.name}: " + ", ".join(f"{len(v)} {k}" for k, v in by_state.items()) + f" of {total}"]
    if bar:
        lines.append(progress_bar(len(by_state["done"]), len(by_state["failed"]), total))
    ended = [r for r in rows if r["ended_at"] and r["started_at"]]
    if ended:
        first = min(r["started_at"] for r in ended)
        last = max(r["ended_at"] for r in ended)
        seconds = max((last - first).total_seconds(), 0.001)
        rate = len(ended) / seconds
        left = len(by_state["pending"]) + len(by_state["claimed"])
        lines.append(f"rate {rate * 60:.1f} targets/min" + (f", ETA {left / rate:.0f}s" if left else ""))
    for row in by_state["claimed"]:
        lines.append(f"running: {row['name']} on {row['worker']} (attempt {row['attempts']})")
    for row in by_state["failed"]:
        lines.append(f"FAILED: {row['name']}: {row['error']}")
    return lines, len(by_state["done"]) == total


def progress_bar(done: int, failed: int, total: int, width: int = 40) -> str:
    """``[#########x.......] 9 done, 1 failed of 20``: done as #, failed as x, the rest as dots."""
    filled = round(width * done / total) if total else 0
    broken = round(width * failed / total) if total else 0
    return f"[{'#' * filled}{'x' * broken}{'.' * (width - filled - broken)}] {done} done, {failed} failed of {total}"
