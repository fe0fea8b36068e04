"""Hooks of the backup plugin: the ``backup:`` section, the ``backup`` and ``verify-backup``
steps, rollback by ``restore``, and the ``backups`` / ``restore`` / ``verify-backup`` commands
(in :mod:`.commands`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from planrun.plugin import Finding, StatusSection, Step, StepEnded, StepFailed, hookimpl

from ..facts import BackupPolicy, BackupTaken, Revisions, RollbackEstimate, RunTransactions
from .events import EVENTS, BackupRecorded, RetentionApplied, RollbackEstimated, Swept

VERIFY_STEP = "verify-backup"

if TYPE_CHECKING:
    from .config import BackupConfig
    from .scope import Scope
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
    scope = resolve_scope(ctx)
    if scope.why and config.scope == "touched!":
        raise StepFailed(f"backup.scope touched!: {scope.why}")
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
        scope=scope.tables,
    )
    ctx.state["backup.manifest"] = manifest
    ctx.facts.publish(BackupTaken(where.url, tuple(scope.tables) if scope.tables is not None else None))
    ctx.journal.emit(
        BackupRecorded(
            location=where.url,
            size=manifest.size,
            files=[f.model_dump() for f in manifest.files],
            seconds=manifest.dump_seconds,
            tables=len(manifest.row_counts),
            scope=scope.tables,
            scope_fallback=scope.why or None,
        )
    )
    held = "" if scope.tables is None else f" (scope: {', '.join(scope.tables) or 'no table'})"
    from .budget import size_text

    return f"{size_text(manifest.size)} to {where.url} in {manifest.dump_seconds:.1f}s{held}"


def resolve_scope(ctx) -> Scope:
    """What this run's backup holds (found once per run: the preflight and the backup step
    share it). ``touched`` falls back to the whole database when the tables cannot be told."""
    from .scope import Scope, scope_size, touched_scope

    if "backup.scope" in ctx.state:
        return ctx.state["backup.scope"]
    config: BackupConfig = ctx.plan.backup
    scope = Scope(None)
    if config.scope != "database":
        touched = ctx.hook.planrun_touched_tables(ctx=ctx)
        if touched is None:
            scope = Scope(None, "no plugin can tell which tables the pending revisions change")
        elif touched.unknown:
            scope = Scope(None, "; ".join(touched.unknown))
        else:
            scope = touched_scope(ctx.target_url, touched)
    scope.size = scope_size(ctx.target_url, scope.tables)
    ctx.state["backup.scope"] = scope
    return scope


def _sweep(ctx) -> None:
    """Remove what killed runs left: half-written backups of this target, stale pgpass files."""
    from ..pg.tools import sweep_stale_secret_files
    from .partial import sweep

    removed = sweep(backup_root(ctx), ctx.target_name, ctx.run_id)
    secrets = sweep_stale_secret_files()
    if removed or secrets:
        ctx.journal.emit(Swept(partial_backups=removed, secret_files=len(secrets)))
        ctx.reporter.warning(
            f"removed what killed runs left behind: {len(removed)} half-written backup(s)"
            + (f", {len(secrets)} stale password file(s)" if secrets else "")
        )


def run_verify(ctx) -> str:
    import time

    from .budget import remember_speed
    from .retention import apply_retention
    from .verify import verify

    config: BackupConfig = ctx.plan.backup
    manifest = ctx.state["backup.manifest"]
    _, stored = stored_manifest(ctx, ctx.run_id)
    if stored != manifest:
        raise StepFailed("the stored manifest is not the one this run wrote: the backup was changed after it was taken")
    started = time.monotonic()
    summary = verify(backup_location(ctx, ctx.run_id), manifest, config.verify, ctx.target_url, config.jobs)
    ctx.state["backup.verified"] = True
    if config.verify == "restore" and "backup.scope" in ctx.state:  # the next preflights estimate from it
        remember_speed(ctx, ctx.state["backup.scope"].size, time.monotonic() - started)
    if config.keep:
        deleted = apply_retention(
            backup_root(ctx), ctx.plan.name, last=config.keep.last, days=config.keep.days, current=ctx.run_id
        )
        if deleted:
            ctx.journal.emit(RetentionApplied(deleted=deleted))
            summary += f"; retention deleted {len(deleted)} old backup(s)"
    return summary


@hookimpl
def planrun_journal_events():
    return EVENTS


@hookimpl
def planrun_plan_sections():
    from .config import BackupConfig  # with pydantic: loaded when a plan is read, not for --help

    return {"backup": BackupConfig}


@hookimpl
def planrun_plan_facts(plan):
    backup = getattr(plan, "backup", None)
    return [BackupPolicy(True, backup.verify, backup.scope) if backup is not None else BackupPolicy()]


@hookimpl
def planrun_addhooks(pluginmanager):
    from ..alembic_project.hookspecs import add_to

    add_to(pluginmanager)


@hookimpl
def planrun_validate_plan(plan):
    backup = getattr(plan, "backup", None)
    if "restore" in plan.rollback.methods() and backup is None:
        return [
            (("rollback", "strategy"), f"{plan.rollback.strategy} needs a backup: add a backup: section to the plan")
        ]
    if backup is not None and backup.scope != "database" and plan.rollback.methods() == ["restore"]:
        return [
            (
                ("backup", "scope"),
                f"scope {backup.scope} restores rows, not the schema: use rollback.strategy downgrade-then-restore "
                "(the downgrade brings the schema back first)",
            )
        ]
    return None


@hookimpl
def planrun_preflight(ctx):
    """The backup's scope and whether a rollback by restore fits ``rollback.within``."""
    if getattr(ctx.plan, "backup", None) is None or ctx.options.command not in ("apply", "plan"):
        return None
    from .budget import estimate, measured_speed, size_text

    config: BackupConfig = ctx.plan.backup
    findings = []
    scope = resolve_scope(ctx)
    if scope.why:
        severity = "error" if config.scope == "touched!" else "warning"
        then = "refused" if severity == "error" else "the backup falls back to the whole database"
        findings.append(Finding(severity, f"backup.scope {config.scope}: {then}: {scope.why}", source="backup"))
    if "restore" not in ctx.plan.rollback.methods():
        return findings
    speed = measured_speed(ctx)
    seconds = estimate(scope.size, speed)
    within = ctx.plan.rollback.within.total_seconds()
    ctx.facts.publish(RollbackEstimate(seconds, scope.size, speed or 0.0, speed is not None, scope.describe()))
    if ctx.options.command == "apply":
        ctx.journal.emit(
            RollbackEstimated(
                seconds=round(seconds, 1),
                bytes=scope.size,
                scope=scope.tables,
                measured=speed is not None,
                within=within,
            )
        )
    if seconds > within:
        from .budget import DEFAULT_BYTES_PER_SECOND

        rate = (
            f"{size_text(speed)}/s (measured by the last verification by restore on this target)"
            if speed
            else f"{size_text(DEFAULT_BYTES_PER_SECOND)}/s (planrun's default: no restore measured here yet)"
        )
        ways = ["a larger rollback.within", "more backup.jobs for the restore", "rollback.over_budget: warn"]
        if config.scope == "database":
            ways.insert(0, "backup.scope: touched (restore only the tables the migration changes)")
        severity = "warning" if ctx.plan.rollback.over_budget == "warn" else "error"
        findings.append(
            Finding(
                severity,
                f"rollback estimate: restoring {size_text(scope.size)} ({scope.describe()}) at {rate} takes about "
                f"{seconds:.0f} s, over rollback.within ({within:.0f} s). Ways out: {'; '.join(ways)}",
                source="backup",
            )
        )
    return findings


