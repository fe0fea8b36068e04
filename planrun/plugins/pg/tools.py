"""Running PostgreSQL's client programs (pg_dump, pg_restore) against a target without ever
putting the password on a command line: the connection goes in libpq's environment variables
and the password in a temporary pgpass file readable only by us (mode 0600)."""
from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from typing import Iterator
from urllib.parse import unquote, urlsplit

from .cluster import find_pg_bin
from .connect import libpq_url


_PASSED_THROUGH = {"PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "PGSSLMODE", "PGSSLROOTCERT", "PGSSLCERT", "PGSSLKEY"}


def pg_program(name: str) -> str:
    return os.path.join(find_pg_bin(name), name)


@contextlib.contextmanager
def libpq_env(url: str, database: str | None = None) -> Iterator[dict[str, str]]:
    """An environment for a pg_* subprocess connecting to ``url`` (or another database of the
    same server). The pgpass file is removed when the block ends."""
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
    password = unquote(parts.password) if parts.password else None
    if not password:
        yield env
        return
    handle, path = tempfile.mkstemp(prefix="planrun-pgpass-")
    try:
        os.fchmod(handle, 0o600)
        escaped = password.replace("\\", "\\\\").replace(":", "\\:")
        os.write(handle, f"*:*:*:*:{escaped}\n".encode())
        os.close(handle)
        env["PGPASSFILE"] = path
        yield env
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def tool_version(name: str) -> str:
    result = subprocess.run([pg_program(name), "--version"], capture_output=True, text=True, check=True)
    return result.stdout.strip()
