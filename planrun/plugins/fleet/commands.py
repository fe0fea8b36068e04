"""The fleet's own commands: ``planrun fleet-apply PLAN`` (one worker of the fleet: run it on as
many machines as you like), ``planrun fleet-plan PLAN`` (the waves, changing nothing) and
``planrun fleet-status PLAN`` (where the fleet stands). Each is a plain function first."""

from __future__ import annotations

import sys
from typing import TextIO

from planrun.plugin import (
    Command,
    RunContext,
    RunOptions,
    UsageError,
    add_plan_argument,
    add_yes_argument,
    command_flags,
    confirmation,
)


def _fleet_context(
    plan_path: str, options: RunOptions, stream: TextIO | None, journaled: bool, engine_verb: str
) -> RunContext:
    from planrun.plugin import api, load_plan

    loaded = load_plan(plan_path)
    if getattr(loaded.plan, "fleet", None) is None:
        raise UsageError(f"plan {loaded.plan.name!r} has no fleet: section: `planrun {engine_verb}` runs it")
    return api.open_context(loaded, options, stream=stream, journaled=journaled)


def fleet_apply(plan_path: str, *, options: RunOptions | None = None, confirm=None, stream: TextIO | None = None):
    """Join the fleet as one worker and run targets until the fleet has none left; the
    :class:`~planrun.engine.outcome.RunResult` of the whole fleet as this worker saw it."""
    from .worker import Worker

    options = options or RunOptions()
    options.command = "fleet-apply"
    ctx = _fleet_context(plan_path, options, stream, journaled=True, engine_verb="apply")
    if confirm is not None and not confirm(ctx):
        raise UsageError("cancelled before anything ran")
    return Worker(ctx).run()


def fleet_plan(plan_path: str, *, stream: TextIO | None = None) -> list[tuple[str, str]]:
    """What ``fleet-apply`` would do: the targets in their waves, what each target's run does,
    and where the fleet's state is kept. Reads the target list only."""
    from planrun.plugin import describe_url, plan_steps

    from .targets import listed, waves

    ctx = _fleet_context(plan_path, RunOptions(command="fleet-plan"), stream, journaled=False, engine_verb="plan")
    config = ctx.plan.fleet
    urls = listed(ctx)
    plan_waves = waves(list(urls), config.canary, config.wave_size(len(urls)))
    by_wave: dict[int, list[str]] = {}
    for name, wave in plan_waves.items():
        by_wave.setdefault(wave, []).append(f"{name} ({describe_url(urls[name])})")
    lines = [
        f"{'canary' if wave == 0 else f'wave {wave}'}: {', '.join(names)}" for wave, names in sorted(by_wave.items())
    ]
    steps = ", ".join(step.name for step in plan_steps(ctx.loaded))
    sections = [
        ("fleet targets", f"{len(urls)} targets, {config.concurrency} at once per worker\n" + "\n".join(lines)),
        (
            "each target",
            f"a full planrun run: {steps}; a failed target is rolled back and proven; new targets stop "
            f"after {config.max_failures} failure(s) or a failed canary",
        ),
        ("fleet state", f"control database {describe_url(config.control)}, schema planrun_fleet"),
    ]
    ctx.reporter.heading(f"fleet plan {ctx.plan.name} (dry run: nothing is changed)")
    for title, body in sections:
        ctx.reporter.section(title, body)
    return sections


def _apply(args) -> int:
    confirm = confirmation(args, "Run fleet plan {plan} as one of its workers? [y/N] ")
    options = RunOptions(state_dir=args.state_dir, flags=command_flags(args))
    return fleet_apply(args.plan, options=options, confirm=confirm).exit_code


def _plan(args) -> int:
    fleet_plan(args.plan)
    return 0


def _status(args) -> int:
    from .status import fleet_status

    lines, complete = fleet_status(args.plan, bar=sys.stdout.isatty())
    print("\n".join(lines))
    return 0 if complete else 1


def _apply_arguments(parser) -> None:
    add_plan_argument(parser)
    add_yes_argument(parser)


COMMANDS = [
    Command(
        "fleet-apply",
        "join a fleet run as one worker: claim targets wave by wave and run the plan on each",
        _apply,
        _apply_arguments,
    ),
    Command(
        "fleet-plan",
        "what fleet-apply would do: the targets in their waves (changes nothing)",
        _plan,
        lambda parser: add_plan_argument(parser, state_dir=False),
    ),
    Command(
        "fleet-status",
        "where a fleet run stands: targets by state, rate, ETA, failures",
        _status,
        lambda parser: add_plan_argument(parser, state_dir=False),
    ),
]
