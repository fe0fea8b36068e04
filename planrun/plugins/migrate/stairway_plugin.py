"""Hooks of ``planrun test``: the plan's ``test:`` section, and the stairway itself, imported
only when a test runs (it needs Alembic and SQLAlchemy; validate and --help do not)."""
from __future__ import annotations

from planrun.engine.hookspecs import hookimpl

from .test_config import TestConfig


@hookimpl
def planrun_plan_sections():
    return {"test": TestConfig}


@hookimpl
def planrun_test(ctx, options):
    from .stairway import run_tests

    return run_tests(ctx, options)
