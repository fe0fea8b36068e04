"""Hooks of the migrate plugin: the ``migrate`` step, rollback by ``downgrade``, the dry run's
revisions and SQL, and the preflight check that applied revisions were not rewritten."""
from __future__ import annotations

import contextlib
import io
import os

from planrun.engine.errors import ProjectError, StepFailed, Unreachable
from planrun.engine.hookspecs import hookimpl
from planrun.engine.steps import Finding, Step

# alembic and sqlalchemy are imported where used, so validate and --help stay fast.


def _project(ctx):
    from .project import AlembicProject

    if "migrate.project" not in ctx.state:
        project = AlembicProject.for_plan(ctx.loaded)
        project.use_url(ctx.target_url)
        ctx.state["migrate.project"] = project
    return ctx.state["migrate.project"]


def _heads(ctx, project) -> tuple[str, ...]:
    from .alembic_run import current_heads

    from ..pg.connect import is_unreachable

    try:
        return current_heads(ctx.target_url, project.version_table())
    except Exception as exc:
        error = Unreachable if is_unreachable(exc) else StepFailed
        raise error(f"cannot read the current revision of {ctx.target_name}: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}") from exc


def _show(heads: tuple[str, ...]) -> str:
    return ", ".join(heads) if heads else "base (empty)"


def _server_options(ctx) -> str:
    """Settings that end the migration's backend when planrun dies mid-statement, so that no
    migration outlives its run's lock."""
    from ..pg.connect import orphan_guard_options, server_version_num

    if "migrate.server_options" not in ctx.state:
        ctx.state["migrate.server_options"] = orphan_guard_options(server_version_num(ctx.target_url))
    return ctx.state["migrate.server_options"]


def _alembic(ctx, project, verb: str, action, record: bool = True) -> None:
    from ..pg.connect import migration_application_name
    from .alembic_run import run_command

    migrate = ctx.plan.migrate
    name = migration_application_name(ctx.run_id)
    if verb.startswith("offline"):
        run_command(project, action, verb=verb, url=ctx.target_url, lock_timeout=migrate.lock_timeout,
                    statement_timeout=migrate.statement_timeout, application_name=name, only_the_target=False)
        return
    from .blockers import watching_blockers
    from .recording import recording

    with watching_blockers(ctx.target_url, name) as blockers, (recording(ctx, project) if record else _nothing()) as unrecorded:
        try:
            run_command(
                project, action, verb=verb, url=ctx.target_url,
                lock_timeout=migrate.lock_timeout, statement_timeout=migrate.statement_timeout, application_name=name,
                aborted=(lambda: ctx.control.abort_reason) if verb == "upgrade" else (lambda: None),
                server_options=_server_options(ctx),
            )
        except StepFailed as exc:
            if getattr(exc, "lock_timeout", False) and blockers.seen:
                raise _reworded(exc, f"{exc}; blocked by {blockers.describe()}") from exc
            raise
        finally:
            if unrecorded:
                _record_after(ctx, project, unrecorded)


def _record_after(ctx, project, problems: list[str]) -> None:
    """The fallback when a revision could not be recorded in its own transaction: record what
    is applied now, on a connection of the store's own."""
    from dataclasses import asdict

    ctx.journal.record("revisions_recorded_late", problems=problems[:5])
    ctx.reporter.warning(f"the applied revisions could not be recorded inside the migration's transactions "
                         f"({problems[0]}); recorded after it instead")
    try:
        applied = [asdict(info) for info in project.applied(_heads(ctx, project))]
        ctx.hook.planrun_record_revisions(ctx=ctx, applied=applied, how="planrun", execute=None)
    except Exception as exc:
        ctx.reporter.warning(f"recording the applied revisions failed too: {type(exc).__name__}: {exc}")


@contextlib.contextmanager
def _nothing():
    yield []


def _reworded(exc: StepFailed, message: str) -> StepFailed:
    """The same failure (its class and what it knows) with another message."""
    failure = type(exc)(message)
    failure.__dict__.update(exc.__dict__)
    return failure


