"""Restoring a backup: into a scratch database (to prove a backup) or over the target (to roll
back). Either way the result is proven against the manifest: per-table row counts and the
schema fingerprint."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from planrun.plugin import StepFailed, Unreachable

from ..clusters.scratch import database_beside
from ..pg.connect import connect, is_unreachable, query_all
from ..pg.fingerprint import row_counts, schema_fingerprint
from ..pg.tools import killed_on_failure, libpq_env, pg_program
from .archive import local_archive, read_file, stream_into, verify_checksums
from .manifest import Manifest
from .storage import Location

# every user schema but planrun's own records, which a restore leaves alone (backups leave them out)
_USER_SCHEMAS = """SELECT nspname FROM pg_namespace
    WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
                   AND nspname NOT LIKE 'pg_temp%' AND nspname NOT LIKE 'pg_toast_temp%'
                   AND COALESCE(obj_description(oid, 'pg_namespace'), '') NOT LIKE 'planrun history store%'"""


def pg_restore(url: str, archive: Path, jobs: int, database: str | None = None, sections: tuple[str, ...] = ()) -> None:
    with libpq_env(url, database) as env, tempfile.TemporaryFile() as err:
        code = subprocess.run(
            [
                pg_program("pg_restore"),
                "--no-password",
                "--exit-on-error",
                f"-j{jobs}",
                *(f"--section={s}" for s in sections),
                "-d",
                env["PGDATABASE"],
                str(archive),
            ],
            env=env,
            stderr=err,
        ).returncode
        if code != 0:
            err.seek(0)
            raise restore_failure(code, err.read().decode(errors="replace").strip())


def restore_failure(code: int, stderr: str) -> StepFailed:
    """pg_restore's failure; :class:`Unreachable` when the server went away, so the rollback
    tries again within its budget."""
    error = Unreachable if is_unreachable(stderr) else StepFailed
    return error(f"pg_restore failed (exit {code}): {stderr}")


# how much of the decompressed archive is kept on local disk while it streams into pg_restore:
# its table of contents, which is all the post-data section (indexes, constraints) reads
TOC_HEAD = 64 << 20


def restore_archive(url: str, where: Location, manifest: Manifest, jobs: int, database: str | None = None) -> None:
    """Restore a backup whose checksums were verified. A custom-format archive is streamed:
    while it downloads and decompresses, pg_restore loads the schema and the data from the
    stream; then the indexes and constraints (post-data) are built in parallel (``-j``) from a
    local file that holds only the archive's head (its table of contents; the rest is a hole of
    the same size). Decompression overlaps the data load, and the data is never written to
    local disk: writing that copy slowed the load by 15% here."""
    if manifest.format != "custom":
        with local_archive(where, manifest) as archive:
            pg_restore(url, archive, jobs, database)
        return
    folder = Path(tempfile.mkdtemp(prefix="planrun-restore-"))
    try:
        head = folder / "dump.pgc"
        _stream_pre_data_and_data(url, where, manifest, database, head)
        with _post_data_archive(where, manifest, head) as archive:
            pg_restore(url, archive, jobs, database, sections=("post-data",))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def _post_data_archive(where: Location, manifest: Manifest, head: Path) -> Iterator[Path]:
    """``head`` when its table of contents is the whole archive's (pg_restore lists both the
    same), else a full local copy: a table of contents longer than TOC_HEAD."""
    program = pg_program("pg_restore")
    local = subprocess.run([program, "--list", str(head)], capture_output=True)
    if local.returncode == 0 and local.stdout == stream_into(where, manifest, ["--list"], stop_early_ok=True):
        yield head
        return
    with local_archive(where, manifest) as archive:
        yield archive


def _stream_pre_data_and_data(url: str, where: Location, manifest: Manifest, database: str | None, head: Path) -> None:
    with libpq_env(url, database) as env, tempfile.TemporaryFile() as err, head.open("wb") as copy:
        process = subprocess.Popen(
            [
                pg_program("pg_restore"),
                "--no-password",
                "--exit-on-error",
                "--section=pre-data",
                "--section=data",
                "-d",
                env["PGDATABASE"],
            ],
            stdin=subprocess.PIPE,
            stderr=err,
            env=env,
        )
        stdin = process.stdin
        size = 0

        def both(data: bytes) -> None:
            nonlocal size
            if size < TOC_HEAD:
                copy.write(data[: TOC_HEAD - size])
            size += len(data)
            stdin.write(data)

        with killed_on_failure(process):
            try:
                read_file(where, manifest.files[0], manifest.compression, both)
                stdin.close()
            except BrokenPipeError:
                pass  # pg_restore stopped: its exit code and stderr say why
        copy.truncate(size)  # the same size as the archive, the data part a hole
        code = process.wait()
        if code != 0:
            err.seek(0)
            raise restore_failure(code, err.read().decode(errors="replace").strip())


def prove(url: str, manifest: Manifest) -> None:
    """Raise unless the database at ``url`` has the manifest's row counts and schema."""
    conn = connect(url, application_name="planrun restore proof", readonly=True)
    try:
        counts = row_counts(conn, only=manifest.scope)  # a scoped backup holds and proves its tables' rows
        fingerprint = schema_fingerprint(conn)
    finally:
        conn.close()
    if counts != manifest.row_counts:
        differing = sorted(set(counts) ^ set(manifest.row_counts)) + sorted(
            t for t in set(counts) & set(manifest.row_counts) if counts[t] != manifest.row_counts[t]
        )
        detail = ", ".join(
            f"{t}: {manifest.row_counts.get(t, 'absent')} in the backup, {counts.get(t, 'absent')} restored"
            for t in differing[:5]
        )
        raise StepFailed(f"row counts differ from the manifest: {detail}")
    if fingerprint.digest != manifest.schema_fingerprint:
        before = set(manifest.schema_items)
        missing = sorted(before - set(fingerprint.items))[:5]
        extra = sorted(set(fingerprint.items) - before)[:5]
        raise StepFailed(f"schema differs from the manifest: missing {missing}, extra {extra}")


