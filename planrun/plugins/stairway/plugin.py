"""Hooks of ``planrun test``: the plan's ``test:`` section and the ``test`` command; the
stairway itself is imported only when a test runs (it needs Alembic and SQLAlchemy; validate
and --help do not)."""

from __future__ import annotations

from planrun.plugin import hookimpl

from ..facts import ScratchDatabase


@hookimpl
def planrun_plan_sections():
    from .config import StairwayConfig  # with pydantic: loaded when a plan is read, not for --help

    return {"test": StairwayConfig}


@hookimpl
def planrun_plan_facts(plan):
    test = getattr(plan, "test", None)
    if test is None:
        return [ScratchDatabase()]
    return [ScratchDatabase(tuple(test.url_env), "url_env" in test.model_fields_set, test.prepare)]


@hookimpl
def planrun_commands():
    from .commands import COMMANDS

    return COMMANDS