def _upgrade(ctx, project, target: str) -> None:
    """``alembic upgrade``, run again after a lock timeout as ``migrate.lock_retries`` allows."""
    retries = ctx.plan.migrate.lock_retries
    for attempt in range(retries + 1):
        try:
            _alembic(ctx, project, "upgrade", lambda: project.upgrade(target))
            return
        except StepFailed as exc:
            revision = getattr(exc, "revision", None)
            partly_committed = any(r == revision for r, _ in ctx.control.partial_commits)
            if not getattr(exc, "lock_timeout", False) or attempt == retries or partly_committed or ctx.control.abort_reason:
                raise
            wait = min(2 ** attempt, 30)
            ctx.journal.record("lock_retry", revision=revision, attempt=attempt + 1, wait=wait, error=str(exc))
            ctx.reporter.warning(f"{exc}; trying again in {wait}s (retry {attempt + 1} of {retries}, migrate.lock_retries)")
            ctx.control.sleep(wait)


def migrate(ctx) -> str:
    project = _project(ctx)
    start = _heads(ctx, project)
    # what a rollback returns to: where this run started, or where the dead run being
    # recovered forward had started (planrun_resume_state put it there)
    ctx.state.setdefault("migrate.start", start)
    target = project.resolve_target(ctx.plan.migrate.to, start)
    pending = project.pending(start, target)
    ctx.facts.update(revision_from=_show(start), revision_to=target)
    if not pending:
        return f"already at {target}; nothing to do"
    ctx.journal.record("migrate_plan", start=list(start), target=target, pending=[p.revision for p in pending])
    try:
        _upgrade(ctx, project, target)
    except StepFailed as exc:
        ctx.state["migrate.failed_revision"] = getattr(exc, "revision", None)
        committed = _committed(ctx, project, start, pending)
        ctx.facts["committed"] = committed
        raise _reworded(exc, f"{exc}; committed before the failure: {committed}") from exc
    now = _heads(ctx, project)
    if now == start:
        raise StepFailed(
            f"Alembic finished, but {ctx.target_name} did not move (still at {_show(start)}): the project's env.py "
            "seems to connect to a database of its own instead of the URL planrun gives it. Make env.py use "
            "config.get_main_option('sqlalchemy.url') (or config.attributes['connection'])."
        )
    if now != (target,):
        raise StepFailed(f"{ctx.target_name} is at {_show(now)} after the upgrade, expected {target}")
    for info in pending:
        ctx.journal.record("revision_applied", revision=info.revision, path=info.path, sha256=info.sha256, target=ctx.target_name)
    return f"{_show(start)} -> {target} ({len(pending)} revision{'s' if len(pending) != 1 else ''})"


def _committed(ctx, project, start: tuple[str, ...], pending) -> str:
    """What a failed upgrade left committed: whole revisions (each in its own transaction, when
    env.py says so), and the parts a revision committed outside its transaction (backfill
    batches), with their progress."""
    try:
        now = _heads(ctx, project)
    except StepFailed:
        whole = "unknown (the database cannot be reached to tell)"
    else:
        ids = [p.revision for p in pending]
        reached = max((ids.index(h) for h in now if h in ids), default=-1) if now != start else -1
        whole = f"revisions {', '.join(ids[: reached + 1])}" if reached >= 0 else "no whole revision"
    parts = []
    failed = ctx.state.get("migrate.failed_revision")
    for revision, what in ctx.control.partial_commits:
        if failed and revision != failed:
            continue  # a revision that finished is counted whole
        progress = ctx.control.progress.get(what)
        done = f": {progress.done} of {progress.total} rows" if progress and progress.total is not None else ""
        parts.append(f"revision {revision} committed part of its work outside its transaction ({what}{done})")
    return "; ".join([whole, *parts])


@hookimpl
def planrun_validate_plan(plan, plan_file):
    """The project the plan names exists and its revision files compile (no Alembic needed)."""
    from pathlib import Path

    from .project_files import problems

    config = Path(plan.target.alembic.config)
    base = Path(plan_file).resolve().parent
    ini = config if config.is_absolute() else (base / config).resolve()
    return [(("target", "alembic", "config"), message) for message in problems(ini, plan.target.alembic.section, base)]


@hookimpl
def planrun_steps(plan):
    return [Step("migrate", "migrate", migrate, f"alembic upgrade to {plan.migrate.to}")]


