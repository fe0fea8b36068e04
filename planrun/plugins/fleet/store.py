"""The fleet's state in its control database (schema ``planrun_fleet``): one row a fleet run
(a plan, by name and the sha256 of its file: the same command started again joins it) and one
row a target, with its wave, state, lease and attempts. Workers claim targets with
``FOR UPDATE SKIP LOCKED`` and keep their claims alive with heartbeats; a claim whose lease ran
out is taken over by another worker."""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA = "planrun_fleet"
_LAYOUT = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {SCHEMA}.fleets (
    id bigserial PRIMARY KEY,
    plan text NOT NULL,
    plan_sha256 text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (plan, plan_sha256)
);
CREATE TABLE IF NOT EXISTS {SCHEMA}.targets (
    fleet_id bigint NOT NULL REFERENCES {SCHEMA}.fleets (id),
    name text NOT NULL,
    wave int NOT NULL,
    state text NOT NULL DEFAULT 'pending',  -- pending | claimed | done | failed
    worker text,
    lease_until timestamptz,
    attempts int NOT NULL DEFAULT 0,
    migrations int NOT NULL DEFAULT 0,      -- successful runs: exactly one when all is well
    run_ids text[] NOT NULL DEFAULT '{{}}',
    error text,
    started_at timestamptz,
    ended_at timestamptz,
    PRIMARY KEY (fleet_id, name)
);
"""


@dataclass
class Claim:
    name: str
    attempts: int  # above 1: another worker had it and died; recover first


def open_fleet(conn, plan: str, sha: str, waves: dict[str, int]) -> int:
    """The fleet run of this plan file, made on first use; its targets added (a target listed
    later joins; one already there keeps its state, but a failed one is tried again when the
    command is run again after every worker ended)."""
    with conn.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('planrun_fleet layout'))")
        cursor.execute(_LAYOUT)
        cursor.execute(
            f"INSERT INTO {SCHEMA}.fleets (plan, plan_sha256) VALUES (%s, %s) ON CONFLICT DO NOTHING", (plan, sha)
        )
        cursor.execute(f"SELECT id FROM {SCHEMA}.fleets WHERE plan = %s AND plan_sha256 = %s", (plan, sha))
        (fleet_id,) = cursor.fetchone()
        cursor.executemany(
            f"INSERT INTO {SCHEMA}.targets (fleet_id, name, wave) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            [(fleet_id, name, wave) for name, wave in waves.items()],
        )
        # the same command run again once no worker is left (no claim is alive): the targets that
        # failed are tried again; each one's run reads its database, so one that reached the
        # revision after all is done, and one that still fails is failed again, named
        cursor.execute(
            f"UPDATE {SCHEMA}.targets SET state = 'pending', worker = NULL, lease_until = NULL "
            f"WHERE fleet_id = %s AND state = 'failed' AND NOT EXISTS (SELECT 1 FROM {SCHEMA}.targets "
            f"WHERE fleet_id = %s AND state = 'claimed' AND lease_until > clock_timestamp())",
            (fleet_id, fleet_id),
        )
    conn.commit()
    return fleet_id


def counts(conn, fleet_id: int) -> dict[str, int]:
    with conn.cursor() as cursor:
        cursor.execute(f"SELECT state, count(*) FROM {SCHEMA}.targets WHERE fleet_id = %s GROUP BY state", (fleet_id,))
        found = dict(cursor.fetchall())
    conn.commit()
    return {state: found.get(state, 0) for state in ("pending", "claimed", "done", "failed")}


def stopped(conn, fleet_id: int, max_failures: int) -> str | None:
    """Why no new target may be taken: a canary failed, or the failure budget is spent."""
    with conn.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FILTER (WHERE state = 'failed'), count(*) FILTER (WHERE state = 'failed' AND wave = 0) "
            f"FROM {SCHEMA}.targets WHERE fleet_id = %s",
            (fleet_id,),
        )
        failed, canaries = cursor.fetchone()
    conn.commit()
    if canaries:
        return "a canary failed"
    if failed >= max_failures:
        return f"{failed} target(s) failed (fleet.max_failures: {max_failures})"
    return None


def claim(conn, fleet_id: int, worker: str, lease_seconds: float) -> Claim | None:
    """Take one target of the lowest wave that is not finished: a pending one, or one whose
    worker's lease ran out. Other workers' rows are skipped, never waited for."""
    with conn.cursor() as cursor:
        cursor.execute(
            f"""
            WITH open_wave AS (
                SELECT min(wave) AS wave FROM {SCHEMA}.targets
                WHERE fleet_id = %(fleet)s AND state IN ('pending', 'claimed')
            ), pick AS (
                SELECT t.name FROM {SCHEMA}.targets t, open_wave
                WHERE t.fleet_id = %(fleet)s AND t.wave = open_wave.wave
                  AND ((t.state = 'pending' AND (t.lease_until IS NULL OR t.lease_until < clock_timestamp()))
                       OR (t.state = 'claimed' AND t.lease_until < clock_timestamp()))
                ORDER BY t.name LIMIT 1 FOR UPDATE OF t SKIP LOCKED
            )
            UPDATE {SCHEMA}.targets t SET state = 'claimed', worker = %(worker)s, attempts = t.attempts + 1,
                   lease_until = clock_timestamp() + make_interval(secs => %(lease)s),
                   started_at = coalesce(t.started_at, clock_timestamp())
            FROM pick WHERE t.fleet_id = %(fleet)s AND t.name = pick.name
            RETURNING t.name, t.attempts""",
            {"fleet": fleet_id, "worker": worker, "lease": lease_seconds},
        )
        row = cursor.fetchone()
    conn.commit()
    return Claim(*row) if row else None


def heartbeat(conn, fleet_id: int, worker: str, names: list[str], lease_seconds: float) -> None:
    with conn.cursor() as cursor:
        cursor.execute(
            f"UPDATE {SCHEMA}.targets SET lease_until = clock_timestamp() + make_interval(secs => %s) "
            f"WHERE fleet_id = %s AND worker = %s AND state = 'claimed' AND name = ANY(%s)",
            (lease_seconds, fleet_id, worker, names),
        )
    conn.commit()


def finish(
    conn, fleet_id: int, worker: str, name: str, ok: bool, run_id: str | None, error: str | None, migrated: bool = True
) -> bool:
    """Record how the target ended (``migrated``: its run applied revisions); False when the
    claim was no longer this worker's (its lease ran out and another took the target over):
    then nothing is recorded, the fence that keeps a worker back from a stop honest."""
    with conn.cursor() as cursor:
        cursor.execute(
            f"UPDATE {SCHEMA}.targets SET state = %s, error = %s, ended_at = clock_timestamp(), "
            f"migrations = migrations + %s, run_ids = run_ids || %s::text[] "
            f"WHERE fleet_id = %s AND name = %s AND worker = %s AND state = 'claimed'",
            (
                "done" if ok else "failed",
                error,
                1 if ok and migrated else 0,
                [run_id] if run_id else [],
                fleet_id,
                name,
                worker,
            ),
        )
        mine = cursor.rowcount == 1
    conn.commit()
    return mine


def add_migration(conn, fleet_id: int, name: str, run_id: str | None) -> None:
    """A run of a worker whose claim was taken over applied revisions all the same: count it
    (the target's state stays the other worker's to decide)."""
    with conn.cursor() as cursor:
        cursor.execute(
            f"UPDATE {SCHEMA}.targets SET migrations = migrations + 1, run_ids = run_ids || %s::text[] "
            f"WHERE fleet_id = %s AND name = %s",
            ([run_id] if run_id else [], fleet_id, name),
        )
    conn.commit()


def release(conn, fleet_id: int, worker: str, name: str, retry_after: float) -> bool:
    """Give a claimed target back, to be claimed again after ``retry_after`` seconds: its lock
    was held by another run (a worker's that is still alive), so it is busy, not failed."""
    with conn.cursor() as cursor:
        cursor.execute(
            f"UPDATE {SCHEMA}.targets SET state = 'pending', worker = NULL, "
            f"lease_until = clock_timestamp() + make_interval(secs => %s) "
            f"WHERE fleet_id = %s AND name = %s AND worker = %s AND state = 'claimed'",
            (retry_after, fleet_id, name, worker),
        )
        mine = cursor.rowcount == 1
    conn.commit()
    return mine


def rows(conn, fleet_id: int) -> list[dict]:
    with conn.cursor() as cursor:
        cursor.execute(
            f"SELECT name, wave, state, worker, attempts, migrations, run_ids, error, started_at, ended_at "
            f"FROM {SCHEMA}.targets WHERE fleet_id = %s ORDER BY wave, name",
            (fleet_id,),
        )
        names = [d[0] for d in cursor.description]
        found = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    conn.commit()
    return found
