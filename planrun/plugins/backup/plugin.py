"""Hooks of the backup plugin: the ``backup:`` section, the ``backup`` and ``verify-backup``
steps, rollback by ``restore``, and the ``backups`` / ``restore`` / ``verify-backup`` commands
(in :mod:`.commands`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from planrun.engine.errors import StepFailed
from planrun.engine.hookspecs import hookimpl
from planrun.engine.plan.rollback_section import RollbackMethod
from planrun.engine.steps import Step

from ..facts import BackupTaken, Revisions
from .config import BackupConfig

if TYPE_CHECKING:
    from .storage import Location


def _template(ctx) -> str:
    config: BackupConfig = ctx.plan.backup
    return config.to or f"{ctx.options.state_dir.rstrip('/')}/backups/{{name}}/{{run_id}}/"


def backup_root(ctx) -> Location:
    """The folder holding every backup of this plan (the template up to ``{run_id}``)."""
    from .storage import location

    root = _template(ctx).split("{run_id}", 1)[0].format(name=ctx.plan.name)
    return location(root, ctx.plan.backup.storage_options)


def backup_location(ctx, backup_id: str) -> Location:
    from .storage import location

    url = _template(ctx).format(name=ctx.plan.name, run_id=backup_id)
    return location(url, ctx.plan.backup.storage_options)


def stored_manifest(ctx, backup_id: str):
    """The stored backup `backup_id` of this plan: its location and manifest."""
    from .manifest import MANIFEST_NAME, Manifest

    where = backup_location(ctx, backup_id)
    try:
        return where, Manifest.from_json(where.fs.cat_file(where.child(MANIFEST_NAME)))
    except FileNotFoundError:
        raise StepFailed(f"no backup {backup_id!r} under {backup_root(ctx).url}") from None


def run_backup(ctx) -> str:
    from .dump import take_backup

    config: BackupConfig = ctx.plan.backup
    _sweep(ctx)
    where = backup_location(ctx, ctx.run_id)
    revisions = ctx.facts.get(Revisions)
    before = revisions.before if revisions else None
    manifest = take_backup(
        ctx.target_url,
        where,
        plan=ctx.plan.name,
        run_id=ctx.run_id,
        revision=", ".join(before) if before else None,
        format=config.format,
        compression=config.compression,
        jobs=config.jobs,
        level=config.compression_level,
    )
    ctx.state["backup.manifest"] = manifest
    ctx.facts.publish(BackupTaken(where.url))
    ctx.journal.record(
        "backup",
        location=where.url,
        size=manifest.size,
        files=[f.model_dump() for f in manifest.files],
        seconds=manifest.dump_seconds,
        tables=len(manifest.row_counts),
    )
    return f"{_size(manifest.size)} to {where.url} in {manifest.dump_seconds:.1f}s"


def _sweep(ctx) -> None:
    """Remove what killed runs left: half-written backups of this target, stale pgpass files."""
    from ..pg.tools import sweep_stale_secret_files
    from .partial import sweep

    removed = sweep(backup_root(ctx), ctx.target_name, ctx.run_id)
    secrets = sweep_stale_secret_files()
    if removed or secrets:
        ctx.journal.record("swept", partial_backups=removed, secret_files=len(secrets))
        ctx.reporter.warning(
            f"removed what killed runs left behind: {len(removed)} half-written backup(s)"
            + (f", {len(secrets)} stale password file(s)" if secrets else "")
        )


def run_verify(ctx) -> str:
    from .retention import apply_retention
    from .verify import verify

    config: BackupConfig = ctx.plan.backup
    manifest = ctx.state["backup.manifest"]
    _, stored = stored_manifest(ctx, ctx.run_id)
    if stored != manifest:
        raise StepFailed("the stored manifest is not the one this run wrote: the backup was changed after it was taken")
    summary = verify(backup_location(ctx, ctx.run_id), manifest, config.verify, ctx.target_url, config.jobs)
    ctx.state["backup.verified"] = True
    if config.keep:
        deleted = apply_retention(
            backup_root(ctx), ctx.plan.name, last=config.keep.last, days=config.keep.days, current=ctx.run_id
        )
        if deleted:
            ctx.journal.record("retention", deleted=deleted)
            summary += f"; retention deleted {len(deleted)} old backup(s)"
    return summary


def _size(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"


@hookimpl
def planrun_plan_sections():
    return {"backup": BackupConfig}


@hookimpl
def planrun_validate_plan(plan):
    if "restore" in plan.rollback.methods() and getattr(plan, "backup", None) is None:
        return [
            (("rollback", "strategy"), f"{plan.rollback.strategy} needs a backup: add a backup: section to the plan")
        ]
    return None


@hookimpl
def planrun_steps(plan):
    config = getattr(plan, "backup", None)
    if config is None:
        return None
    return [
        Step("backup", "backup", run_backup, f"pg_dump ({config.format}, {config.compression}) to storage"),
        Step("verify-backup", "verify", run_verify, f"verify the backup ({config.verify}); a failure stops the run"),
    ]


@hookimpl
def planrun_rollback_methods():
    return {
        "restore": RollbackMethod(
            restore, "restore the target from the run's verified backup", proves=("schema", "data"), last_resort=True
        )
    }


@hookimpl
def planrun_fact_types():
    return [BackupTaken]


@hookimpl
def planrun_commands():
    from .commands import COMMANDS

    return COMMANDS


def restore(ctx) -> str:
    """Undo the run by restoring the target from the backup it took (and verified)."""
    from .restore import restore_target

    manifest = ctx.state.get("backup.manifest")
    if manifest is None or not ctx.state.get("backup.verified"):
        raise StepFailed("there is no verified backup of this run to restore from")
    config: BackupConfig = ctx.plan.backup
    where = ctx.state.get("backup.location") or backup_location(ctx, ctx.run_id)
    return restore_target(ctx.target_url, where, manifest, config.jobs)


@hookimpl
def planrun_resume_state(ctx, events):
    """From a dead run's journal: its backup, if it was taken and verified, so that recovering
    the run may restore from it."""
    from .manifest import MANIFEST_NAME, Manifest

    taken = next((e for e in events if e["event"] == "backup"), None)
    verified = any(
        e["event"] == "step_end" and e.get("step") == "verify-backup" and e.get("outcome") == "ok" for e in events
    )
    if taken is None or getattr(ctx.plan, "backup", None) is None:
        return
    from .storage import location

    where = location(taken["location"], ctx.plan.backup.storage_options)
    try:
        ctx.state["backup.manifest"] = Manifest.from_json(where.fs.cat_file(where.child(MANIFEST_NAME)))
    except FileNotFoundError:
        return
    ctx.state["backup.location"] = where
    ctx.state["backup.verified"] = verified
