"""Retention: delete old backups of this plan, but only ones planrun wrote (a readable manifest
naming this plan) and never the current run's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from .manifest import MANIFEST_NAME, WRITER, Manifest
from .storage import Location


def list_backups(root: Location, plan: str) -> list[tuple[str, Manifest]]:
    """(folder path, manifest) of every backup of ``plan`` under ``root``, newest first."""
    found = []
    try:
        entries = root.fs.ls(root.path, detail=True)
    except FileNotFoundError:
        return []
    for entry in entries:
        if entry.get("type") != "directory":
            continue
        folder = entry["name"].rstrip("/")
        try:
            manifest = Manifest.from_json(root.fs.cat_file(f"{folder}/{MANIFEST_NAME}"))
        except Exception:
            continue  # not ours, or unreadable: never touched
        if manifest.writer == WRITER and manifest.plan == plan:
            found.append((folder, manifest))
    return sorted(found, key=lambda item: (item[1].created_at, item[1].run_id), reverse=True)


def expired(
    backups: list[tuple[str, Manifest]],
    *,
    last: int | None,
    days: int | None,
    current: str,
    now: datetime | None = None,
) -> list[tuple[str, Manifest]]:
    """The backups the policy lets go: neither among the newest ``last`` nor younger than
    ``days``, and not the current run's. No policy at all keeps everything."""
    if last is None and days is None:
        return []
    now = now or datetime.now(UTC)
    doomed = []
    for index, (folder, manifest) in enumerate(backups):
        keep_by_count = last is not None and index < last
        keep_by_age = days is not None and datetime.fromisoformat(manifest.created_at) > now - timedelta(days=days)
        if manifest.run_id == current or keep_by_count or keep_by_age:
            continue
        doomed.append((folder, manifest))
    return doomed


def apply_retention(root: Location, plan: str, *, last: int | None, days: int | None, current: str) -> list[str]:
    deleted = []
    for folder, manifest in expired(list_backups(root, plan), last=last, days=days, current=current):
        root.fs.rm(folder, recursive=True)
        deleted.append(manifest.backup_id)
    return deleted
