"""Finding and loading plugins.

Plugins come from the ``planrun`` entry-point group (built-ins included: they are registered
there like anyone's) and from the plan's ``plugins:`` list. Each entry point loads on its own:
one that fails to import is reported by name and version, and the rest still load.
Set ``PLANRUN_DISABLE_PLUGIN_AUTOLOAD=1`` to load only planrun's own built-ins from the group,
``PLANRUN_DISABLE_PLUGINS=a,b`` (or ``-p no:a`` on the command line) to leave plugins out by
name, and ``PLANRUN_TRACE_PLUGINS=1`` to print every hook call, its arguments and its answers
on stderr (pluggy's own tracing).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

import pluggy

from . import hookspecs
from .errors import UsageError

if TYPE_CHECKING:
    from .facts import Facts

ENTRY_POINT_GROUP = "planrun"
AUTOLOAD_SWITCH = "PLANRUN_DISABLE_PLUGIN_AUTOLOAD"
DISABLE_SWITCH = "PLANRUN_DISABLE_PLUGINS"
TRACE_SWITCH = "PLANRUN_TRACE_PLUGINS"


def disabled_plugins() -> set[str]:
    """The plugins ``PLANRUN_DISABLE_PLUGINS`` (comma-separated names) leaves out."""
    return {name.strip() for name in os.environ.get(DISABLE_SWITCH, "").split(",") if name.strip()}


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
class PluginRow:
    """One line of ``planrun plugins``."""

    name: str
    origin: str
    hooks: list[str]
    events: list[str]  # the journal events it declares (planrun_journal_events)
    facts: list[str]  # the fact types it publishes (planrun_fact_types)


@dataclass
class Plugins:
    """The loaded plugin manager plus what failed to load."""

    manager: pluggy.PluginManager
    failures: list[PluginLoadFailure] = field(default_factory=list)
    origins: dict[str, str] = field(default_factory=dict)  # plugin name -> "distribution version"
    _plan_facts: dict[int, tuple[Any, Facts]] = field(default_factory=dict, repr=False)  # by plan object

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

    def origin(self, name: str) -> str:
        """Where plugin ``name`` comes from: its distribution and version, or the plan."""
        if name == "planrun":
            return "the engine"
        return self.origins.get(name, "the plan's plugins: list")

    def registry(self, hook_name: str, what: str, **kwargs: Any) -> dict[str, Any]:
        """One keyed contribution per key (check types, notifier types, plan sections, rollback
        methods): the dicts each plugin answered, merged in the order plugins were loaded. A key
        two plugins register is an error naming both and their versions: one would otherwise
        shadow the other without a word."""
        return self._merged(self.by_plugin(hook_name, **kwargs), what)

    def _merged(self, contributions: list[tuple[str, Any]], what: str) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        owners: dict[str, str] = {}
        for name, contribution in contributions:
            for key, value in (contribution or {}).items():
                if key in owners:
                    raise PluginError(
                        f"{what} {key!r} is registered by plugin {owners[key]} ({self.origin(owners[key])}) and by "
                        f"plugin {name} ({self.origin(name)}): rename one, or leave one out "
                        f"({DISABLE_SWITCH}={name})"
                    )
                merged[key], owners[key] = value, name
        return merged

    def plan_facts(self, plan: Any) -> Facts:
        """What each plugin's section of ``plan`` says that the others read (see the hook
        ``planrun_plan_facts``), asked once per plan object; a fact type two plugins state is an
        error naming both, as any keyed contribution's."""
        from .facts import Facts

        key = id(plan)
        cached = self._plan_facts.get(key)
        if cached is not None and cached[0] is plan:
            return cached[1]
        stated = [
            (name, {type(fact).__name__: fact for fact in facts or []})
            for name, facts in self.by_plugin("planrun_plan_facts", plan=plan)
        ]
        facts = Facts()
        for fact in self._merged(stated, "plan fact").values():
            facts.publish(fact)
        self._plan_facts[key] = (plan, facts)
        return facts

    def journal_events(self) -> dict[str, type]:
        """Every declared journal event type by its record name; a name two plugins declare is
        an error naming both."""
        from .run_events import ENGINE_EVENTS

        declared = [("planrun", {kind.name: kind for kind in ENGINE_EVENTS})]
        declared += [
            (name, {kind.name: kind for kind in kinds or []})
            for name, kinds in self.by_plugin("planrun_journal_events")
        ]
        return self._merged(declared, "journal event")

    def listing(self) -> list[PluginRow]:
        """Every registered plugin: its name, where it comes from, the hooks it implements, and
        the journal events and fact types it declares (what others may read of it)."""
        events = {name: [kind.name for kind in kinds or []] for name, kinds in self.by_plugin("planrun_journal_events")}
        facts = {name: [kind.__name__ for kind in kinds or []] for name, kinds in self.by_plugin("planrun_fact_types")}
        rows = []
        for name, plugin in self.manager.list_name_plugin():
            hooks = sorted(caller.name for caller in self.manager.get_hookcallers(plugin) or [])
            hooks = [hook for hook in hooks if hook != "planrun_addhooks"]
            rows.append(PluginRow(name, self.origin(name), hooks, events.get(name, []), facts.get(name, [])))
        return rows

    def by_plugin(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Each plugin's answer to a collecting hook with its name, in the order plugins were
        loaded (for messages that must say which plugin contributed what)."""
        return [(name, call()) for name, call in self.each(hook_name, **kwargs)]

    def each(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Per plugin implementing ``hook_name``, in the order plugins were loaded: its name and
        a function calling its implementation alone with ``kwargs``, through pluggy (hook
        wrappers and tracing see the call), returning its answer (None when it gave none)."""
        caller = getattr(self.hook, hook_name)
        impls = [impl for impl in caller.get_hookimpls() if not (impl.hookwrapper or impl.wrapper)]
        everyone = [impl.plugin for impl in impls]

        def alone(plugin: Any) -> Any:
            others = [other for other in everyone if other is not plugin]
            answers = self.manager.subset_hook_caller(hook_name, remove_plugins=others)(**kwargs)
            return answers[0] if isinstance(answers, list) and answers else answers or None

        return [(impl.plugin_name, lambda plugin=impl.plugin: alone(plugin)) for impl in impls]


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


_THIS_COMMAND: ContextVar[Plugins | None] = ContextVar("planrun_command_plugins", default=None)


@contextlib.contextmanager
def loaded_once(plugins: Plugins) -> Iterator[Plugins]:
    """Within one command, every :func:`load_plugins` answers ``plugins``: the command line
    loaded them to build its parser, and the verb's plan, its runs and its reports use the
    same ones instead of loading every plugin again (a second load cost as much as the rest of
    a ``validate``). The next command in the same process loads afresh: a plan's ``plugins:``
    registered for one command are not another's."""
    token = _THIS_COMMAND.set(plugins)
    try:
        yield plugins
    finally:
        _THIS_COMMAND.reset(token)


def load_plugins(autoload: bool | None = None) -> Plugins:
    """The plugins of this command (see :func:`loaded_once`), or a fresh load of every entry
    point of the group (``autoload`` False: only planrun's own)."""
    current = _THIS_COMMAND.get()
    if current is not None and autoload is None:
        return current
    manager = pluggy.PluginManager("planrun")
    manager.add_hookspecs(hookspecs)
    manager.hook.planrun_addhooks.call_historic(kwargs={"pluginmanager": manager})
    plugins = Plugins(manager)
    if os.environ.get(TRACE_SWITCH, "") not in ("", "0", "false", "no"):
        manager.trace.root.setwriter(sys.stderr.write)
        manager.enable_tracing()
    if autoload is None:
        autoload = os.environ.get(AUTOLOAD_SWITCH, "") in ("", "0", "false", "no")
    disabled = disabled_plugins()
    for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
        dist_name, origin = _origin(getattr(entry_point, "dist", None))
        if (not autoload and dist_name != "planrun") or entry_point.name in disabled:
            continue
        if manager.has_plugin(entry_point.name):
            continue
        try:
            plugins.register(entry_point.load(), entry_point.name)
            plugins.origins[entry_point.name] = origin
        except Exception as exc:  # one broken plugin must not sink the rest
            plugins.failures.append(PluginLoadFailure(entry_point.name, origin, f"{type(exc).__name__}: {exc}"))
    return plugins