@hookimpl
def planrun_rollback(ctx, method):
    if method != "downgrade":
        return None
    project = _project(ctx)
    start = ctx.state.get("migrate.start")
    if start is None:  # the proof (the snapshots) then says whether anything changed all the same
        return "the migration had not started: nothing to downgrade"
    if len(start) > 1:
        raise StepFailed(f"the run started at several heads ({', '.join(start)}); downgrade cannot return to all of them")
    goal = start[0] if start else "base"
    now = _heads(ctx, project)
    note = _stamp_partly_applied(ctx, project, now)
    if note:
        now = _heads(ctx, project)
    if now == start:
        return f"already at {_show(start)} (the failed revision's transaction was rolled back)"
    _alembic(ctx, project, "downgrade", lambda: project.downgrade(goal))
    after = _heads(ctx, project)
    if after != start:
        raise StepFailed(f"downgrade finished at {_show(after)}, expected {_show(start)}")
    return f"{_show(now)} -> {_show(start)}{note}"


def _stamp_partly_applied(ctx, project, now: tuple[str, ...]) -> str:
    """A revision that committed part of its work outside its transaction (a batched backfill,
    an index built concurrently) and then failed is not recorded as applied, yet its committed
    part is there. Record it, so that its own downgrade undoes that part too."""
    failed = ctx.state.get("migrate.failed_revision")
    committed = [what for revision, what in ctx.control.partial_commits if revision == failed]
    if not failed or not committed:
        return ""
    down = project.script.get_revision(failed).down_revision
    down = tuple(sorted(down)) if isinstance(down, (tuple, list)) else ((down,) if down else ())
    if now != down:
        return ""
    _alembic(ctx, project, "stamp", lambda: project.stamp(failed))
    ctx.journal.record("stamped_partly_applied", revision=failed, committed=committed)
    return f" (revision {failed} had committed part of its work: {'; '.join(committed)}; its downgrade ran too)"


@hookimpl
def planrun_resume_state(ctx, events):
    """From a dead run's journal: the revisions it started from, and the revision that had
    committed part of its work when it died (its downgrade must run too)."""
    plan = next((e for e in events if e["event"] == "migrate_plan"), None)
    if plan is None:
        return
    ctx.state["migrate.start"] = tuple(plan.get("start") or ())
    for event in events:
        if event["event"] == "partial_commit":
            ctx.control.partial_commits.append((event.get("revision"), event.get("what")))
            ctx.state["migrate.failed_revision"] = event.get("revision")


@hookimpl
def planrun_abort(ctx, reason):
    """Cancel the statement the migration is running (its backend is found by its
    application_name); further statements are refused by :func:`stop_between_statements`."""
    from ..pg.connect import connect, migration_application_name, query_all

    conn = connect(ctx.target_url, application_name=f"planrun abort {ctx.run_id}", autocommit=True, connect_timeout=5)
    try:
        rows = query_all(conn, "SELECT pid, pg_cancel_backend(pid) FROM pg_stat_activity "
                               "WHERE application_name = %s AND datname = current_database()",
                         (migration_application_name(ctx.run_id),))
    finally:
        conn.close()
    ctx.journal.record("migration_cancelled", reason=reason, backends=[pid for pid, done in rows if done])


@hookimpl
def planrun_describe(ctx):
    project = _project(ctx)
    current = _heads(ctx, project)
    target = project.resolve_target(ctx.plan.migrate.to, current)
    pending = project.pending(current, target)
    sections = [("revisions", f"current: {_show(current)}\ntarget:  {target}\n" + (
        "\n".join(f"pending: {p.revision}  {p.message}  ({os.path.relpath(p.path, project.folder)})" for p in pending)
        or "nothing pending"))]
    if pending:
        sections.append(("SQL Alembic would run (offline mode)", _offline_sql(ctx, project, current, target)))
    return sections


def _offline_sql(ctx, project, current: tuple[str, ...], target: str) -> str:
    buffer = io.StringIO()
    project.config.output_buffer = buffer
    span = f"{current[0]}:{target}" if len(current) == 1 else target
    try:
        _alembic(ctx, project, "offline upgrade", lambda: project.upgrade(span, sql=True))
    except StepFailed as exc:
        return f"(not available: {exc})"
    finally:
        project.config.output_buffer = project.output
    return buffer.getvalue()


