"""Reading a stored backup back: every byte is checked against the manifest's sha256 as it is
read, then decompressed into a sink (a pg_restore process, a local file)."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from planrun.plugin import StepFailed, describe_error

from ..pg.tools import killed_on_failure, pg_program
from .compression import SUFFIXES, decompressor
from .manifest import BackupFile, Manifest
from .storage import Location

CHUNK = 1 << 20


class BackupInvalid(StepFailed):
    """The stored backup is not what its manifest says."""

    def __init__(self, message: str):
        super().__init__(f"backup invalid: {message}")


def read_file(where: Location, file: BackupFile, compression: str, sink: Callable[[bytes], None] | None = None) -> None:
    digest, size = hashlib.sha256(), 0
    unpack = decompressor(compression)
    try:
        handle = where.fs.open(where.child(file.name), "rb")
    except FileNotFoundError:
        raise BackupInvalid(f"{file.name} is missing from {where.url}") from None
    except Exception as exc:
        raise StepFailed(f"cannot read {where.child_url(file.name)}: {describe_error(exc)}") from exc
    with handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if sink is not None:
                sink(_decompressed(unpack, chunk, file))
    if size != file.size or digest.hexdigest() != file.sha256:
        raise BackupInvalid(
            f"{file.name}: checksum mismatch (manifest: {file.size} bytes, sha256 {file.sha256[:12]}; "
            f"stored: {size} bytes, sha256 {digest.hexdigest()[:12]})"
        )


def _decompressed(unpack, chunk: bytes, file: BackupFile) -> bytes:
    """A chunk decompressed; a stream that cannot be decompressed is an invalid backup, never a
    crash (its checksum matched, so it was written damaged)."""
    try:
        return unpack.decompress(chunk)
    except Exception as exc:
        raise BackupInvalid(f"{file.name} cannot be decompressed: {type(exc).__name__}: {exc}") from None


def verify_checksums(where: Location, manifest: Manifest) -> None:
    for file in manifest.files:
        read_file(where, file, manifest.compression)


@contextlib.contextmanager
def local_archive(where: Location, manifest: Manifest) -> Iterator[Path]:
    """The backup decompressed into a temporary local file (custom) or folder (directory),
    checksums verified; removed afterwards. pg_restore needs this for parallel jobs."""
    folder = Path(tempfile.mkdtemp(prefix="planrun-restore-"))
    try:
        if manifest.format == "custom":
            target = folder / "dump.pgc"
            with target.open("wb") as out:
                read_file(where, manifest.files[0], manifest.compression, out.write)
        else:
            target = folder / "dump"
            target.mkdir()
            for file in manifest.files:
                name = file.name.removeprefix("dump.dir/").removesuffix(SUFFIXES[manifest.compression])
                with (target / name).open("wb") as out:
                    read_file(where, file, manifest.compression, out.write)
        yield target
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def stream_into(where: Location, manifest: Manifest, args: list[str], *, stop_early_ok: bool = False) -> bytes:
    """Feed the decompressed custom-format archive to ``pg_restore ARGS`` on its stdin; return
    its stdout. ``stop_early_ok``: pg_restore may exit before reading everything (``-l``)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen([pg_program("pg_restore"), *args], stdin=subprocess.PIPE, stdout=out, stderr=err)
        writer: BinaryIO = process.stdin  # type: ignore[assignment]
        try:
            with killed_on_failure(process):
                try:
                    read_file(where, manifest.files[0], manifest.compression, writer.write)
                except BrokenPipeError:
                    if not stop_early_ok:
                        process.wait()
                        err.seek(0)
                        raise BackupInvalid(
                            f"pg_restore stopped reading the archive: {err.read().decode(errors='replace').strip()}"
                        ) from None
        finally:
            with contextlib.suppress(BrokenPipeError):
                writer.close()
        code = process.wait()
        out.seek(0)
        err.seek(0)
        if code != 0:
            raise BackupInvalid(
                f"pg_restore {' '.join(args)} failed (exit {code}): {err.read().decode(errors='replace').strip()}"
            )
        return out.read()


def missing_from_toc(toc: bytes, tables: list[str], encoding: str) -> list[str]:
    """The tables (keys, :mod:`..pg.names`) with no TABLE DATA entry in ``pg_restore --list``
    output. The listing names them raw, schema and name separated by a space (a name may hold
    spaces itself), in the archive's ``encoding`` (PostgreSQL's name): each table is looked for
    by its own two parts."""
    from ..pg.connect import python_encoding
    from ..pg.names import parts

    text = toc.decode(python_encoding(encoding), errors="replace")
    return [table for table in tables if " TABLE DATA {} {} ".format(*parts(table)) not in text]
