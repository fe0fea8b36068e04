"""Restoring a backup: into a scratch database (to prove a backup) or over the target (to roll
back). Either way the result is proven against the manifest: per-table row counts and the
schema fingerprint."""
from __future__ import annotations

import subprocess
import tempfile
import uuid
from pathlib import Path

from planrun.engine.errors import StepFailed

from ..pg.connect import connect, query_all
from ..pg.fingerprint import row_counts, schema_fingerprint
from ..pg.tools import libpq_env, pg_program
from ..storage import Location
from .archive import local_archive
from .manifest import Manifest

_USER_SCHEMAS = """SELECT nspname FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
                   AND nspname NOT LIKE 'pg_temp%' AND nspname NOT LIKE 'pg_toast_temp%'"""


def pg_restore(url: str, archive: Path, jobs: int, database: str | None = None) -> None:
    with libpq_env(url, database) as env, tempfile.TemporaryFile() as err:
        code = subprocess.run(
            [pg_program("pg_restore"), "--no-password", "--exit-on-error", f"-j{jobs}", "-d", env["PGDATABASE"], str(archive)],
            env=env, stderr=err,
        ).returncode
        if code != 0:
            err.seek(0)
            raise StepFailed(f"pg_restore failed (exit {code}): {err.read().decode(errors='replace').strip()}")


def prove(url: str, manifest: Manifest) -> None:
    """Raise unless the database at ``url`` has the manifest's row counts and schema."""
    conn = connect(url, application_name="planrun restore proof", readonly=True)
    try:
        counts = row_counts(conn)
        fingerprint = schema_fingerprint(conn)
    finally:
        conn.close()
    if counts != manifest.row_counts:
        differing = sorted(set(counts) ^ set(manifest.row_counts)) + sorted(
            t for t in set(counts) & set(manifest.row_counts) if counts[t] != manifest.row_counts[t]
        )
        detail = ", ".join(f"{t}: {manifest.row_counts.get(t, 'absent')} in the backup, {counts.get(t, 'absent')} restored" for t in differing[:5])
        raise StepFailed(f"row counts differ from the manifest: {detail}")
    if fingerprint.digest != manifest.schema_fingerprint:
        before = set(manifest.schema_items)
        missing = sorted(before - set(fingerprint.items))[:5]
        extra = sorted(set(fingerprint.items) - before)[:5]
        raise StepFailed(f"schema differs from the manifest: missing {missing}, extra {extra}")


def _scratch_url(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


def restore_into_scratch(url: str, where: Location, manifest: Manifest, jobs: int) -> str:
    """Restore into a new scratch database on the target's server, prove it, drop it."""
    name = f"planrun_verify_{uuid.uuid4().hex[:12]}"
    admin = connect(url, application_name="planrun verify", autocommit=True)
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        try:
            with local_archive(where, manifest) as archive:
                pg_restore(url, archive, jobs, database=name)
            prove(_scratch_url(url, name), manifest)
        finally:
            with admin.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()
    return f"restored into a scratch database: {len(manifest.row_counts)} tables, {sum(manifest.row_counts.values())} rows and the schema match"


def clear_database(url: str) -> None:
    """Drop every user schema and recreate an empty ``public``: what the backup does not hold
    (a table the failed migration created) must not survive the restore."""
    conn = connect(url, application_name="planrun restore", autocommit=True)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SET lock_timeout = '60s'")
            for (schema,) in query_all(conn, _USER_SCHEMAS):
                cursor.execute(f'DROP SCHEMA "{schema}" CASCADE')
            cursor.execute("CREATE SCHEMA public")
            if conn.server_version >= 150000:
                cursor.execute("ALTER SCHEMA public OWNER TO pg_database_owner")
                cursor.execute("GRANT USAGE ON SCHEMA public TO PUBLIC")
            else:
                cursor.execute("GRANT ALL ON SCHEMA public TO PUBLIC")
    finally:
        conn.close()


def restore_target(url: str, where: Location, manifest: Manifest, jobs: int) -> str:
    """Replace the target's content with the backup's and prove it. The archive is fetched and
    its checksum verified before anything of the target is dropped."""
    with local_archive(where, manifest) as archive:
        clear_database(url)
        pg_restore(url, archive, jobs)
    prove(url, manifest)
    return f"restored backup {manifest.backup_id}; row counts and schema match its manifest"