@hookimpl
def planrun_preflight(ctx):
    project = _project(ctx)
    current = _heads(ctx, project)
    ctx.facts["revision_before"] = _show(current)
    if ctx.options.command in ("apply", "plan"):
        probe = _probe(ctx, project)
        if probe is not None:
            return [probe]
    findings, unrecorded, recorded = _checked_files(ctx, project, current)
    if ctx.options.command == "apply" and not findings:
        if unrecorded:
            _adopt(ctx, unrecorded, first=not recorded)
        if set(recorded) - {info.revision for info in project.applied(current)}:
            _forget_undone(ctx, project, current)
    try:
        project.resolve_target(ctx.plan.migrate.to, current)
    except ProjectError as exc:
        findings.append(Finding("error", str(exc), source="migrate"))
    return findings


def _probe(ctx, project) -> Finding | None:
    """env.py, run once with nothing to migrate under the target guard: one that connects
    elsewhere is refused here, before anything changes (and not half-way through the run)."""
    try:
        _alembic(ctx, project, "a look at env.py", project.probe, record=False)
    except StepFailed as exc:
        return Finding("error", str(exc), source="migrate")
    except ProjectError as exc:
        return Finding("error", str(exc), source="migrate")
    return None


def _checked_files(ctx, project, current: tuple[str, ...]):
    """Every applied revision's file against its record: (an error finding per edited file,
    the applied revisions nobody recorded, the records)."""
    applied = project.applied(current)
    recorded = ctx.hook.planrun_applied_records(ctx=ctx)
    if recorded is None:  # no plugin keeps records in the database: the journal's
        recorded = {r["revision"]: r for r in ctx.past_records("revision_applied")}
    findings = [_edited(project, info, recorded[info.revision]) for info in applied
                if info.revision in recorded and recorded[info.revision].get("sha256") != info.sha256]
    return findings, [info for info in applied if info.revision not in recorded], recorded


@hookimpl
def planrun_status(ctx):
    project = _project(ctx)
    current = _heads(ctx, project)
    lines, problems = [f"current: {_show(current)}"], []
    try:
        target = project.resolve_target(ctx.plan.migrate.to, current)
    except ProjectError as exc:
        problems.append(str(exc))
    else:
        pending = project.pending(current, target)
        lines.append(f"target:  {target}")
        lines += [f"pending: {p.revision}  {p.message}" for p in pending] or ["nothing pending"]
    findings, unrecorded, _ = _checked_files(ctx, project, current)
    problems += [f.message for f in findings]
    if unrecorded:
        lines.append(f"applied without planrun, not yet recorded: {', '.join(i.revision for i in unrecorded)} (the next apply adopts them)")
    return [{"title": "revisions", "lines": lines, "problems": problems}]


def _edited(project, info, record: dict) -> Finding:
    by = f"adopted at {record.get('applied_at', '?')[:19]}" if record.get("how") == "adopted" else f"applied by run {record.get('run_id')}"
    return Finding(
        "error",
        f"revision {info.revision} ({os.path.relpath(info.path, project.folder)}) was {by} but its file has changed "
        f"since (sha256 {str(record.get('sha256', ''))[:12]} then, {info.sha256[:12]} now): the migration history must "
        "not be rewritten",
        source="migrate", details={"revision": info.revision},
    )


def _forget_undone(ctx, project, current: tuple[str, ...]) -> None:
    """Records of revisions that are not applied (a restore undid them with the data, or a
    downgrade ran outside planrun) are dropped, so that applying them again records their files
    as they are then."""
    from dataclasses import asdict

    ctx.hook.planrun_record_revisions(ctx=ctx, applied=[asdict(i) for i in project.applied(current)], how="planrun", execute=None)


def _adopt(ctx, infos, first: bool) -> None:
    """Revisions applied without planrun (before it was adopted, or by plain alembic since):
    record their files as they are now, so that any later edit is caught."""
    from dataclasses import asdict

    recorded = ctx.hook.planrun_record_revisions(ctx=ctx, applied=[asdict(i) for i in infos], how="adopted", execute=None)
    if recorded:
        ids = ", ".join(i.revision for i in infos)
        ctx.journal.record("revisions_adopted", revisions=[i.revision for i in infos])
        ctx.reporter.info(f"{'first contact: ' if first else ''}recorded {len(infos)} revision(s) applied without planrun "
                          f"as adopted ({ids}); from now on an edited applied revision is refused")