def restore_into_scratch(url: str, where: Location, manifest: Manifest, jobs: int) -> str:
    """Restore into a new scratch database on the target's server, prove it, drop it."""
    with database_beside(url, "planrun_verify", template="template0") as scratch:  # the checksums were verified first
        restore_archive(url, where, manifest, jobs, database=scratch.rsplit("/", 1)[1])
        prove(scratch, manifest)
    rows = sum(manifest.row_counts.values())
    held = "tables in scope" if manifest.scope is not None else "tables"
    return f"restored into a scratch database: {len(manifest.row_counts)} {held}, {rows} rows and the schema match"


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


def restore_target(url: str, where: Location, manifest: Manifest, jobs: int, others=None) -> str:
    """Replace the target's content with the backup's and prove it. The stored files' checksums
    are verified before anything of the target is dropped. A scoped backup restores its tables'
    rows only (:mod:`.restore_tables`): it holds no other rows to put back. Rows other
    transactions wrote since the backup are found first, and ``others`` (an
    :class:`.others.Policy`; by default: discard them, as ``planrun restore`` does) decides."""
    from .others import Policy

    others = others or Policy()
    if manifest.scope is not None:
        from .restore_tables import restore_tables

        return restore_tables(url, where, manifest, jobs, others)
    verify_checksums(where, manifest)  # a damaged backup is refused before anything is dropped
    discarded = _writes_by_others(url, manifest, others.own, others.concurrent_writes)
    clear_database(url)
    restore_archive(url, where, manifest, jobs)
    prove(url, manifest)
    return f"restored backup {manifest.backup_id}; row counts and schema match its manifest{discarded}"


def _writes_by_others(url: str, manifest: Manifest, own, concurrent_writes: str) -> str:
    """Before a whole-database restore: refuse over writes by others, or say what is discarded."""
    from . import others

    conn = connect(url, application_name="planrun restore check", readonly=True, autocommit=True)
    try:
        found = others.find(conn, manifest.snapshot, manifest.deletes, sorted(manifest.row_counts), own)
    finally:
        conn.close()
    known = others.certain(found)
    if known and concurrent_writes != "discard":
        raise others.refused(known, whole=True)
    said = others.uncertain_deletes(found)
    if known:
        said = (
            "; discarded writes of other transactions (rollback.concurrent_writes: discard): "
            + "; ".join(o.describe() for o in known)
            + said
        )
    return said
