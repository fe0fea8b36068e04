"""A throwaway database: on a server the user names (created and dropped there), or on a
throwaway cluster planrun starts and removes itself."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from ..pg.connect import connect
from .cluster import TempCluster


@contextlib.contextmanager
def scratch_database(server_url: str | None = None, prefix: str = "planrun_test") -> Iterator[str]:
    """A new empty database, dropped after: on ``server_url``'s server, or on a throwaway cluster."""
    if server_url is None:
        with TempCluster() as cluster:
            yield cluster.create_database(f"{prefix}_{uuid.uuid4().hex[:12]}")
        return
    with database_beside(server_url, prefix) as url:
        yield url


@contextlib.contextmanager
def database_beside(url: str, prefix: str, template: str | None = None) -> Iterator[str]:
    """A new database on the server of ``url`` (connected to as that URL's user), dropped after,
    whatever happens in between; yields its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = connect(url, application_name="planrun scratch", autocommit=True)
    try:
        with admin.cursor() as cursor:
            like = ""
            if template == "template0":  # the source's encoding and locale: its bytes restore as they are
                cursor.execute(
                    "SELECT pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database "
                    "WHERE datname = current_database()"
                )
                encoding, collate, ctype = cursor.fetchone()
                like = cursor.mogrify(" ENCODING %s LC_COLLATE %s LC_CTYPE %s", (encoding, collate, ctype)).decode()
            cursor.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "") + like)
        try:
            yield url.rsplit("/", 1)[0] + f"/{name}"
        finally:
            with admin.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


def recreate_database(url: str) -> None:
    """Drop the database at ``url`` and create it again, empty (a scratch database reset)."""
    admin = connect(url.rsplit("/", 1)[0] + "/postgres", application_name="planrun scratch", autocommit=True)
    name = url.rsplit("/", 1)[1]
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cursor.execute(f'CREATE DATABASE "{name}"')
    finally:
        admin.close()
