"""Hooks of the migrate plugin: the ``migrate`` step, rollback by ``downgrade``, the dry run's
revisions and SQL, and the preflight check that applied revisions were not rewritten."""

from __future__ import annotations

import os

from planrun.plugin import Finding, ProjectError, StatusSection, Step, StepFailed, hookimpl

from ..events import MIGRATE_EVENTS, MigrationPlanned, PartialCommit, RevisionApplied
from ..facts import MigrationSettings, Revisions, show
from .commands import PREPARED, alembic, heads_of, project_of, reworded, upgrade, what_committed
from .events import EVENTS, MigrationCancelled, Prepared, StampedPartlyApplied
from .records import adopt, checked_files, forget_undone, probe_env
from .release_rollback import roll_back_release, rollback_target, undone, wanted_target


def _bring_records_up_to_date(ctx) -> None:
    """What the preflight found of the records: revisions applied without planrun are adopted,
    records of revisions undone without planrun dropped. Done here, once the run starts, so
    that a run refused in its preflight writes nothing to the target."""
    if (found := ctx.state.pop("migrate.records", None)) is None:
        return
    unrecorded, recorded, applied = found
    if unrecorded:
        adopt(ctx, unrecorded, first=not recorded)
    if set(recorded) - {info.revision for info in applied}:
        forget_undone(ctx, applied)


# alembic and sqlalchemy are imported where used, so validate and --help stay fast.


def migrate(ctx) -> str:
    _bring_records_up_to_date(ctx)
    project = project_of(ctx)
    start = heads_of(ctx, project)
    # what a rollback returns to: where this run started, or where the dead run being
    # recovered forward had started (planrun_resume_state put it there)
    ctx.state.setdefault("migrate.start", start)
    target = wanted_target(ctx, project, start)
    if rollback_target(ctx) is not None:
        return roll_back_release(ctx, project, start, target)
    pending = project.pending(start, target)
    ctx.facts.update(Revisions, start=start, target=target)
    if not pending:
        return f"already at {target}; nothing to do"
    ctx.journal.emit(MigrationPlanned(list(start), target, [p.revision for p in pending]))
    ctx.state["migrate.target"] = target
    try:
        upgrade(ctx, project, target)
    except StepFailed as exc:
        ctx.state.pop(PREPARED, None)  # its transaction was rolled back with the failure
        ctx.state["migrate.failed_revision"] = getattr(exc, "revision", None)
        committed = what_committed(ctx, project, start, pending)
        ctx.facts.update(Revisions, committed=committed)
        raise reworded(exc, f"{exc}; committed before the failure: {committed}") from exc
    if ctx.state.get(PREPARED):  # invisible until every target has prepared and the run commits them all
        gid = ctx.state[PREPARED]
        ctx.journal.emit(Prepared(gid=gid, start=list(start), target=target))
        count = f"{len(pending)} revision{'s' if len(pending) != 1 else ''}"
        return f"{show(start)} -> {target} ({count}) prepared as {gid}; commits with the other targets"
    now = heads_of(ctx, project)
    if now == start:
        raise StepFailed(
            f"Alembic finished, but {ctx.target_name} did not move (still at {show(start)}): the project's env.py "
            "seems to connect to a database of its own instead of the URL planrun gives it. Make env.py use "
            "config.get_main_option('sqlalchemy.url') (or config.attributes['connection'])."
        )
    if now != project.heads_at(target):
        raise StepFailed(f"{ctx.target_name} is at {show(now)} after the upgrade, expected {target}")
    for info in pending:
        ctx.journal.emit(RevisionApplied(info.revision, info.path, info.sha256, ctx.target_name))
    return f"{show(start)} -> {target} ({len(pending)} revision{'s' if len(pending) != 1 else ''})"


@hookimpl
def planrun_journal_events():
    return [*MIGRATE_EVENTS, *EVENTS]


@hookimpl
def planrun_addhooks(pluginmanager):
    from ..alembic_project.hookspecs import add_to

    add_to(pluginmanager)


