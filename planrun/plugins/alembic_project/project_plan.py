"""A plan for commands that need no target (``planrun test``, ``planrun lint``): the plan
file, or a minimal plan around an ``alembic.ini`` given on the command line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from planrun.plugin import UsageError

if TYPE_CHECKING:
    from planrun.plugin import LoadedPlan


def plan_or_project(plan_path: str | None, alembic_config: str | None, migrate: dict | None = None) -> LoadedPlan:
    """The plan (its unset variables read as empty: the target is never used), or a plan around
    ``alembic_config`` with these ``migrate`` settings."""
    from planrun.plugin import LenientEnviron, load_plan, plan_from_data  # with the plan model: when the verb runs

    if plan_path:
        return load_plan(plan_path, environ=LenientEnviron())
    if alembic_config:
        config = Path(alembic_config).resolve()
        # a plan name from the project's folder (optuna's is "_rdb": not a valid name as it is)
        name = re.sub(r"[^A-Za-z0-9_.\-]", "-", config.parent.name).lstrip("_.-") or "project"
        return plan_from_data(
            {
                "version": 1,
                "name": name,
                "target": {"url": "", "alembic": {"config": str(config)}},
                "migrate": migrate or {},
            },
            str(config),
        )
    raise UsageError("name a plan, or the project with --alembic-config alembic.ini")


def distinct_projects(loaded: LoadedPlan) -> list[LoadedPlan]:
    """One view of the plan per Alembic project it names (several targets may share one): what
    ``test`` and ``lint`` go through."""
    seen: dict[tuple, LoadedPlan] = {}
    for view in loaded.views().values():
        alembic = view.plan.target.alembic
        seen.setdefault((str(view.resolve(alembic.config)), alembic.section), view)
    return list(seen.values())


def add_project_arguments(parser, verb: str) -> None:
    """The plan, or ``--alembic-config`` instead of one."""
    parser.add_argument("plan", nargs="?", help="the plan file (or use --alembic-config)")
    parser.add_argument("--alembic-config", help=f"{verb} this alembic.ini's project without a plan")
