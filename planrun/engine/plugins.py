"""Finding and loading plugins.

Plugins come from the ``planrun`` entry-point group (built-ins included: they are registered
there like anyone's) and from the plan's ``plugins:`` list. Each entry point loads on its own:
one that fails to import is reported by name and version, and the rest still load.
Set ``PLANRUN_DISABLE_PLUGIN_AUTOLOAD=1`` to load only planrun's own built-ins from the group.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import pluggy

from . import hookspecs
from .errors import UsageError

ENTRY_POINT_GROUP = "planrun"
AUTOLOAD_SWITCH = "PLANRUN_DISABLE_PLUGIN_AUTOLOAD"


class PluginError(UsageError):
    """A plugin that cannot be used as it is (a misspelled hook implementation, a check type
    without its ``run``): nothing ran (exit 2)."""


@dataclass
class PluginLoadFailure:
    name: str
    origin: str
    error: str

    def __str__(self) -> str:
        return f"plugin {self.name} ({self.origin}) failed to load: {self.error}"


@dataclass
class Plugins:
    """The loaded plugin manager plus what failed to load."""

    manager: pluggy.PluginManager
    failures: list[PluginLoadFailure] = field(default_factory=list)
    origins: dict[str, str] = field(default_factory=dict)  # plugin name -> "distribution version"

    @property
    def hook(self) -> Any:
        return self.manager.hook

    def load_module(self, module_name: str) -> None:
        """Import and register a plan's ``plugins:`` module; errors propagate to the caller,
        who knows where in the plan the name stands."""
        if self.manager.get_plugin(module_name) is not None:
            return
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        module = importlib.import_module(module_name)
        self.register(module, module_name)

    def register(self, plugin: Any, name: str) -> None:
        """Register ``plugin``; a hook implementation that matches no hook (``planrun_preflght``)
        is an error naming the plugin, and the plugin is left out."""
        self.manager.register(plugin, name=name)
        try:
            self.manager.check_pending()
        except pluggy.PluginValidationError as exc:
            self.manager.unregister(name=name)
            raise PluginError(f"plugin {name}: {exc}") from None

    def merged(self, hook_name: str, **kwargs: Any) -> dict[str, Any]:
        """Merge the dicts a collecting hook returned, in the order plugins were loaded; a
        later plugin cannot shadow an earlier name silently."""
        merged: dict[str, Any] = {}
        for contribution in reversed(getattr(self.hook, hook_name)(**kwargs) or []):
            for key, value in (contribution or {}).items():
                merged.setdefault(key, value)
        return merged

    def listing(self) -> list[tuple[str, str, list[str]]]:
        """Every registered plugin: its name, where it comes from and the hooks it implements."""
        rows = []
        for name, plugin in self.manager.list_name_plugin():
            hooks = sorted(caller.name for caller in self.manager.get_hookcallers(plugin) or [])
            hooks = [hook for hook in hooks if hook != "planrun_addhooks"]
            rows.append((name, self.origins.get(name, "the plan's plugins: list"), hooks))
        return rows

    def by_plugin(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Each plugin's answer to a collecting hook with its name, in the order plugins were
        loaded (for messages that must say which plugin contributed what)."""
        answers = []
        for impl in getattr(self.hook, hook_name).get_hookimpls():
            answers.append((impl.plugin_name, impl.function(**{name: kwargs[name] for name in impl.argnames})))
        return answers


_ORIGINS: dict[str, tuple[str | None, str]] = {}


def _origin(dist: Any) -> tuple[str | None, str]:
    """A distribution's name and "name version", its metadata read once per process (each
    ``dist.name`` parses the file again: two thirds of a ``validate`` once went there)."""
    if dist is None:
        return None, "unknown distribution"
    key = str(getattr(dist, "_path", id(dist)))
    if key not in _ORIGINS:
        metadata = dist.metadata
        _ORIGINS[key] = (metadata["Name"], f"{metadata['Name']} {metadata['Version']}")
    return _ORIGINS[key]


def load_plugins(autoload: bool | None = None) -> Plugins:
    manager = pluggy.PluginManager("planrun")
    manager.add_hookspecs(hookspecs)
    manager.hook.planrun_addhooks.call_historic(kwargs={"pluginmanager": manager})
    plugins = Plugins(manager)
    if autoload is None:
        autoload = os.environ.get(AUTOLOAD_SWITCH, "") in ("", "0", "false", "no")
    for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
        dist_name, origin = _origin(getattr(entry_point, "dist", None))
        if not autoload and dist_name != "planrun":
            continue
        if manager.has_plugin(entry_point.name):
            continue
        try:
            plugins.register(entry_point.load(), entry_point.name)
            plugins.origins[entry_point.name] = origin
        except Exception as exc:  # one broken plugin must not sink the rest
            plugins.failures.append(PluginLoadFailure(entry_point.name, origin, f"{type(exc).__name__}: {exc}"))
    return plugins