@hookimpl
def planrun_commands():
    from .init import COMMANDS as INIT
    from .release_rollback import COMMANDS as ROLLBACK
    from .repair import COMMANDS as REPAIR

    return INIT + REPAIR + ROLLBACK


@hookimpl
def planrun_command_options(command, parser):
    if command.runs_steps or command.name == "plan":
        parser.add_argument(
            "-v",
            "--verbose",
            action="store_true",
            help="show what Alembic and env.py print as they go (by default it is captured, and shown when a "
            "command fails)",
        )


@hookimpl
def planrun_validate_plan(plan, plan_file):
    """The project the plan names exists and its revision files compile (no Alembic needed)."""
    from pathlib import Path

    from ..alembic_project.project_files import problems

    config = Path(plan.target.alembic.config)
    base = Path(plan_file).resolve().parent
    ini = config if config.is_absolute() else (base / config).resolve()
    return [(("target", "alembic", "config"), message) for message in problems(ini, plan.target.alembic.section, base)]


@hookimpl
def planrun_steps(plan):
    return [Step("migrate", "migrate", migrate, f"alembic upgrade to {plan.migrate.to}")]


@hookimpl
def planrun_plan_sections():
    from planrun.plugin import PlanSection

    from .config import AlembicTarget, MigrateConfig  # with pydantic: loaded when a plan is read, not for --help

    return {
        "target.alembic": PlanSection(AlembicTarget, "The Alembic project.", always=True),
        "migrate": PlanSection(MigrateConfig, "The migration step.", always=True, per_target=True),
    }


@hookimpl
def planrun_plan_facts(plan):
    migrate = getattr(plan, "migrate", None)
    if migrate is None:
        return None
    return [MigrationSettings(migrate.to, migrate.lock_timeout, migrate.statement_timeout)]


@hookimpl
def planrun_rollback_methods():
    from planrun.plugin import RollbackMethod

    return {
        "downgrade": RollbackMethod(
            downgrade, "Alembic downgrade to the revision the run started from", proves=("schema",)
        )
    }


@hookimpl
def planrun_fact_types():
    return [Revisions]


def downgrade(ctx) -> str:
    """Undo the run with Alembic's downgrade, back to the revision it started from."""
    project = project_of(ctx)
    start = ctx.state.get("migrate.start")
    if start is None:  # the proof (the snapshots) then says whether anything changed all the same
        return "the migration had not started: nothing to downgrade"
    if len(start) > 1:
        raise StepFailed(
            f"the run started at several heads ({', '.join(start)}); downgrade cannot return to all of them"
        )
    goal = start[0] if start else "base"
    now = heads_of(ctx, project)
    note = _stamp_partly_applied(ctx, project, now)
    if note:
        now = heads_of(ctx, project)
    if now == start:
        return f"already at {show(start)} (the failed revision's transaction was rolled back)"
    if _behind(project, now, goal):  # the run was a release rollback: forward again, to the release
        alembic(ctx, project, "upgrade", lambda: project.upgrade(goal))
    else:
        alembic(ctx, project, "downgrade", lambda: project.downgrade(goal))
    after = heads_of(ctx, project)
    if after != start:
        raise StepFailed(f"Alembic finished at {show(after)}, expected {show(start)}")
    return f"{show(now)} -> {show(start)}{note}"


def _behind(project, now: tuple[str, ...], goal: str) -> bool:
    """Whether ``now`` is behind ``goal`` (so going back to ``goal`` is an upgrade)."""
    try:
        return bool(project.pending(now, goal))
    except ProjectError:
        return False


