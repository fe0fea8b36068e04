"""planrun's own tables in the target database, in a schema of their own (``planrun`` unless
the plan's ``history.schema`` says otherwise), versioned and upgraded by planrun itself.

Flyway, Liquibase, Sqitch and Alembic keep their history where the change happens; so does
planrun: the record of an applied revision is written inside that revision's own transaction,
so the record and the change commit together (or neither does), and any machine that can reach
the database sees the same history, whatever its checkout or state directory.

The schema is marked by its comment (:data:`MARK`): fingerprints, row counts and proofs leave a
schema with that comment out, so planrun's bookkeeping never counts as a change, and backups
leave it out too, so a restore never rewrites planrun's history.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..pg.fingerprint import STORE_MARK as MARK

# Entry i upgrades the layout from version i to i + 1; never edit one that has shipped.
_LAYOUT = [
    """
    CREATE TABLE {s}.layout (version int NOT NULL);
    CREATE TABLE {s}.applied_revisions (
        revision text PRIMARY KEY,
        path text NOT NULL,
        sha256 text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(),
        run_id text,
        how text NOT NULL CHECK (how IN ('planrun', 'adopted'))
    );
    """,
    """
    CREATE TABLE {s}.runs (
        run_id text PRIMARY KEY,
        command text NOT NULL,
        plan text NOT NULL,
        plan_sha256 text,
        host text,
        pid int,
        planrun_version text,
        started_at timestamptz NOT NULL DEFAULT now(),
        heartbeat_at timestamptz NOT NULL DEFAULT now(),
        step text,
        outcome text,
        exit_code int,
        error text,
        ended_at timestamptz,
        revision_from text,
        revision_to text,
        backup text,
        rollback jsonb,
        snapshots jsonb,
        schema_after jsonb,
        recovered_by text,
        control text,
        control_by text,
        control_at timestamptz
    );
    CREATE TABLE {s}.events (
        run_id text NOT NULL,
        at timestamptz NOT NULL DEFAULT now(),
        event text NOT NULL,
        data jsonb NOT NULL
    );
    CREATE INDEX ON {s}.events (run_id, at);
    """,
    """
    ALTER TABLE {s}.applied_revisions DROP CONSTRAINT applied_revisions_how_check;
    ALTER TABLE {s}.applied_revisions ADD CONSTRAINT applied_revisions_how_check
        CHECK (how IN ('planrun', 'adopted', 'repaired'));
    CREATE TABLE {s}.repairs (
        revision text NOT NULL,
        path text NOT NULL,
        old_sha256 text NOT NULL,
        new_sha256 text NOT NULL,
        reason text NOT NULL,
        repaired_by text NOT NULL,
        repaired_at timestamptz NOT NULL DEFAULT now()
    );
    """,
]
LAYOUT_VERSION = len(_LAYOUT)


class StoreTooNew(RuntimeError):
    """The store was laid out by a newer planrun."""


class NotPlanrunsSchema(RuntimeError):
    """``history.schema`` names a schema that exists without planrun's mark: an application's.
    planrun leaves its store out of every fingerprint, backup and proof, so it never takes one."""


Execute = Callable[[str, tuple], Any]


def quoted(schema: str) -> str:
    return '"' + schema.replace('"', '""') + '"'


def not_planruns(conn, schema: str) -> str | None:
    """Why ``schema`` cannot hold planrun's store: it exists without planrun's mark (None: it
    does not exist, or it is planrun's)."""
    with conn.cursor() as cursor:
        cursor.execute("SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %s", (schema,))
        existing = cursor.fetchone()
    if existing is None or (existing[0] or "").startswith(MARK):
        return None
    return (
        f"history.schema: schema {schema} exists and is not planrun's (it has no planrun mark); planrun "
        "leaves its store out of every backup and proof, so name a schema for planrun alone (the default: "
        "planrun)"
    )


def ensure(conn, schema: str, upto: int | None = None) -> bool:
    """Create or upgrade the store on ``conn`` (autocommit off; committed here) to the layout
    ``upto`` (default: this planrun's). Returns True when it was created now."""
    target = LAYOUT_VERSION if upto is None else upto
    s = quoted(schema)
    with conn.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", (f"{s}.layout",))
        created = cursor.fetchone()[0] is None
        if created:
            if (foreign := not_planruns(conn, schema)) is not None:
                conn.rollback()
                raise NotPlanrunsSchema(foreign)
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {s}")
            cursor.execute(
                f"COMMENT ON SCHEMA {s} IS %s", (f"{MARK}: see planrun's docs/explanation/what-planrun-keeps.md",)
            )
            version = 0
        else:
            cursor.execute(f"SELECT version FROM {s}.layout FOR UPDATE")
            (version,) = cursor.fetchone()
        if version > LAYOUT_VERSION:
            raise StoreTooNew(
                f"schema {schema} has layout {version}, laid out by a newer planrun (this one knows {LAYOUT_VERSION})"
            )
        for step in range(version, target):
            cursor.execute(_LAYOUT[step].format(s=s))
        if created:
            cursor.execute(f"INSERT INTO {s}.layout VALUES (%s)", (target,))
        else:
            cursor.execute(f"UPDATE {s}.layout SET version = %s", (max(version, target),))
    conn.commit()
    return created


def layout_version(conn, schema: str) -> int | None:
    with conn.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", (f"{quoted(schema)}.layout",))
        if cursor.fetchone()[0] is None:
            return None
        cursor.execute(f"SELECT version FROM {quoted(schema)}.layout")
        return cursor.fetchone()[0]


def applied_records(conn, schema: str) -> dict[str, dict] | None:
    """Every recorded applied revision, or ``None`` when the store does not exist yet."""
    s = quoted(schema)
    with conn.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", (f"{s}.applied_revisions",))
        if cursor.fetchone()[0] is None:
            return None
        cursor.execute(f"SELECT revision, path, sha256, applied_at, run_id, how FROM {s}.applied_revisions")
        return {
            r[0]: {
                "revision": r[0],
                "path": r[1],
                "sha256": r[2],
                "applied_at": r[3].isoformat(),
                "run_id": r[4],
                "how": r[5],
            }
            for r in cursor.fetchall()
        }


def record_applied(execute: Execute, schema: str, applied: list[dict], run_id: str, how: str) -> None:
    """With ``how`` = ``planrun``, ``applied`` is every revision applied now: make the records
    match (add the new ones, drop the ones a downgrade removed). With ``adopted``, add these.
    ``execute`` runs in the caller's transaction."""
    s = quoted(schema)
    if how == "planrun":
        execute(
            f"DELETE FROM {s}.applied_revisions WHERE NOT (revision = ANY(%s))", ([a["revision"] for a in applied],)
        )
    for item in applied:
        # an existing record is never rewritten: it is what the file was when it was applied
        execute(
            f"INSERT INTO {s}.applied_revisions (revision, path, sha256, run_id, how) VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (revision) DO NOTHING",
            (item["revision"], item["path"], item["sha256"], run_id, how),
        )


def record_repair(execute: Execute, schema: str, revision: str, path: str, old: str, new: str, reason: str, by: str):
    """The applied revision's record takes its file as it is now, and the repair is kept."""
    s = quoted(schema)
    execute(
        f"UPDATE {s}.applied_revisions SET sha256 = %s, path = %s, how = 'repaired' WHERE revision = %s",
        (new, path, revision),
    )
    execute(
        f"INSERT INTO {s}.repairs (revision, path, old_sha256, new_sha256, reason, repaired_by) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (revision, path, old, new, reason, by),
    )
