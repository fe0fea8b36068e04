"""``planrun rollback PLAN --to REV``: undo a release that succeeded, as a run of its own.

It is ``apply`` going the other way, so it gets everything apply has: the target's lock, the
plan's backup taken and verified first, the journal and the history, and on failure the run's
own rollback with its proof; here that rollback brings the database forward again to the
release it started from (Alembic's upgrade, or the backup's restore, as the plan's strategy
says). The changing step is Alembic's downgrade to REV. The plan's checks describe the release,
not the state before it: only those marked ``when: rollback`` run in such a run.
"""

from __future__ import annotations

from planrun.plugin import (
    Command,
    ProjectError,
    StepFailed,
    UsageError,
    add_format_argument,
    command_flags,
    confirmation,
    progress_stream,
    run_ended,
)

from ..events import MigrationPlanned, RevisionUndone
from ..facts import Revisions, show

FLAG = "rollback_to"  # the run's option: the revision a release rollback goes back to


def rollback_target(ctx) -> str | None:
    """The revision this run rolls the target back to; None for a run that upgrades."""
    return ctx.options.flags.get(FLAG)


def wanted_target(ctx, project, current: tuple[str, ...]) -> str:
    """The revision the run migrates to: the plan's ``migrate.to``, or rollback's ``--to``,
    which must be the current revision or behind it."""
    to = rollback_target(ctx)
    if to is None:
        return project.resolve_target(ctx.plan.migrate.to, current)
    if to == "base":
        return to
    try:
        revision = project.script.get_revision(to).revision
        project.pending((revision,), current[0] if len(current) == 1 else "heads")
    except Exception as exc:
        shown = show(current)
        why = str(exc) if isinstance(exc, ProjectError) else f"{type(exc).__name__}: {exc}"
        raise ProjectError(
            f"rollback --to {to}: not a revision at or behind the current one ({shown}): {why}"
        ) from None
    return revision


def undone(project, start: tuple[str, ...], target: str) -> list:
    """The revisions a rollback from ``start`` to ``target`` undoes, newest first."""
    pending = project.pending(() if target == "base" else (target,), start[0] if len(start) == 1 else "heads")
    return list(reversed(pending))


def roll_back_release(ctx, project, start: tuple[str, ...], target: str) -> str:
    """The changing step of a release rollback: Alembic's downgrade from ``start`` to ``target``."""
    from .commands import alembic, heads_of
    from .records import forget_undone

    undoing = undone(project, start, target)
    ctx.facts.update(Revisions, start=start, target=target)
    if not undoing:
        return f"already at {target}; nothing to undo"
    ctx.journal.emit(MigrationPlanned(list(start), target, [i.revision for i in undoing], direction="down"))
    ctx.state["migrate.target"] = target
    alembic(ctx, project, "downgrade", lambda: project.downgrade(target))
    now = heads_of(ctx, project)
    if now != (() if target == "base" else (target,)):
        raise StepFailed(f"{ctx.target_name} is at {show(now)} after the downgrade, expected {target}")
    for info in undoing:
        ctx.journal.emit(RevisionUndone(info.revision, info.path, ctx.target_name))
    forget_undone(ctx, project.applied(now))
    count = f"{len(undoing)} revision{'s' if len(undoing) != 1 else ''} undone"
    return f"{show(start)} -> {show(now)} ({count})"


def _arguments(parser) -> None:
    from planrun.plugin import add_plan_argument

    add_plan_argument(parser)
    parser.add_argument("--to", required=True, metavar="REV", help="the revision to go back to (or base)")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    add_format_argument(parser)


def _run(args) -> int:
    from planrun.plugin import RunOptions, api

    if api.validate(args.plan).plan.target_names():
        raise UsageError("planrun rollback: a plan over several targets is rolled back one target at a time")
    confirm = confirmation(args, f"Roll plan {{plan}} on {{target}} back to {args.to}? [y/N] ")
    flags = {**command_flags(args), FLAG: args.to}
    options = RunOptions(state_dir=args.state_dir, flags=flags)
    return run_ended(args, api.apply(args.plan, options=options, confirm=confirm, stream=progress_stream(args)))


COMMANDS = [
    Command(
        "rollback",
        "undo a release that succeeded: downgrade to REV under the same lock, backup, checks and proof as apply",
        _run,
        _arguments,
        runs_steps=True,
    )
]