def _stamp_partly_applied(ctx, project, now: tuple[str, ...]) -> str:
    """A revision that committed part of its work outside its transaction (a batched backfill,
    an index built concurrently) and then failed is not recorded as applied, yet its committed
    part is there. Record it, so that its own downgrade undoes that part too."""
    failed = ctx.state.get("migrate.failed_revision")
    committed = [note.what for note in ctx.control.notes.of(PartialCommit) if note.revision == failed]
    if not failed or not committed:
        return ""
    down = project.script.get_revision(failed).down_revision
    down = tuple(sorted(down)) if isinstance(down, (tuple, list)) else ((down,) if down else ())
    if now != down:
        return ""
    alembic(ctx, project, "stamp", lambda: project.stamp(failed))
    ctx.journal.emit(StampedPartlyApplied(revision=failed, committed=committed))
    return f" (revision {failed} had committed part of its work: {'; '.join(committed)}; its downgrade ran too)"


@hookimpl
def planrun_resume_state(ctx, events):
    """From a dead run's journal: the revisions it started from, and the revision that had
    committed part of its work when it died (its downgrade must run too)."""
    _resume_writes(ctx, events)
    plan = MigrationPlanned.last_in(events)
    if plan is None:
        return
    ctx.state["migrate.start"] = tuple(plan.start)
    ctx.state["migrate.target"] = plan.target
    for note in PartialCommit.all_in(events):
        ctx.control.notes.remember(note)
        ctx.state["migrate.failed_revision"] = note.revision


def _resume_writes(ctx, events) -> None:
    """What the dead run's transactions wrote (its ``tables_written`` records): the tables a
    proof must cover, and its own transaction ids, so a restore tells its rows from others'.
    A transaction that committed after its last record (killed right after a commit) is not
    there: its rows then look like another writer's, and the restore refuses rather than lose
    them."""
    from planrun.plugin import Written

    from ..facts import RunTransactions

    records = [e for e in events if e["event"] == "tables_written"]
    if not records:
        return
    written, xids = Written(), []
    for record in records:
        tables = record.get("tables")
        written = written.adding(set(tables) if tables is not None else None, record.get("unseen") or "")
        xids += record.get("transactions") or []
    ctx.facts.publish(written)
    ctx.facts.publish(RunTransactions(tuple(xids), (), True))


@hookimpl
def planrun_abort(ctx, reason):
    """Cancel the statement the migration is running (its backend is found by its
    application_name); further statements are refused by :func:`stop_between_statements`."""
    from ..pg.connect import connect, migration_application_name, query_all

    conn = connect(ctx.target_url, application_name=f"planrun abort {ctx.run_id}", autocommit=True, connect_timeout=5)
    try:
        rows = query_all(
            conn,
            "SELECT pid, pg_cancel_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND datname = current_database()",
            (migration_application_name(ctx.run_id),),
        )
    finally:
        conn.close()
    ctx.journal.emit(MigrationCancelled(reason=reason, backends=[pid for pid, done in rows if done]))


@hookimpl
def planrun_describe(ctx):
    project = project_of(ctx)
    current = heads_of(ctx, project)
    target = wanted_target(ctx, project, current)
    if rollback_target(ctx) is not None:
        lines = [f"undo: {i.revision}  {i.message}" for i in undone(project, current, target)] or ["nothing to undo"]
        return [("revisions", "\n".join([f"current: {show(current)}", f"back to: {target}", *lines]))]
    pending = project.pending(current, target)
    sections = [
        (
            "revisions",
            f"current: {show(current)}\ntarget:  {target}\n"
            + (
                "\n".join(
                    f"pending: {p.revision}  {p.message}  ({os.path.relpath(p.path, project.folder)})" for p in pending
                )
                or "nothing pending"
            ),
        )
    ]
    if pending:
        sections.append(("SQL Alembic would run (offline mode)", _offline_sql(ctx, project, current, target)))
    return sections


