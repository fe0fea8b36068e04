"""A throwaway database: on a server the user names (created and dropped there), or on a
throwaway cluster planrun starts and removes itself."""
from __future__ import annotations

import contextlib
import uuid
from typing import Iterator

from .cluster import TempCluster
from .connect import connect


@contextlib.contextmanager
def scratch_database(server_url: str | None = None, prefix: str = "planrun_test") -> Iterator[str]:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    if server_url is None:
        with TempCluster() as cluster:
            yield cluster.create_database(name)
        return
    admin = connect(server_url, application_name="planrun scratch", autocommit=True)
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        try:
            yield server_url.rsplit("/", 1)[0] + f"/{name}"
        finally:
            with admin.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()