@hookimpl
def planrun_steps(plan):
    config = getattr(plan, "backup", None)
    if config is None:
        return None
    return [
        Step("backup", "backup", run_backup, f"pg_dump ({config.format}, {config.compression}) to storage"),
        Step(VERIFY_STEP, "verify", run_verify, f"verify the backup ({config.verify}); a failure stops the run"),
    ]


@hookimpl
def planrun_rollback_methods():
    from planrun.plugin import RollbackMethod

    return {
        "restore": RollbackMethod(
            restore, "restore the target from the run's verified backup", proves=("schema", "data"), last_resort=True
        )
    }


@hookimpl
def planrun_describe(ctx):
    """What the backup will hold, its size, and the rollback estimate (``planrun plan``)."""
    if getattr(ctx.plan, "backup", None) is None:
        return None
    from .budget import estimate, measured_speed, size_text

    scope = resolve_scope(ctx)
    lines = [f"holds: {scope.describe()}" + (f" (falls back from touched: {scope.why})" if scope.why else "")]
    lines.append(f"size on the target: {size_text(scope.size)}")
    if "restore" in ctx.plan.rollback.methods():
        speed = measured_speed(ctx)
        lines.append(
            f"rollback by restore: about {estimate(scope.size, speed):.0f} s at "
            + (f"{size_text(speed)}/s (measured here)" if speed else "planrun's default speed (none measured here)")
            + f"; rollback.within {ctx.plan.rollback.within.total_seconds():.0f} s"
        )
    return [("backup", "\n".join(lines))]