@hookimpl
def planrun_touched_tables(ctx):
    """The tables the pending revisions' upgrade SQL (offline mode) changes; unknown, with the
    reason, for a revision that cannot be rendered offline (it reads the database)."""
    from ..sql.touched import Touched, touched_tables
    from .commands import offline_sql

    project = project_of(ctx)
    current = heads_of(ctx, project)
    if rollback_target(ctx) is not None:  # downgrades are not rendered for the backup's scope: all of it
        return Touched(unknown=["a release rollback runs the downgrades, whose tables are not read in advance"])
    target = project.resolve_target(ctx.plan.migrate.to, current)
    if not project.pending(current, target):
        return Touched()
    try:
        sql = offline_sql(ctx, project, f"{current[0]}:{target}" if len(current) == 1 else target)
    except StepFailed as exc:
        return Touched(unknown=[f"the pending revisions cannot be rendered offline: {exc}"])
    return touched_tables(sql, ignore=(project.version_table(),))


def _offline_sql(ctx, project, current: tuple[str, ...], target: str) -> str:
    from .commands import offline_sql

    try:
        return offline_sql(ctx, project, f"{current[0]}:{target}" if len(current) == 1 else target)
    except StepFailed as exc:
        return f"(not available: {exc})"


@hookimpl
def planrun_preflight(ctx):
    project = project_of(ctx)
    current = heads_of(ctx, project)
    ctx.facts.update(Revisions, before=current, rolling_back=rollback_target(ctx) is not None)
    if ctx.options.command in ("apply", "plan"):
        probe = probe_env(ctx, project)
        if probe is not None:
            return [probe]
    applied = project.applied(current)
    findings, unrecorded, recorded = checked_files(ctx, project, applied)
    if ctx.options.command == "apply" and not findings:  # recorded by the migrate step: preflight changes nothing
        ctx.state["migrate.records"] = (unrecorded, recorded, applied)
    try:
        wanted_target(ctx, project, current)
    except ProjectError as exc:
        findings.append(Finding("error", str(exc), source="migrate"))
        return findings
    if ctx.options.command in ("apply", "plan") and rollback_target(ctx) is None:
        from .two_phase import preflight

        findings += preflight(ctx) + _undoable(ctx, project, current)
    return findings


def _undoable(ctx, project, current) -> list[Finding]:
    """Refuse a plan that would roll back by downgrade alone across a revision without one."""
    from pathlib import Path

    from ..alembic_project.revision_files import NO_DOWNGRADE, has_function

    if ctx.plan.rollback.methods() != ["downgrade"]:
        return []
    target = project.resolve_target(ctx.plan.migrate.to, current)
    return [  # (a revision marked irreversible may have nothing to undo: the rollback's proof says which)
        Finding("error", f"revision {info.revision} ({info.path}) {NO_DOWNGRADE}", source="migrate")
        for info in project.pending(current, target)
        if not has_function(Path(info.path), "downgrade")
    ]


@hookimpl
def planrun_finish_deferred(ctx, commit):
    """COMMIT PREPARED or ROLLBACK PREPARED the transaction this run's upgrade prepared here."""
    gid = ctx.state.get(PREPARED)
    if not gid:
        return None
    from .two_phase import finish

    said = finish(ctx, gid, commit)
    ctx.state.pop(PREPARED, None)
    return said


@hookimpl
def planrun_settle(contexts):
    from .in_doubt import settle_in_doubt

    settle_in_doubt(contexts)


@hookimpl
def planrun_status(ctx):
    project = project_of(ctx)
    current = heads_of(ctx, project)
    lines, problems = [f"current: {show(current)}"], []
    try:
        target = project.resolve_target(ctx.plan.migrate.to, current)
    except ProjectError as exc:
        problems.append(str(exc))
    else:
        pending = project.pending(current, target)
        lines.append(f"target:  {target}")
        lines += [f"pending: {p.revision}  {p.message}" for p in pending] or ["nothing pending"]
    findings, unrecorded, _ = checked_files(ctx, project, project.applied(current))
    problems += [f.message for f in findings]
    from .two_phase import in_doubt_problems

    problems += in_doubt_problems(ctx)
    if unrecorded:
        lines.append(
            f"applied without planrun, not yet recorded: {', '.join(i.revision for i in unrecorded)} (the next apply "
            "adopts them)"
        )
    return [StatusSection("revisions", lines, problems)]
