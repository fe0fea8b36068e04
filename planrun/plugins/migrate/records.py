"""Applied revisions' files against their records: an edited applied revision is refused,
revisions applied without planrun are adopted, records of undone revisions are dropped; and the
look at env.py that refuses one connecting elsewhere before anything changes."""

from __future__ import annotations

import os

from planrun.plugin import Finding, ProjectError, StepFailed

from .commands import alembic
from .events import RevisionsAdopted


def probe_env(ctx, project) -> Finding | None:
    """env.py, run once with nothing to migrate under the target guard: one that connects
    elsewhere is refused here, before anything changes (and not half-way through the run)."""
    try:
        alembic(ctx, project, "a look at env.py", project.probe, record=False)
    except (StepFailed, ProjectError) as exc:
        return Finding("error", str(exc), source="migrate")
    return None


def checked_files(ctx, project, applied: list):
    """Every applied revision's file against its record: (an error finding per edited file,
    the applied revisions nobody recorded, the records)."""
    recorded = ctx.hook.planrun_applied_records(ctx=ctx)
    if recorded is None:  # no plugin keeps records in the database: the journal's
        recorded = {r["revision"]: r for r in ctx.past_records("revision_applied")}
    findings = [
        edited(project, info, recorded[info.revision])
        for info in applied
        if info.revision in recorded and recorded[info.revision].get("sha256") != info.sha256
    ]
    return findings, [info for info in applied if info.revision not in recorded], recorded


def edited(project, info, record: dict) -> Finding:
    by = (
        f"adopted at {record.get('applied_at', '?')[:19]}"
        if record.get("how") == "adopted"
        else f"applied by run {record.get('run_id')}"
    )
    return Finding(
        "error",
        f"revision {info.revision} ({os.path.relpath(info.path, project.folder)}) was {by} but its file has changed "
        f"since (sha256 {str(record.get('sha256', ''))[:12]} then, {info.sha256[:12]} now): the migration history must "
        "not be rewritten. If the change is harmless (formatting, a comment), accept it: planrun repair PLAN "
        f'{info.revision} --reason "..."',
        source="migrate",
        details={"revision": info.revision},
    )


def forget_undone(ctx, applied: list) -> None:
    """Records of revisions that are not applied (a restore undid them with the data, or a
    downgrade ran outside planrun) are dropped, so that applying them again records their files
    as they are then."""
    from dataclasses import asdict

    ctx.hook.planrun_record_revisions(ctx=ctx, applied=[asdict(i) for i in applied], how="planrun", execute=None)


def adopt(ctx, infos, first: bool) -> None:
    """Revisions applied without planrun (before it was adopted, or by plain alembic since):
    record their files as they are now, so that any later edit is caught."""
    from dataclasses import asdict

    recorded = ctx.hook.planrun_record_revisions(
        ctx=ctx, applied=[asdict(i) for i in infos], how="adopted", execute=None
    )
    if recorded:
        ids = ", ".join(i.revision for i in infos)
        ctx.journal.emit(RevisionsAdopted(revisions=[i.revision for i in infos]))
        ctx.reporter.info(
            f"{'first contact: ' if first else ''}recorded {len(infos)} revision(s) applied without planrun "
            f"as adopted ({ids}); from now on an edited applied revision is refused"
        )
