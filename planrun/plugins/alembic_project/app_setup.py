"""``target.alembic.setup: "module:function"``: the application's own setup, run before its
revisions are imported and before env.py runs, as the application's CLI does before it runs
Alembic (a revision that reads a configuration object the CLI initialises fails with
``NoSuchOptError`` otherwise). Once per process: test, lint, plan and apply each build several
views of one project, and a setup is rarely written to run twice."""

from __future__ import annotations

import importlib
from pathlib import Path

from planrun.plugin import ProjectError, describe_error

_done: set[tuple[str, str]] = set()


def run_setup(spec: str, folder: Path) -> None:
    """Import ``module`` and call ``function()`` (dotted inside the module), with the project's
    folder on ``sys.path`` and as the working directory (the caller's ``project_directory``)."""
    key = (spec, str(folder.resolve()))
    if key in _done:
        return
    module_name, _, attribute = spec.partition(":")
    try:
        target = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except Exception as exc:
        raise ProjectError(f"target.alembic.setup: cannot find {spec}: {describe_error(exc)}") from exc
    if not callable(target):
        raise ProjectError(f"target.alembic.setup: {spec} is not a function")
    try:
        target()
    except Exception as exc:
        raise ProjectError(f"target.alembic.setup: {spec} raised {describe_error(exc)}") from exc
    _done.add(key)
