"""Nothing half-written stays behind: a backup that fails is removed at once, and one whose
writer was killed (it had no chance to clean up) is swept by the next backup of the plan.

While a backup is written its folder holds ``writing.json`` (the database and the writer's host
and pid); the manifest replaces it when the backup is complete. A folder with ``writing.json``
and no manifest is another run's backup in progress, or a dead run's remains: it is swept when
its database is this run's target (this run holds the target's lock, so its writer is gone) or
its writer was a process of this host that no longer exists. Anything else is left alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket

from .manifest import MANIFEST_NAME
from .storage import Location

MARKER_NAME = "writing.json"


def begin(where: Location, database: str) -> None:
    """Create the backup's folder, marked as being written."""
    where.fs.makedirs(where.path, exist_ok=True)
    marker = {"database": database, "host": socket.gethostname(), "pid": os.getpid()}
    where.fs.pipe_file(where.child(MARKER_NAME), json.dumps(marker).encode())


def finish(where: Location) -> None:
    """The manifest is written: the folder is a backup now."""
    with contextlib.suppress(FileNotFoundError):
        where.fs.rm(where.child(MARKER_NAME))


def sweep(root: Location, database: str, current: str) -> list[str]:
    """Remove the remains of killed backups under ``root``; return the folders removed."""
    try:
        entries = root.fs.ls(root.path, detail=True)
    except FileNotFoundError:
        return []
    removed = []
    for entry in entries:
        folder = entry["name"].rstrip("/")
        if entry.get("type") != "directory" or folder.rsplit("/", 1)[-1] == current:
            continue
        if root.fs.exists(f"{folder}/{MANIFEST_NAME}"):
            continue
        try:
            marker = json.loads(root.fs.cat_file(f"{folder}/{MARKER_NAME}"))
        except Exception:
            continue  # not a folder planrun was writing: never touched
        if marker.get("database") == database or _dead_here(marker):
            remove(root.fs, folder)
            removed.append(folder)
    return removed


def _dead_here(marker: dict) -> bool:
    if marker.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(marker.get("pid")), 0)
    except ProcessLookupError:
        return True
    except (OSError, TypeError, ValueError):
        return False
    return False


def remove(fs, path: str) -> None:
    with contextlib.suppress(FileNotFoundError, OSError):
        fs.rm(path, recursive=True)
