"""Hooks of the fleet plugin: the ``fleet:`` section, ``apply`` of a fleet plan (one worker of
the fleet: see :mod:`.worker`), and ``planrun fleet-status PLAN``."""

from __future__ import annotations

from planrun.engine.hookspecs import hookimpl

from .config import FleetConfig


@hookimpl
def planrun_plan_sections():
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
def planrun_run_plan(ctx):
    if getattr(ctx.plan, "fleet", None) is None or ctx.options.command != "apply":
        return None
    from .worker import Worker

    return Worker(ctx).run()


@hookimpl
def planrun_describe_plan(ctx):
    """``planrun plan`` of a fleet plan: its targets in their waves, what each target's run does,
    and where the fleet's state is kept. Reads the target list only."""
    if getattr(ctx.plan, "fleet", None) is None:
        return None
    from planrun.engine.redact import describe_url
    from planrun.engine.runner import plan_steps

    from .targets import listed, waves

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
    return [
        ("fleet targets", f"{len(urls)} targets, {config.concurrency} at once per worker\n" + "\n".join(lines)),
        (
            "each target",
            f"a full planrun run: {steps}; a failed target is rolled back and proven; new targets stop "
            f"after {config.max_failures} failure(s) or a failed canary",
        ),
        ("fleet state", f"control database {describe_url(config.control)}, schema planrun_fleet"),
    ]


@hookimpl
def planrun_plan_status(ctx):
    """``planrun status`` of a fleet plan: the fleet's, from its control database."""
    if getattr(ctx.plan, "fleet", None) is None:
        return None
    from .status import fleet_status

    lines, _ = fleet_status(str(ctx.loaded.path))
    failed = [line.removeprefix("FAILED: ") for line in lines if line.startswith("FAILED: ")]
    return [
        {
            "title": "fleet",
            "lines": [line for line in lines if not line.startswith("FAILED: ")],
            "problems": [f"target {line}" for line in failed],
        }
    ]


@hookimpl
def planrun_commands():
    from .status import COMMANDS

    return COMMANDS
