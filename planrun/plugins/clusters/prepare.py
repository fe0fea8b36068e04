"""Preparing an empty scratch database the way the plan says (``test.prepare``): a .sql file
loaded, or a shell command run with the database's URL in its environment. Projects whose
application creates tables itself before its first revision need it before any revision runs;
the stairway and lint's scratch runs both use this."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ..pg.connect import connect


class PrepareFailed(RuntimeError):
    pass


def prepare_database(
    url: str, what: str, folder: Path, url_env: list[str] | tuple[str, ...] = (), env_url: str | None = None
) -> None:
    """``what``: a .sql file (relative to ``folder``) or a shell command run in ``folder`` with
    ``env_url`` (the URL as Alembic gets it, driver named; default ``url``) in each of ``url_env``."""
    if what.endswith(".sql"):
        from planrun.plugin import UsageError, read_input_text

        path = (folder / what).resolve()
        if not path.exists():
            raise PrepareFailed(f"{path} does not exist")
        try:
            sql = read_input_text(path, "fixture")
        except UsageError as exc:
            raise PrepareFailed(str(exc)) from None
        conn = connect(url, application_name="planrun test fixture")
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
            conn.commit()
        except Exception as exc:
            from planrun.plugin import describe_error

            raise PrepareFailed(f"fixture {path.name} failed to load: {describe_error(exc)}") from exc
        finally:
            conn.close()
        return
    env = dict(os.environ, **{name: env_url or url for name in url_env})
    result = subprocess.run(what, shell=True, cwd=folder, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        output = (result.stderr or result.stdout).strip().splitlines()
        raise PrepareFailed(f"exit {result.returncode}" + (f": {output[-1]}" if output else ""))
