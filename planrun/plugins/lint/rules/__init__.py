"""planrun's own lint rules, one definition each, grouped by what they protect. This module is
the plugin that contributes them (entry point ``lint-rules``), by the same hook a third-party
plugin uses to add a rule of its own. The families import pglast, so they load only when a
command asks for the rules (``planrun --help`` stays fast)."""

from __future__ import annotations

from planrun.plugin import hookimpl

FAMILIES = (
    "destructive",
    "locking_indexes",
    "locking_columns",
    "locking_tables",
    "lock_span",
    "breaking",
    "rollback",
    "hygiene",
)


@hookimpl
def planrun_lint_rules():
    import importlib

    return [rule for family in FAMILIES for rule in importlib.import_module(f"{__name__}.{family}").RULES]
