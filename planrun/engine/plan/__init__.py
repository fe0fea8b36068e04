"""Loading a plan: YAML with locations, the plan's own plugins, then the models.

:func:`load_plan` is the one way in; every problem it finds is a :class:`PlanError` whose
lines read ``file:line:col: path: message``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from ..errors import PlanError
from ..plugins import Plugins, load_plugins
from .diagnostics import problems_from_validation
from .model import PlanBase, PlanItems, build_plan_model, check_item_type
from .source import PlanSource, load_plan_source


@dataclass
class LoadedPlan:
    """A validated plan, where it came from, and the plugins it runs with."""

    plan: PlanBase
    source: PlanSource
    plugins: Plugins

    @property
    def path(self) -> Path:
        return Path(self.source.file)

    def resolve(self, relative: str) -> Path:
        """A path the plan names, taken relative to the plan file's folder."""
        candidate = Path(relative)
        return candidate if candidate.is_absolute() else (self.path.parent / candidate).resolve()


def plan_model(plugins: Plugins) -> type[PlanBase]:
    """The plan's model for ``plugins``: the engine's core with every plugin's contribution."""
    check_types = plugins.merged("planrun_check_types")
    items = PlanItems(check=check_item_type(check_types))
    return build_plan_model(
        check_types,
        plugins.merged("planrun_notifier_types"),
        plugins.merged("planrun_plan_sections", items=items),
        plugins.merged("planrun_rollback_methods"),
    )


class LenientEnviron(dict):
    """The environment, with every unset variable read as empty: for commands that never use
    the plan's target (``planrun test`` runs on a scratch database)."""

    def __init__(self) -> None:
        super().__init__(os.environ)

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> str:
        return self.get(key, "")


def plan_from_data(data: dict, file: str, plugins: Plugins | None = None) -> LoadedPlan:
    """A plan built in code rather than read from a file (``planrun test --alembic-config``)."""
    return _validated(PlanSource(file, data), plugins or load_plugins())


def load_plan(path: str | os.PathLike, *, plugins: Plugins | None = None, environ: dict | None = None) -> LoadedPlan:
    source = load_plan_source(path, environ)
    return _validated(source, plugins or load_plugins())


def _validated(source: PlanSource, plugins: Plugins) -> LoadedPlan:
    _load_plan_plugins(source, plugins)
    model = plan_model(plugins)
    try:
        plan = model.model_validate(source.data)
    except ValidationError as exc:
        raise PlanError(*problems_from_validation(exc, source, model)) from None
    problems = [
        source.problem(tuple(where), message)
        for found in plugins.hook.planrun_validate_plan(plan=plan, plan_file=source.file)
        for where, message in (found or [])
    ]
    if problems:
        raise PlanError(problems)
    return LoadedPlan(plan, source, plugins)


def _load_plan_plugins(source: PlanSource, plugins: Plugins) -> None:
    names = source.data.get("plugins", [])
    if not isinstance(names, list):
        raise PlanError([source.problem(("plugins",), "expected a list of Python module names")])
    problems = []
    for index, name in enumerate(names):
        if not isinstance(name, str):
            problems.append(source.problem(("plugins", index), f"expected a module name, got {name!r}"))
            continue
        try:
            plugins.load_module(name)
        except Exception as exc:  # an import error in user code is a plan problem, not a crash
            problems.append(
                source.problem(("plugins", index), f"cannot load plugin {name!r}: {type(exc).__name__}: {exc}")
            )
    if problems:
        raise PlanError(problems)


__all__ = ["LoadedPlan", "LenientEnviron", "load_plan", "plan_from_data", "plan_model"]
