"""Loading a plan: YAML with locations, the plan's own plugins, then the models.

:func:`load_plan` is the one way in; every problem it finds is a :class:`PlanError` whose
lines read ``file:line:col: path: message``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from pydantic import BaseModel, ValidationError

from ..errors import PlanError
from ..plugins import PluginError, Plugins, load_plugins
from .diagnostics import problems_from_validation
from .model import PlanBase, PlanItems, build_plan_model, check_item_type, handlers_missing
from .source import PlanSource, load_plan_source


@dataclass
class LoadedPlan:
    """A validated plan, where it came from, and the plugins it runs with."""

    plan: PlanBase
    source: PlanSource
    plugins: Plugins
    target_key: str | None = None  # in a plan over several targets: the target this view is of

    def views(self) -> dict[str | None, LoadedPlan]:
        """One plan per target, in the order targets are locked and migrated (sorted by name):
        each has ``target`` set to that target and the sections the target overrides replaced,
        so that plugins read one target's plan as they read a single-target plan. A plan with
        one target is its own only view, under ``None``."""
        names = self.plan.target_names()
        if not names:
            return {None: self}
        return {name: LoadedPlan(_view(self.plan, name), self.source, self.plugins, name) for name in names}

    @property
    def path(self) -> Path:
        return Path(self.source.file)

    def resolve(self, relative: str) -> Path:
        """A path the plan names, taken relative to the plan file's folder."""
        candidate = Path(relative)
        return candidate if candidate.is_absolute() else (self.path.parent / candidate).resolve()


def _view(plan: PlanBase, name: str) -> PlanBase:
    entry = plan.targets[name]
    target_model = cast("type[BaseModel]", type(entry).__bases__[0])
    target = target_model(**{key: getattr(entry, key) for key in target_model.model_fields})
    overrides = {
        key: getattr(entry, key)
        for key in type(entry).model_fields
        if key not in target_model.model_fields and getattr(entry, key) is not None
    }
    return plan.model_copy(update={"target": target, **overrides})


def _located(name: str | None, plan: PlanBase, where: tuple) -> tuple:
    """A problem found in one target's view, located where the plan file says it."""
    if name is None or not where:
        return where
    if where[0] == "target":
        return ("targets", name, *where[1:])
    entry = plan.targets[name]
    if where[0] in type(entry).model_fields and getattr(entry, where[0], None) is not None:
        return ("targets", name, *where)
    return where


def _same_database_twice(plan: PlanBase, source: PlanSource) -> list:
    """A database named by two targets would wait for its own lock: a plan error."""
    from ..redact import describe_url

    seen: dict[str, str] = {}
    problems = []
    for name in plan.target_names():
        where = describe_url(plan.targets[name].url)
        if where in seen:
            problems.append(
                source.problem(("targets", name, "url"), f"the same database as targets.{seen[where]} ({where})")
            )
        seen.setdefault(where, name)
    return problems


def plan_model(plugins: Plugins) -> type[PlanBase]:
    """The plan's model for ``plugins``: the engine's core with every plugin's contribution."""
    check_types = plugins.registry("planrun_check_types", "check type")
    notifier_types = plugins.registry("planrun_notifier_types", "notifier type")
    missing = handlers_missing(check_types, notifier_types)
    if missing:
        raise PluginError("; ".join(missing))
    plugins.journal_events()  # an event name two plugins declare is refused here, before any run
    items = PlanItems(check=check_item_type(check_types))
    return build_plan_model(
        check_types,
        notifier_types,
        plugins.registry("planrun_plan_sections", "plan section", items=items),
        plugins.registry("planrun_rollback_methods", "rollback method"),
    )


class LenientEnviron(dict):
    """The environment, with every unset variable read as empty: for commands that never use
    the plan's target (``validate``; ``test`` and ``lint`` run on a scratch database or none), so
    that a CI job without the production secrets can run them. ``unset``: the names read so."""

    def __init__(self) -> None:
        super().__init__(os.environ)
        self.unset: list[str] = []

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> str:
        if not dict.__contains__(self, key) and key not in self.unset:
            self.unset.append(key)
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
    loaded = LoadedPlan(plan, source, plugins)
    problems: list = _same_database_twice(plan, source)
    for name, view in loaded.views().items():
        for found in plugins.hook.planrun_validate_plan(plan=view.plan, plan_file=source.file, plugins=plugins):
            for where, message in found or []:
                problem = source.problem(_located(name, plan, tuple(where)), message)
                if problem not in problems:
                    problems.append(problem)
    if problems:
        raise PlanError(problems)
    return loaded


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
