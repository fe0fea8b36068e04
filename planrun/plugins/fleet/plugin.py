"""Hooks of the fleet plugin: the ``fleet:`` section and the fleet's own commands
(``fleet-apply``: one worker of the fleet, see :mod:`.worker`; ``fleet-plan``; ``fleet-status``).
The engine's verbs refuse a fleet plan and name the fleet's."""

from __future__ import annotations

from planrun.plugin import hookimpl

from .events import EVENTS


@hookimpl
def planrun_journal_events():
    return EVENTS


@hookimpl
def planrun_plan_sections():
    from .config import FleetConfig  # with pydantic: loaded when a plan is read, not for --help

    return {"fleet": FleetConfig}


@hookimpl
def planrun_validate_plan(plan):
    config = getattr(plan, "fleet", None)
    if config is None:
        return None
    problems = []
    if plan.target_names():
        problems.append((("fleet",), "a fleet plan has one target: (its url a template with {name}), not targets:"))
    if (config.targets.file is None) == (config.targets.query is None):
        problems.append((("fleet", "targets"), "expected exactly one of file: or query:"))
    elif config.targets.query is not None and not config.targets.url:
        problems.append((("fleet", "targets", "url"), "a query needs the catalog database's url"))
    return problems


@hookimpl
def planrun_refuse(plan, command):
    """A fleet plan's ``target.url`` is a template, not a database: the engine's verbs must not
    run it; the fleet's own do."""
    if getattr(plan, "fleet", None) is None:
        return None
    verb = {"plan": "fleet-plan", "status": "fleet-status"}.get(command, "fleet-apply")
    return (
        f"plan {plan.name!r} is a fleet plan (its target.url is a template for each of its targets), so "
        f"`planrun {command}` does not run it: `planrun {verb} PLAN` does"
    )


@hookimpl
def planrun_commands():
    from .commands import COMMANDS

    return COMMANDS
