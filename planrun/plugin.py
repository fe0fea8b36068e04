"""planrun's public plugin API: everything a plugin imports, from one module.

A plugin is a module with functions named like the hooks in :mod:`planrun.engine.hookspecs`,
marked with :data:`hookimpl`, registered through the ``planrun`` entry-point group (or a plan's
``plugins:`` list). With what is here it can contribute plan sections (:class:`PlanSection`),
check and notifier types (:class:`CheckConfig`, :class:`NotifierConfig`, each with its handler),
rollback methods (:class:`RollbackMethod`), steps (:class:`Step`), typed run facts
(:class:`Fact`) and commands (:class:`Command`), and run read-only SQL the way the built-in
checks do (:func:`scalar`, :func:`quoted`, :func:`readonly_connection`). Nothing here changes
without a note in the changelog; the modules behind it may.
"""

from __future__ import annotations

from typing import Any

from .engine.commands import (
    Command,
    add_plan_argument,
    add_yes_argument,
    command_flags,
    confirmation,
    duration_argument,
)
from .engine.context import RunContext, RunOptions
from .engine.errors import PlanError, PlanrunError, StepFailed, Unreachable, UsageError, describe_error
from .engine.facts import Fact
from .engine.hookspecs import hookimpl
from .engine.journal_events import JournalEvent
from .engine.plan.model import CheckConfig, NotifierConfig, PlanItems, PlanSection, Section
from .engine.plan.rollback_section import RollbackMethod
from .engine.plan.types import Duration
from .engine.steps import CheckResult, Finding, Step

# Read-only SQL for checks, and the plan-and-run helpers for commands: imported when first used,
# so a plugin that imports this module keeps ``planrun --help`` free of database libraries.
_LAZY = {
    "scalar": "planrun.plugins.checks.readonly",
    "quoted": "planrun.plugins.checks.readonly",
    "readonly_connection": "planrun.plugins.checks.readonly",
    "connect": "planrun.plugins.pg.connect",
    # the built-in plugins' journal events, to subscribe to (ctx.journal.subscribe)
    "MigrationPlanned": "planrun.plugins.events",
    "RevisionApplied": "planrun.plugins.events",
    "RevisionUndone": "planrun.plugins.events",
    "load_plan": "planrun.engine.plan",
    "open_context": "planrun.engine.api",
    "holding_steps": "planrun.engine.runner",
    "run": "planrun.engine.runner",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'planrun.plugin' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "CheckConfig",
    "CheckResult",
    "Command",
    "Duration",
    "Fact",
    "Finding",
    "JournalEvent",
    "NotifierConfig",
    "PlanError",
    "PlanItems",
    "PlanSection",
    "PlanrunError",
    "RollbackMethod",
    "RunContext",
    "RunOptions",
    "Section",
    "Step",
    "StepFailed",
    "Unreachable",
    "UsageError",
    "add_plan_argument",
    "add_yes_argument",
    "command_flags",
    "confirmation",
    "describe_error",
    "duration_argument",
    "hookimpl",
    *_LAZY,
]
