"""Where backups live: any fsspec URL (a local path, ``s3://``, ``gs://``, ``memory://``).

Credentials come from the storage library's usual sources (environment, profiles, instance
roles); a plan may add ``storage_options``, handed to fsspec as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import fsspec


@dataclass
class Location:
    """A folder in some filesystem: ``url`` as the user wrote it, ``fs`` and ``path`` for fsspec."""

    url: str
    fs: Any
    path: str

    def child(self, name: str) -> str:
        return f"{self.path.rstrip('/')}/{name}"

    def child_url(self, name: str) -> str:
        return f"{self.url.rstrip('/')}/{name}"


def location(url: str, storage_options: dict | None = None) -> Location:
    fs, path = fsspec.core.url_to_fs(url, **(storage_options or {}))
    return Location(url, fs, path.rstrip("/"))
