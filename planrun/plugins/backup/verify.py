"""Verifying a stored backup, as deep as the plan asks: ``checksum`` (re-read and compare
sha256), ``read`` (also every data block through pg_restore, and every table of the manifest in
its table of contents), ``restore`` (also a restore into a scratch database, compared with the
manifest)."""

from __future__ import annotations

import subprocess

from ..pg.tools import pg_program
from .archive import BackupInvalid, local_archive, missing_from_toc, stream_into, verify_checksums
from .manifest import Manifest
from .restore import restore_into_scratch
from .storage import Location


def _read_everything(where: Location, manifest: Manifest) -> bytes:
    """Every block read back through pg_restore; the archive's table of contents."""
    if manifest.format == "custom":
        toc = stream_into(where, manifest, ["--list"], stop_early_ok=True)
        stream_into(where, manifest, ["-f", "/dev/null"])
        return toc
    with local_archive(where, manifest) as folder:
        program = pg_program("pg_restore")
        toc = subprocess.run([program, "--list", str(folder)], capture_output=True)
        full = subprocess.run([program, "-f", "/dev/null", str(folder)], capture_output=True)
        for result in (toc, full):
            if result.returncode != 0:
                error = result.stderr.decode(errors="replace").strip()
                raise BackupInvalid(f"pg_restore failed (exit {result.returncode}): {error}")
        return toc.stdout


def verify(where: Location, manifest: Manifest, depth: str, url: str, jobs: int) -> str:
    verify_checksums(where, manifest)  # before anything is decompressed: damage is "invalid", never a crash
    if depth == "checksum":
        return f"checksum: {len(manifest.files)} file(s), {manifest.size} bytes match the manifest"
    missing = sorted(missing_from_toc(_read_everything(where, manifest), list(manifest.row_counts), manifest.encoding))
    if missing:
        raise BackupInvalid(f"the archive's table of contents lacks {', '.join(missing[:5])}")
    if depth == "read":
        return f"read: every block read back; all {len(manifest.row_counts)} tables in the table of contents"
    return restore_into_scratch(url, where, manifest, jobs)