@hookimpl
def planrun_status(ctx):
    """The last run's backup scope, its rollback estimate and, if it rolled back, how long that took."""
    if getattr(ctx.plan, "backup", None) is None:
        return None
    backups = list(ctx.past_records(BackupRecorded.name))
    if not backups:
        return None
    last = backups[-1]
    run = [r for r in ctx.past_records() if r.get("run_id") == last.get("run_id")]
    scope = last.get("scope")
    lines = [
        f"last backup (run {last.get('run_id')}): " + ("the whole database" if scope is None else ", ".join(scope))
    ]
    if estimated := RollbackEstimated.last_in(run):
        lines.append(f"rollback estimate: about {estimated.seconds:.0f} s (rollback.within {estimated.within:.0f} s)")
    for ended in StepEnded.all_in(run):
        if ended.method is not None:  # a rollback attempt
            lines.append(f"rollback by {ended.method}: {ended.outcome} in {ended.duration:.1f} s")
    return [StatusSection("backup and rollback", lines)]


@hookimpl
def planrun_fact_types():
    return [BackupTaken, RollbackEstimate]


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
    from .others import Policy

    others = Policy(ctx.facts.get(RunTransactions), ctx.plan.rollback.concurrent_writes)
    summary = restore_target(ctx.target_url, where, manifest, config.jobs, others)
    if kept := others.kept:
        from planrun.plugin import KeptOnPurpose

        from ..pg.fingerprint import data_item_key

        ctx.facts.publish(
            KeptOnPurpose(
                tuple(data_item_key(t) for t in kept),
                "other transactions' writes kept there (rollback.concurrent_writes: keep), and every other row "
                "checked against the backup row by row",
            )
        )
    return summary


@hookimpl
def planrun_resume_state(ctx, events):
    """From a dead run's journal: its backup, if it was taken and verified, so that recovering
    the run may restore from it."""
    from .manifest import MANIFEST_NAME, Manifest

    taken = BackupRecorded.last_in(events)
    verified = any(ended.step == VERIFY_STEP and ended.ok for ended in StepEnded.all_in(events))
    if taken is None or getattr(ctx.plan, "backup", None) is None:
        return
    from .storage import location

    where = location(taken.location, ctx.plan.backup.storage_options)
    try:
        ctx.state["backup.manifest"] = Manifest.from_json(where.fs.cat_file(where.child(MANIFEST_NAME)))
    except FileNotFoundError:
        return
    ctx.state["backup.location"] = where
    ctx.state["backup.verified"] = verified
    scope = ctx.state["backup.manifest"].scope
    ctx.facts.publish(BackupTaken(where.url, tuple(scope) if scope is not None else None))
