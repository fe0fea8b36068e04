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

from typing import TYPE_CHECKING, Any

from ..engine.commands import (
    Command,
    add_plan_argument,
    add_yes_argument,
    command_flags,
    confirmation,
    duration_argument,
)
from ..engine.context import RunContext, RunOptions
from ..engine.errors import PlanError, PlanrunError, StepFailed, Unreachable, UsageError, describe_error
from ..engine.facts import Fact
from ..engine.hookspecs import hookimpl
from ..engine.journal_events import JournalEvent
from ..engine.steps import CheckResult, Finding, Step

if TYPE_CHECKING:  # for type checkers; loaded on first use (below): they bring pydantic and the plan model
    from ..engine.plan.model import CheckConfig, NotifierConfig, PlanItems, PlanSection, Section  # noqa: F401
    from ..engine.plan.rollback_section import RollbackMethod  # noqa: F401
    from ..engine.plan.types import Duration  # noqa: F401

# Read-only SQL for checks, and the plan-and-run helpers for commands: imported when first used,
# so a plugin that imports this module keeps ``planrun --help`` free of database libraries.
_LAZY = {
    # the plan's building blocks (pydantic models and types)
    "CheckConfig": "planrun.engine.plan.model",
    "NotifierConfig": "planrun.engine.plan.model",
    "PlanItems": "planrun.engine.plan.model",
    "PlanSection": "planrun.engine.plan.model",
    "Section": "planrun.engine.plan.model",
    "RollbackMethod": "planrun.engine.plan.rollback_section",
    "Duration": "planrun.engine.plan.types",
    # what the built-in plugins use of the engine, beside the names above: they take the same
    # road as a third party's (an import-linter contract), each name loaded when first imported
    "EXIT_FAILED": "planrun.engine.errors",
    "EXIT_OK": "planrun.engine.errors",
    "ProjectError": "planrun.engine.errors",
    "TargetBusy": "planrun.engine.errors",
    "KeptOnPurpose": "planrun.engine.facts",
    "RollbackOutcome": "planrun.engine.facts",
    "Written": "planrun.engine.facts",
    "LenientEnviron": "planrun.engine.plan",
    "LoadedPlan": "planrun.engine.plan",
    "plan_from_data": "planrun.engine.plan",
    "parse_duration": "planrun.engine.plan.types",
    "read_input_text": "planrun.engine.plan.source",
    "did_you_mean": "planrun.engine.plan.diagnostics",
    "RunResult": "planrun.engine.runner",
    "plan_steps": "planrun.engine.runner",
    "Snapshot": "planrun.engine.snapshot",
    "StatusSection": "planrun.engine.steps",
    "DeadRun": "planrun.engine.steps",
    "active": "planrun.engine.control",
    "add_format_argument": "planrun.engine.commands",
    "progress_stream": "planrun.engine.commands",
    "run_ended": "planrun.engine.commands",
    "wants_json": "planrun.engine.commands",
    "describe_url": "planrun.engine.redact",
    "url_password": "planrun.engine.redact",
    "load_plugins": "planrun.engine.plugins",
    "notify": "planrun.engine.notify",
    "read_journals": "planrun.engine.journal",
    "read_run": "planrun.engine.journal",
    "run_summary": "planrun.engine.journal",
    "api": "planrun.engine.api",  # the verbs, as a module (api.validate, api.apply ...)
    "scalar": "planrun.plugins.checks.readonly",
    "quoted": "planrun.plugins.checks.readonly",
    "readonly_connection": "planrun.plugins.checks.readonly",
    "connect": "planrun.plugins.pg.connect",
    # the built-in plugins' journal events, to subscribe to (ctx.journal.subscribe)
    "MigrationPlanned": "planrun.plugins.events",
    "RevisionApplied": "planrun.plugins.events",
    "RevisionUndone": "planrun.plugins.events",
    "LockBusy": "planrun.plugins.events",
    # the engine's own journal events (a run's and each step's start and end ...)
    "RunStarted": "planrun.engine.run_events",
    "RunEnded": "planrun.engine.run_events",
    "StepStarted": "planrun.engine.run_events",
    "StepEnded": "planrun.engine.run_events",
    "RollbackEnded": "planrun.engine.run_events",
    "load_plan": "planrun.engine.plan",
    "open_context": "planrun.engine.api",
    "holding_steps": "planrun.engine.runner",
    "run": "planrun.engine.runner",
    # one way to try again (tenacity), each retry told by the caller
    "Retry": "planrun.engine.retry",
    "doubling": "planrun.engine.retry",
    "retrying": "planrun.engine.retry",
}


_MODULES = {"api"}  # names in _LAZY that are modules themselves


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'planrun.plugin' has no attribute {name!r}")
    import importlib

    loaded = importlib.import_module(module)
    return loaded if name in _MODULES else getattr(loaded, name)


__all__ = [
    "CheckResult",
    "Command",
    "Fact",
    "Finding",
    "JournalEvent",
    "PlanError",
    "PlanrunError",
    "RunContext",
    "RunOptions",
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
