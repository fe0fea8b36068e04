"""The hook through which plugins add lint rules (the lint plugin adds this specification with
``planrun_addhooks``): a contract between the lint plugin and rule plugins that the engine
knows nothing about."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .rule import Rule

hookspec = pluggy.HookspecMarker("planrun")


@hookspec
def planrun_lint_rules() -> list[Rule]:
    """Called once per lint run (and by ``planrun lint --rules``). Return the
    :class:`planrun.plugins.lint.rule.Rule` objects this plugin adds: each with a unique id, a
    category (destructive, locking, breaking, rollback or hygiene), a default severity, the
    reason and the alternative, a bad and a good :class:`~planrun.plugins.lint.rule.Example`
    and ``detect(revision)``, which yields :class:`~planrun.plugins.lint.rule.Hit` objects for
    one :class:`~planrun.plugins.lint.revision.RevisionView`. The bad example must make the
    rule report and the good one must not (a plugin's test can use
    :func:`planrun.plugins.lint.examples.lint_example`)."""


def add_to(pluginmanager: pluggy.PluginManager) -> None:
    """Add this specification once."""
    import sys

    caller = getattr(pluginmanager.hook, "planrun_lint_rules", None)
    if caller is None or caller.spec is None:
        pluginmanager.add_hookspecs(sys.modules[__name__])
