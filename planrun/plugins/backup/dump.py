"""Taking a backup: pg_dump's uncompressed archive streamed through planrun's compressor
straight to storage, hashed on the way; no full copy on local disk for the custom format.

The dump, the row counts and the schema fingerprint of the manifest all read one exported
snapshot, so they describe exactly the same state of the database.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from planrun.plugin import StepFailed, describe_error, describe_url

from ..pg.connect import connect, python_encoding, query_all
from ..pg.fingerprint import data_fingerprint, row_counts, schema_fingerprint, store_schemas, user_tables
from ..pg.names import identifier, quoted
from ..pg.tools import killed_on_failure, libpq_env, pg_program, tool_version
from . import partial
from .compression import SUFFIXES, compressor
from .manifest import MANIFEST_NAME, BackupFile, Manifest
from .storage import Location

CHUNK = 1 << 20


@contextlib.contextmanager
def exported_snapshot(url: str) -> Iterator[tuple[str, object]]:
    """A REPEATABLE READ transaction whose snapshot pg_dump can share (``--snapshot``)."""
    conn = connect(url, application_name="planrun backup snapshot")
    try:
        with conn.cursor() as cursor:
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            (snapshot,) = cursor.fetchone()
        yield snapshot, conn
    finally:
        conn.rollback()
        conn.close()


def copy_compressed(
    source: BinaryIO, destination: BinaryIO, compression: str, level: int | None = None
) -> tuple[int, str]:
    """Compress ``source`` into ``destination``; return the stored size and its sha256."""
    digest, size = hashlib.sha256(), 0
    packer = compressor(compression, level)
    while chunk := source.read(CHUNK):
        data = packer.compress(chunk)
        if data:
            destination.write(data)
            digest.update(data)
            size += len(data)
    tail = packer.flush()
    destination.write(tail)
    digest.update(tail)
    return size + len(tail), digest.hexdigest()


def _dump_custom(
    env: dict, snapshot: str, where: Location, compression: str, level: int | None, excluded: list[bytes]
) -> list[BackupFile]:  # excluded: pg_dump's exclusion arguments
    name = "dump.pgc" + SUFFIXES[compression]
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(
            [pg_program("pg_dump"), "-Fc", "-Z0", "--no-password", f"--snapshot={snapshot}", *excluded],
            stdout=subprocess.PIPE,
            stderr=errors,
            env=env,
        )
        with killed_on_failure(process), where.fs.open(where.child(name), "wb") as out:
            size, sha = copy_compressed(process.stdout, out, compression, level)
        code = process.wait()
        errors.seek(0)
        if code != 0:
            raise StepFailed(f"pg_dump failed (exit {code}): {errors.read().decode(errors='replace').strip()}")
    return [BackupFile(name=name, size=size, sha256=sha)]


def _dump_directory(
    env: dict, snapshot: str, where: Location, compression: str, level: int | None, jobs: int, excluded: list[bytes]
) -> list[BackupFile]:
    """Directory dumps run pg_dump in parallel into a local folder (pg_dump cannot stream them),
    then each file is compressed to storage and the local folder removed."""
    local = Path(tempfile.mkdtemp(prefix="planrun-dump-"))
    try:
        target = local / "dump"
        with tempfile.TemporaryFile() as errors:
            code = subprocess.run(
                [
                    pg_program("pg_dump"),
                    "-Fd",
                    "-Z0",
                    f"-j{jobs}",
                    "--no-password",
                    f"--snapshot={snapshot}",
                    *excluded,
                    "-f",
                    str(target),
                ],
                stderr=errors,
                env=env,
            ).returncode
            errors.seek(0)
            if code != 0:
                raise StepFailed(f"pg_dump failed (exit {code}): {errors.read().decode(errors='replace').strip()}")
        files = []
        where.fs.makedirs(where.child("dump.dir"), exist_ok=True)
        for path in sorted(target.iterdir()):
            name = f"dump.dir/{path.name}{SUFFIXES[compression]}"
            with path.open("rb") as source, where.fs.open(where.child(name), "wb") as out:
                size, sha = copy_compressed(source, out, compression, level)
            files.append(BackupFile(name=name, size=size, sha256=sha))
        return files
    finally:
        shutil.rmtree(local, ignore_errors=True)


def _exclusions(schemas: list[str], without_data: list[str], encoding: str) -> list[bytes]:
    """planrun's own records are not the application's data: a backup leaves them out. A scoped
    backup also leaves out the rows (not the definitions) of the tables out of its scope. As
    bytes in the database's own encoding (``encoding``, Python's name), which pg_dump sends as
    they are: a LATIN1 name sent as UTF-8 once named no table."""
    return [f"--exclude-schema={identifier(name)}".encode(encoding) for name in schemas] + [
        f"--exclude-table-data={quoted(table)}".encode(encoding) for table in without_data
    ]


# the sequences that belong to tables (serial and identity columns), with their last value
_SEQUENCES = """
    SELECT quote_ident(sn.nspname) || '.' || quote_ident(sc.relname), s.last_value
    FROM pg_depend d JOIN pg_class sc ON sc.oid = d.objid JOIN pg_namespace sn ON sn.oid = sc.relnamespace
    JOIN pg_sequences s ON s.schemaname = sn.nspname AND s.sequencename = sc.relname
    JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace
    WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
      AND sc.relkind = 'S' AND quote_ident(tn.nspname) || '.' || quote_ident(t.relname) = ANY(%s)"""


def take_backup(
    url: str,
    where: Location,
    *,
    plan: str,
    run_id: str,
    revision: str | None,
    format: str,
    compression: str,
    jobs: int,
    level: int | None = None,
    scope: list[str] | None = None,
) -> Manifest:
    """Dump the database at ``url`` to ``where``; with ``scope``, the whole schema but only those
    tables' rows (and the manifest's counts, per-table fingerprints and sequences for them)."""
    started = time.monotonic()
    try:
        partial.begin(where, describe_url(url))
    except Exception as exc:
        raise StepFailed(f"backup storage {where.url} is not reachable: {describe_error(exc)}") from exc
    try:
        manifest = _dump(
            url,
            where,
            plan=plan,
            run_id=run_id,
            revision=revision,
            format=format,
            compression=compression,
            jobs=jobs,
            level=level,
            started=started,
            scope=scope,
        )
    except BaseException:
        partial.remove(where.fs, where.path)  # a failed backup leaves nothing behind
        raise
    partial.finish(where)
    return manifest


def _dump(
    url: str,
    where: Location,
    *,
    plan: str,
    run_id: str,
    revision: str | None,
    format: str,
    compression: str,
    jobs: int,
    level: int | None,
    started: float,
    scope: list[str] | None,
) -> Manifest:
    with exported_snapshot(url) as (snapshot, conn), libpq_env(url) as env:
        ((server_version,),) = query_all(conn, "SHOW server_version")
        ((server_encoding,),) = query_all(conn, "SHOW server_encoding")
        ((pg_snapshot,),) = query_all(conn, "SELECT pg_current_snapshot()::text")
        deletes = dict(
            query_all(
                conn,
                "SELECT quote_ident(schemaname) || '.' || quote_ident(relname), n_tup_del FROM pg_stat_user_tables",
            )
        )
        counts = row_counts(conn, only=scope)
        fingerprint = schema_fingerprint(conn)
        lines = data_fingerprint(conn, only=scope).items if scope is not None else ()
        sequences = dict(query_all(conn, _SEQUENCES, (scope,))) if scope else {}
        without_data = [t for t in user_tables(conn) if t not in scope] if scope is not None else []
        excluded = _exclusions(store_schemas(conn), without_data, python_encoding(conn.encoding))
        try:
            if format == "custom":
                files = _dump_custom(env, snapshot, where, compression, level, excluded)
            else:
                files = _dump_directory(env, snapshot, where, compression, level, jobs, excluded)
        except StepFailed:
            raise
        except Exception as exc:
            raise StepFailed(f"writing the backup to {where.url} failed: {describe_error(exc)}") from exc
    manifest = Manifest(
        backup_id=run_id,
        plan=plan,
        run_id=run_id,
        created_at=datetime.now(UTC).isoformat(timespec="milliseconds"),
        database=describe_url(url),
        server_version=server_version,
        pg_dump_version=tool_version("pg_dump"),
        revision=revision,
        format=format,
        compression=compression,
        files=files,
        size=sum(f.size for f in files),
        row_counts=counts,
        schema_fingerprint=fingerprint.digest,
        schema_items=list(fingerprint.items),
        dump_seconds=round(time.monotonic() - started, 3),
        scope=list(scope) if scope is not None else None,
        table_fingerprints={line.split(":", 1)[0].removeprefix("table "): line for line in lines},
        sequences=sequences,
        snapshot=pg_snapshot,
        encoding=server_encoding,
        deletes={table: deletes.get(table, 0) for table in counts},
    )
    where.fs.pipe_file(where.child(MANIFEST_NAME), manifest.to_json().encode())
    return manifest
