"""The backup plugin's commands: ``planrun backups`` (list), ``planrun verify-backup`` and
``planrun restore`` (by hand, under the run's lock, journaled like a run). Each is a plain
function first (``backups()``, ``verify_backup()``, ``restore()``) that scripts can call."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from planrun.plugin import (
    Command,
    RunContext,
    RunOptions,
    Step,
    UsageError,
    add_plan_argument,
    add_yes_argument,
    command_flags,
    confirmation,
)

if TYPE_CHECKING:
    from planrun.plugin import RunResult


def _context(
    plan_path: str,
    options: RunOptions | None,
    command: str,
    environ: dict | None,
    stream: TextIO | None = None,
    journaled: bool = False,
) -> RunContext:
    options = options or RunOptions()
    options.command = command
    from planrun.plugin import load_plan, open_context

    ctx = open_context(load_plan(plan_path, environ=environ), options, stream=stream, journaled=journaled)
    if getattr(ctx.plan, "backup", None) is None:
        raise UsageError(f"plan {ctx.plan.name!r} has no backup: section, so planrun keeps no backups for it")
    return ctx


def backups(plan_path: str, *, options: RunOptions | None = None, environ: dict | None = None) -> list:
    """The plan's backups, newest first (their manifests)."""
    from .plugin import backup_root
    from .retention import list_backups

    ctx = _context(plan_path, options, "backups", environ)
    return [manifest for _, manifest in list_backups(backup_root(ctx), ctx.plan.name)]


def verify_backup(
    plan_path: str,
    backup_id: str,
    depth: str | None = None,
    *,
    options: RunOptions | None = None,
    environ: dict | None = None,
) -> str:
    """Verify one stored backup (to ``depth``, or the plan's ``backup.verify``); raise when it fails."""
    from .plugin import stored_manifest
    from .verify import verify

    ctx = _context(plan_path, options, "verify-backup", environ)
    where, manifest = stored_manifest(ctx, backup_id)
    return verify(where, manifest, depth or ctx.plan.backup.verify, ctx.target_url, ctx.plan.backup.jobs)


def restore(
    plan_path: str,
    backup_id: str,
    *,
    options: RunOptions | None = None,
    confirm: Callable[[RunContext], bool] | None = None,
    stream: TextIO | None = None,
    environ: dict | None = None,
) -> RunResult:
    """Replace the target's content with a backup, under the run's lock, journaled like a run."""
    ctx = _context(plan_path, options, "restore", environ, stream, journaled=True)
    if confirm is not None and not confirm(ctx):
        raise UsageError("cancelled before anything was restored")

    def restore_step(ctx: RunContext) -> str:
        from .plugin import stored_manifest
        from .restore import restore_target

        where, manifest = stored_manifest(ctx, backup_id)
        return restore_target(ctx.target_url, where, manifest, ctx.plan.backup.jobs)

    from planrun.plugin import holding_steps, run

    return run(ctx, [*holding_steps(ctx), Step(f"restore {backup_id}", "verify", restore_step)], preflight=False)


def _backups_command(args) -> int:
    found = backups(args.plan, options=RunOptions(state_dir=args.state_dir))
    if not found:
        print("no backups")
    for manifest in found:
        m = manifest.model_dump()
        rows = sum(m["row_counts"].values())
        print(
            f"{m['backup_id']}  {m['created_at']}  revision {m['revision'] or '-':<12} {m['size']:>12} bytes  "
            f"{m['format']}/{m['compression']}  {len(m['row_counts'])} tables, {rows} rows  from {m['database']}"
        )
    return 0


def _verify_command(args) -> int:
    print(verify_backup(args.plan, args.backup, args.depth, options=RunOptions(state_dir=args.state_dir)))
    return 0


def _restore_command(args) -> int:
    confirm = confirmation(args, f"Replace the content of {{target}} with backup {args.backup}? [y/N] ")
    options = RunOptions(state_dir=args.state_dir, flags=command_flags(args))
    return restore(args.plan, args.backup, options=options, confirm=confirm).exit_code


def _backup_id(parser) -> None:
    parser.add_argument("--backup", required=True, help="the backup id (see planrun backups)")


def _restore_arguments(parser) -> None:
    add_plan_argument(parser)
    _backup_id(parser)
    add_yes_argument(parser)


def _verify_arguments(parser) -> None:
    add_plan_argument(parser)
    _backup_id(parser)
    parser.add_argument("--depth", choices=["checksum", "read", "restore"], help="default: the plan's backup.verify")


COMMANDS = [
    Command("backups", "list the plan's backups with their manifests", _backups_command, add_plan_argument),
    Command(
        "restore",
        "replace the target's content with a backup (asks first)",
        _restore_command,
        _restore_arguments,
        runs_steps=True,
    ),
    Command("verify-backup", "verify a stored backup again", _verify_command, _verify_arguments),
]
