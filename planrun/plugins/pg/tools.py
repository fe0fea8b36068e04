"""Running PostgreSQL's client programs (pg_dump, pg_restore) against a target without ever
putting the password on a command line or on disk: the connection, password included, goes in
libpq's environment variables of the child process alone (``PGPASSWORD``), which only the same
user can read and which end with the process. (A pgpass file, used before, was left on disk
with the password in it when planrun was killed mid-dump.)"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .connect import libpq_url

_PASSED_THROUGH = {
    "PATH",
    "HOME",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TMPDIR",
    "PGSSLMODE",
    "PGSSLROOTCERT",
    "PGSSLCERT",
    "PGSSLKEY",
}


def pg_program(name: str) -> str:
    return os.path.join(find_pg_bin(name), name)


@contextlib.contextmanager
def libpq_env(url: str, database: str | None = None) -> Iterator[dict[str, str]]:
    """An environment for a pg_* subprocess connecting to ``url`` (or another database of the
    same server)."""
    parts = urlsplit(libpq_url(url))
    # a minimal environment: the parent's may hold secrets (DATABASE_URL) the tool has no use for
    env = {k: v for k, v in os.environ.items() if k in _PASSED_THROUGH or k.startswith("LC_")}
    env.update(
        PGHOST=parts.hostname or "localhost",
        PGPORT=str(parts.port or 5432),
        PGUSER=unquote(parts.username or os.environ.get("USER", "postgres")),
        PGDATABASE=database or unquote(parts.path.lstrip("/")) or "postgres",
        PGCONNECT_TIMEOUT="10",
    )
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
    yield env


def sweep_stale_secret_files() -> list[str]:
    """Remove pgpass files an earlier planrun (before passwords moved to the child's
    environment) left in the temp folder when it was killed; return their paths."""
    removed = []
    for path in glob.glob(os.path.join(tempfile.gettempdir(), "planrun-pgpass-*")):
        with contextlib.suppress(OSError):
            os.unlink(path)
            removed.append(path)
    return removed


def tool_version(name: str) -> str:
    result = subprocess.run([pg_program(name), "--version"], capture_output=True, text=True, check=True)
    return result.stdout.strip()


@contextlib.contextmanager
def killed_on_failure(process: subprocess.Popen) -> Iterator[subprocess.Popen]:
    """Feed or read ``process`` in the body; if the body fails (or is interrupted), the process
    is killed and reaped before the error goes on, so no pg_dump or pg_restore outlives it."""
    try:
        yield process
    except BaseException:
        process.kill()
        process.wait()
        raise


class MissingProgram(RuntimeError):
    """A PostgreSQL program planrun runs (initdb, pg_ctl, pg_dump, pg_restore) is not installed."""


def find_pg_bin(name: str = "initdb") -> str:
    """The folder holding ``initdb`` and ``pg_ctl``: PATH first, then /usr/lib/postgresql/*/bin (newest)."""
    found = shutil.which(name)
    if found and Path(os.path.realpath(found)).name == name:  # not Debian's pg_wrapper
        return str(Path(os.path.realpath(found)).parent)
    candidates = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
    )
    if candidates:
        return str(Path(candidates[-1]).parent)
    if found:
        return str(Path(found).parent)
    raise MissingProgram(
        f"{name} not found on PATH or under /usr/lib/postgresql/*/bin: install PostgreSQL (Debian: apt-get install "
        "postgresql)"
    )
