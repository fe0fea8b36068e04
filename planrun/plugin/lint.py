"""What a lint rule's author imports, from one public module (as :mod:`planrun.plugin` is for
every other plugin): a rule is one :class:`Rule` (id, category, default severity, the reason
and the safe alternative, a bad and a good :class:`Example`, the detector), returned from the
``planrun_lint_rules`` hook; :func:`each_statement` makes a detector from a check of one
upgrade :class:`Statement` (its pglast node, its SQL) given the revision's :class:`State` so
far, which yields a :class:`Hit` for each finding; :func:`lint_example` lints an example in
the plugin's own tests. Names load when first used: a module that imports this one keeps
``planrun --help`` free of pglast.
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "CATEGORIES": "planrun.plugins.lint.rule",
    "Example": "planrun.plugins.lint.rule",
    "Hit": "planrun.plugins.lint.rule",
    "Rule": "planrun.plugins.lint.rule",
    "each_statement": "planrun.plugins.lint.rule",
    "Statement": "planrun.plugins.lint.statements",
    "State": "planrun.plugins.lint.walk",
    "RevisionView": "planrun.plugins.lint.revision",
    "lint_example": "planrun.plugins.lint.examples",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'planrun.plugin.lint' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = list(_LAZY)
