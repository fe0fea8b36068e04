"""What the bench scripts share: an Alembic project's config pointed at a database, used the way
a user runs Alembic (working directory = the ini's folder)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def alembic_config(ini: Path, url: str) -> Iterator[object]:
    """``with alembic_config(ini, url) as config: command.upgrade(config, "head")``."""
    from alembic.config import Config

    previous = os.getcwd()
    os.chdir(ini.parent)
    try:
        config = Config(str(ini))
        config.set_main_option("sqlalchemy.url", url.replace("postgresql://", "postgresql+psycopg2://"))
        yield config
    finally:
        os.chdir(previous)
