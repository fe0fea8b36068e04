"""Restoring a backup: into a scratch database (to prove a backup) or over the target (to roll
back). Either way the result is proven against the manifest: per-table row counts and the
schema fingerprint."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from planrun.engine.errors import StepFailed

from ..pg.connect import connect, query_all
from ..pg.fingerprint import row_counts, schema_fingerprint
from ..pg.tools import libpq_env, pg_program
from ..storage import Location
from .archive import local_archive, read_file, verify_checksums
from .manifest import Manifest

_USER_SCHEMAS = """SELECT nspname FROM pg_namespace WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
                   AND nspname NOT LIKE 'pg_temp%' AND nspname NOT LIKE 'pg_toast_temp%'"""


def pg_restore(url: str, archive: Path, jobs: int, database: str | None = None, sections: tuple[str, ...] = ()) -> None:
    with libpq_env(url, database) as env, tempfile.TemporaryFile() as err:
        code = subprocess.run(
            [pg_program("pg_restore"), "--no-password", "--exit-on-error", f"-j{jobs}", *(f"--section={s}" for s in sections),
             "-d", env["PGDATABASE"], str(archive)],
            env=env, stderr=err,
        ).returncode
        if code != 0:
            err.seek(0)
            raise StepFailed(f"pg_restore failed (exit {code}): {err.read().decode(errors='replace').strip()}")


def restore_archive(url: str, where: Location, manifest: Manifest, jobs: int, database: str | None = None) -> None:
    """Restore a backup whose checksums were verified. A custom-format archive is streamed:
    while it downloads and decompresses, pg_restore loads the schema and the data from the
    stream and a local copy is written; then the indexes and constraints (post-data) are built
    in parallel from that copy. Decompression overlaps the data load instead of preceding it."""
    if manifest.format != "custom":
        with local_archive(where, manifest) as archive:
            pg_restore(url, archive, jobs, database)
        return
    folder = Path(tempfile.mkdtemp(prefix="planrun-restore-"))
    try:
        local = folder / "dump.pgc"
        _stream_pre_data_and_data(url, where, manifest, database, local)
        pg_restore(url, local, jobs, database, sections=("post-data",))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _stream_pre_data_and_data(url: str, where: Location, manifest: Manifest, database: str | None, local: Path) -> None:
    with libpq_env(url, database) as env, tempfile.TemporaryFile() as err, local.open("wb") as copy:
        process = subprocess.Popen(
            [pg_program("pg_restore"), "--no-password", "--exit-on-error", "--section=pre-data", "--section=data",
             "-d", env["PGDATABASE"]],
            stdin=subprocess.PIPE, stderr=err, env=env,
        )
        stdin = process.stdin

        def both(data: bytes) -> None:
            copy.write(data)
            stdin.write(data)

        try:
            read_file(where, manifest.files[0], manifest.compression, both)
            stdin.close()
        except BrokenPipeError:
            pass  # pg_restore stopped: its exit code and stderr say why
        except BaseException:
            process.kill()
            process.wait()
            raise
        code = process.wait()
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
            verify_checksums(where, manifest)
            restore_archive(url, where, manifest, jobs, database=name)
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
    """Replace the target's content with the backup's and prove it. The stored files' checksums
    are verified before anything of the target is dropped."""
    verify_checksums(where, manifest)  # a damaged backup is refused before anything is dropped
    clear_database(url)
    restore_archive(url, where, manifest, jobs)
    prove(url, manifest)
    return f"restored backup {manifest.backup_id}; row counts and schema match its manifest"
