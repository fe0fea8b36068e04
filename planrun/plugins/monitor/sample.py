"""One look at the database while the migration runs, in a single query (one round trip per
sample, so the monitor's own load is one small query every ``monitor.every``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_SAMPLE = """
WITH me AS (SELECT oid FROM pg_database WHERE datname = current_database()),
migration AS (
    SELECT pid, state, wait_event_type, wait_event, left(query, 300) AS query,
           extract(epoch FROM clock_timestamp() - query_start) AS runtime
    FROM pg_stat_activity WHERE application_name = %(app)s AND datname = current_database()
),
waits AS (
    SELECT w.pid, a.application_name AS app, w.mode, w.locktype,
           CASE WHEN w.relation IS NOT NULL THEN w.relation::regclass::text END AS relation,
           extract(epoch FROM clock_timestamp() - w.waitstart) AS waited,
           pg_blocking_pids(w.pid) AS blockers, left(a.query, 200) AS query
    FROM pg_locks w JOIN pg_stat_activity a ON a.pid = w.pid
    WHERE NOT w.granted AND (w.database IS NULL OR w.database = (SELECT oid FROM me))
      AND a.datname = current_database()
)
SELECT json_build_object(
    'migration', (SELECT json_agg(migration) FROM migration),
    'waits', (SELECT json_agg(waits) FROM waits),
    'blockers', (
        SELECT json_agg(json_build_object('pid', a.pid, 'app', a.application_name, 'state', a.state,
                        'xact_seconds', extract(epoch FROM clock_timestamp() - a.xact_start),
                        'query', left(a.query, 200)))
        FROM pg_stat_activity a WHERE a.pid IN (SELECT unnest(blockers) FROM waits)),
    'long', (
        SELECT json_agg(q) FROM (
            SELECT pid, application_name AS app, extract(epoch FROM clock_timestamp() - query_start) AS runtime,
                   left(query, 200) AS query
            FROM pg_stat_activity
            WHERE state = 'active' AND datname = current_database() AND pid <> pg_backend_pid()
              AND application_name IS DISTINCT FROM %(app)s AND backend_type = 'client backend'
            ORDER BY query_start LIMIT 5) q),
    'size', pg_database_size(current_database()),
    'indexes', (
        SELECT json_agg(json_build_object('index', p.index_relid::regclass::text, 'table', p.relid::regclass::text,
                        'phase', p.phase, 'blocks_done', p.blocks_done, 'blocks_total', p.blocks_total,
                        'tuples_done', p.tuples_done, 'tuples_total', p.tuples_total))
        FROM pg_stat_progress_create_index p WHERE p.datid = (SELECT oid FROM me)),
    'replication', (
        SELECT json_agg(json_build_object('standby', application_name, 'lag', extract(epoch FROM replay_lag)))
        FROM pg_stat_replication)
)
"""


@dataclass
class Sample:
    """What one sample saw: ``metrics`` (the names alert rules use) and the details behind them."""

    metrics: dict[str, float | None]
    migration: dict | None
    waits: list[dict]
    blockers: list[dict]
    long_queries: list[dict]
    size: int
    indexes: list[dict] = field(default_factory=list)
    replication: list[dict] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The live view's lines."""
        lines = []
        m = self.migration
        if m:
            wait = f", waiting on {m['wait_event_type']}:{m['wait_event']}" if m.get("wait_event_type") else ""
            lines.append(f"statement ({m['state']}, {m['runtime'] or 0:.1f}s{wait}): {_one_line(m['query'])}")
        mine = m["pid"] if m else None
        for wait in self.waits:
            who = "the migration" if wait["pid"] == mine else f"pid {wait['pid']} ({wait['app'] or '?'})"
            blockers = ", ".join("the migration" if b == mine else f"pid {b}" for b in wait["blockers"]) or "?"
            lines.append(
                f"lock wait: {who} wants {wait['mode']} on {wait['relation'] or wait['locktype']} for "
                f"{wait['waited'] or 0:.1f}s, blocked by {blockers}"
            )
        for blocker in self.blockers:
            if blocker["pid"] != mine:
                lines.append(
                    f"blocker pid {blocker['pid']} ({blocker['app'] or '?'}, {blocker['state']}, transaction open "
                    f"{blocker['xact_seconds'] or 0:.1f}s): {_one_line(blocker['query'])}"
                )
        for query in self.long_queries[:3]:
            lines.append(
                f"query pid {query['pid']} ({query['app'] or '?'}) running {query['runtime'] or 0:.1f}s: "
                f"{_one_line(query['query'])}"
            )
        growth = self.metrics.get("db_size_growth") or 0.0
        lines.append(f"database size {_size(self.size)} ({growth:+.1f}% since the step began)")
        for index in self.indexes:
            share = f" {100 * index['blocks_done'] / index['blocks_total']:.0f}%" if index.get("blocks_total") else ""
            lines.append(f"index build {index['index']} on {index['table']}: {index['phase']}{share}")
        for standby in self.replication:
            lines.append(f"standby {standby['standby']}: replay lag {standby['lag'] or 0:.1f}s")
        return lines


def take_sample(conn, migration_app: str, start_size: int | None) -> Sample:
    with conn.cursor() as cursor:
        cursor.execute(_SAMPLE, {"app": migration_app})
        ((data,),) = cursor.fetchall()
    return build_sample(data, start_size)


def build_sample(data: dict[str, Any], start_size: int | None) -> Sample:
    migrations = data.get("migration") or []
    migration = max(migrations, key=lambda m: m["state"] == "active") if migrations else None
    waits = data.get("waits") or []
    mine = migration["pid"] if migration else None
    ours = [w for w in waits if mine is not None and (w["pid"] == mine or mine in (w["blockers"] or []))]
    long_queries = data.get("long") or []
    size = int(data.get("size") or 0)
    lags = [r["lag"] for r in data.get("replication") or [] if r.get("lag") is not None]
    metrics = {
        "lock_wait": max((w["waited"] or 0.0 for w in ours), default=0.0),
        "blocked_sessions": float(len({w["pid"] for w in waits})),
        "query_runtime": max((q["runtime"] or 0.0 for q in long_queries), default=0.0),
        "migration_runtime": (migration["runtime"] or 0.0) if migration and migration["state"] == "active" else 0.0,
        "db_size_growth": 100.0 * (size - start_size) / start_size if start_size else 0.0,
        "replication_lag": max(lags) if lags else None,
    }
    return Sample(
        metrics,
        migration,
        waits,
        data.get("blockers") or [],
        long_queries,
        size,
        data.get("indexes") or [],
        data.get("replication") or [],
    )


def _one_line(query: str | None) -> str:
    text = " ".join((query or "").split())
    return text[:120] + ("..." if len(text) > 120 else "")


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{int(value)} B"
        value /= 1024
    return f"{size} B"
