"""``planrun repair PLAN REV --reason "..."``: accept that an applied revision's file changed.

An applied revision whose file changed since is refused by every later apply ("the migration
history must not be rewritten"): what ran in production is no longer what the repository says.
Often the change is harmless (``ruff format migrations/``, a comment); then a person says so, once,
with a reason, and the record takes the file as it is now. Who, when and why are kept beside it
(the history store's ``repairs`` table, and the journal), as Flyway's ``repair`` and Atlas's
``migrate hash`` do. Only a file whose record differs can be repaired, and only with a reason.
"""

from __future__ import annotations

import getpass
import os

from planrun.plugin import Command, RunOptions, UsageError, add_plan_argument

from ..events import RevisionApplied
from .events import RevisionRepaired


def repair(plan_path: str, revision: str, reason: str, *, options: RunOptions | None = None) -> str:
    """Record ``revision``'s file as it is now (see the module); returns what was done."""
    from .commands import heads_of, project_of
    from .records import checked_files

    if not reason.strip():
        raise UsageError("planrun repair: --reason must say why the changed file is accepted")
    options = options or RunOptions()
    options.command = "repair"
    from planrun.plugin import load_plan, open_context

    ctx = open_context(load_plan(plan_path), options, journaled=True)
    project = project_of(ctx)
    applied = project.applied(heads_of(ctx, project))
    info = next((i for i in applied if i.revision == revision), None)
    if info is None:
        raise UsageError(
            f"planrun repair: revision {revision} is not applied on {ctx.target_name} (applied: "
            f"{', '.join(i.revision for i in applied) or 'none'}); only an applied revision's record can be repaired"
        )
    _, _, recorded = checked_files(ctx, project, applied)
    old = (recorded.get(revision) or {}).get("sha256")
    if old is None:
        raise UsageError(f"planrun repair: revision {revision} has no record yet (the next apply adopts it as it is)")
    if old == info.sha256:
        raise UsageError(
            f"planrun repair: revision {revision}'s file is as recorded (sha256 {old[:12]}): nothing to repair"
        )
    by = os.environ.get("PLANRUN_ACTOR") or getpass.getuser()
    kept = ctx.hook.planrun_record_repair(
        ctx=ctx, revision=revision, path=info.path, old_sha256=old, new_sha256=info.sha256, reason=reason, by=by
    )
    ctx.journal.emit(
        RevisionRepaired(revision=revision, path=info.path, old_sha256=old, sha256=info.sha256, reason=reason, by=by)
    )
    if not kept:  # no store in the database: the journal is the record (read as the newest revision_applied)
        ctx.journal.emit(RevisionApplied(revision, info.path, info.sha256, how="repaired"))
    return (
        f"revision {revision}: its record now holds the file as it is (sha256 {old[:12]} -> {info.sha256[:12]}), "
        f"repaired by {by}: {reason}"
    )


def _arguments(parser) -> None:
    add_plan_argument(parser)
    parser.add_argument("revision", help="the applied revision whose changed file is accepted")
    parser.add_argument("--reason", required=True, help="why the change is harmless (kept with who and when)")


def _run(args) -> int:
    print(repair(args.plan, args.revision, args.reason, options=RunOptions(state_dir=args.state_dir)))
    return 0


COMMANDS = [
    Command(
        "repair",
        "accept that an applied revision's file changed (formatting, a comment), with a reason",
        _run,
        _arguments,
        description="Record an applied revision's file as it is now, keeping who, when and why; later applies then "
        "accept it.",
    )
]
