"""How the migrate plugin runs Alembic against the target: the project, its current revision,
the settings and watches every command gets (timeouts, orphan guard, blockers, records), retries
after a lock timeout, and what a failed upgrade had committed."""

from __future__ import annotations

import contextlib

from planrun.plugin import StepFailed

from ..events import PartialCommit
from ..facts import ScratchDatabase
from .events import LockRetried, RevisionsRecordedLate, TablesWritten

# alembic and sqlalchemy are imported where used, so validate and --help stay fast.


def project_of(ctx):
    from ..alembic_project.project import AlembicProject

    if "migrate.project" not in ctx.state:
        project = AlembicProject.for_plan(ctx.loaded)
        project.use_url(ctx.target_url)
        ctx.state["migrate.project"] = project
    return ctx.state["migrate.project"]


def heads_of(ctx, project) -> tuple[str, ...]:
    from ..alembic_project.running import heads_or_error

    return heads_or_error(ctx.target_url, project.version_table(), ctx.target_name, StepFailed)


def server_options(ctx) -> str:
    """Settings that end the migration's backend when planrun dies mid-statement, so that no
    migration outlives its run's lock."""
    from ..pg.connect import orphan_guard_options, server_version_num

    if "migrate.server_options" not in ctx.state:
        ctx.state["migrate.server_options"] = orphan_guard_options(server_version_num(ctx.target_url))
    return ctx.state["migrate.server_options"]


def alembic(ctx, project, verb: str, action, record: bool = True) -> None:
    from ..pg.connect import migration_application_name

    migrate = ctx.plan.migrate
    name = migration_application_name(ctx.run_id)
    scratch = ctx.plan_facts.get(ScratchDatabase)  # the variables env.py reads its URL from: the target's, here
    settings = dict(
        url=ctx.target_url,
        lock_timeout=migrate.lock_timeout,
        statement_timeout=migrate.statement_timeout,
        application_name=name,
        url_env=scratch.url_env if scratch is not None and scratch.chosen else (),
    )
    from ..alembic_project.command_io import Capture, captured

    output = Capture()  # what Alembic and env.py print (fileConfig's INFO lines): shown when it fails
    try:
        with captured(output, bool(ctx.options.flags.get("verbose"))):
            _alembic(ctx, project, verb, action, record, settings, name)
    except BaseException:
        lines = output.getvalue().rstrip().splitlines()
        if lines:
            ctx.reporter.info(
                f"    --- what Alembic and env.py printed during the {verb} (last {min(len(lines), 40)} lines):"
            )
            for line in lines[-40:]:
                ctx.reporter.info(f"    | {line}")
        raise


def _alembic(ctx, project, verb: str, action, record: bool, settings: dict, name: str) -> None:
    from ..alembic_project.running import run_command

    if verb.startswith("offline"):
        run_command(project, action, verb=verb, only_the_target=False, **settings)
        return
    from .blockers import watching_blockers
    from .recording import recording

    with (
        watching_blockers(ctx.target_url, name) as blockers,
        recording(ctx, project) if record else nothing() as unrecorded,
        writes_recorded(ctx, project, verb),
    ):
        try:
            run_command(
                project,
                action,
                verb=verb,
                **settings,
                **(two_phase(ctx, project) if verb == "upgrade" and ctx.defer_commit else {}),
                aborted=(lambda: ctx.control.abort_reason) if verb == "upgrade" else (lambda: None),
                server_options=server_options(ctx),
            )
        except StepFailed as exc:
            if getattr(exc, "lock_timeout", False) and blockers.seen:
                raise reworded(exc, f"{exc}; blocked by {blockers.describe()}") from exc
            raise
        finally:
            if unrecorded:
                record_after(ctx, project, unrecorded)


@contextlib.contextmanager
def writes_recorded(ctx, project, verb: str):
    """Record the tables the command's transactions wrote (read inside each, just before it
    commits) in the journal and as the run's :class:`Written` fact: what a rollback's proof
    must cover, whatever the backup's scope found by reading the SQL."""
    from planrun.plugin import Written

    from ..facts import RunTransactions
    from ..pg.write_watch import watch_writes

    watch = None
    try:
        with watch_writes() as watch:
            yield
    finally:  # after the watch has closed (it adds the statements that reported their transaction then)
        if watch is not None:
            version_table = project.version_table()
            tables = watch.written()
            if tables is not None:
                tables = {t for t in tables if t.rsplit(".", 1)[-1] != version_table}
            fact = (ctx.facts.get(Written) or Written()).adding(tables, watch.unseen())
            ctx.facts.publish(fact)
            own = ctx.facts.get(RunTransactions) or RunTransactions()
            deleted = dict(own.deleted)
            for table, count in watch.deleted.items():
                deleted[table] = deleted.get(table, 0) + count
            ctx.facts.publish(
                RunTransactions(
                    own.xids + tuple(watch.xids),
                    tuple(sorted(deleted.items())),
                    own.rolled_back_writes or watch.rolled_back_writes,
                )
            )
            ctx.journal.emit(
                TablesWritten(
                    verb=verb,
                    tables=sorted(tables) if tables is not None else None,
                    unseen=watch.unseen() or None,
                    transactions=watch.xids,
                )
            )


def offline_sql(ctx, project, span: str) -> str:
    """The SQL Alembic would run for ``span`` (``a:b``), rendered in offline mode; raises
    :class:`StepFailed` when it cannot be rendered."""
    import io

    buffer = io.StringIO()
    project.config.output_buffer = buffer
    try:
        alembic(ctx, project, "offline upgrade", lambda: project.upgrade(span, sql=True))
    finally:
        project.config.output_buffer = project.output
    return buffer.getvalue()


PREPARED = "migrate.prepared"  # ctx.state: the transaction a two-phase upgrade left prepared


def two_phase(ctx, project) -> dict:
    """How an upgrade ends in a two-phase run: prepared under the run's id, after checking, on
    planrun's connection and inside the transaction, that the change happened there (the
    version row was written by this very transaction), and
    recording the applied revisions in that same transaction (they commit with it)."""
    from dataclasses import asdict

    version_table = project.version_table()

    def expected(conn) -> bool:
        driver = conn.connection.dbapi_connection
        with driver.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (version_table,))
            if not cursor.fetchone()[0]:
                return False
            # only rows this transaction wrote: under READ COMMITTED, a change env.py committed on a
            # connection of its own would be visible here too
            cursor.execute(
                f'SELECT version_num FROM "{version_table}" '
                "WHERE xmin::text::bigint = txid_current_if_assigned() % 4294967296"
            )
            heads = tuple(sorted(row[0] for row in cursor.fetchall()))
            if heads != project.heads_at(ctx.state.get("migrate.target")):
                return False
            applied = [asdict(info) for info in project.applied(heads)]
            ctx.hook.planrun_record_revisions(
                ctx=ctx, applied=applied, how="planrun", execute=lambda sql, params: cursor.execute(sql, params)
            )
        return True

    from .two_phase import gid_of

    gid = gid_of(ctx.run_id, ctx.target_key or "target")
    ctx.state[PREPARED] = gid  # kept open until planrun_finish_deferred commits or rolls it back
    return {"prepare_as": gid, "expected": expected}


def record_after(ctx, project, problems: list[str]) -> None:
    """The fallback when a revision could not be recorded in its own transaction: record what
    is applied now, on a connection of the store's own."""
    from dataclasses import asdict

    ctx.journal.emit(RevisionsRecordedLate(problems=problems[:5]))
    ctx.reporter.warning(
        f"the applied revisions could not be recorded inside the migration's transactions "
        f"({problems[0]}); recorded after it instead"
    )
    try:
        applied = [asdict(info) for info in project.applied(heads_of(ctx, project))]
        ctx.hook.planrun_record_revisions(ctx=ctx, applied=applied, how="planrun", execute=None)
    except Exception as exc:
        ctx.reporter.warning(f"recording the applied revisions failed too: {type(exc).__name__}: {exc}")


@contextlib.contextmanager
def nothing():
    yield []


def reworded(exc: StepFailed, message: str) -> StepFailed:
    """The same failure (its class and what it knows) with another message."""
    failure = type(exc)(message)
    failure.__dict__.update(exc.__dict__)
    return failure


def upgrade(ctx, project, target: str) -> None:
    """``alembic upgrade``, run again after a lock timeout as ``migrate.lock_retries`` allows."""
    from planrun.plugin import doubling, retrying

    retries = ctx.plan.migrate.lock_retries

    def again(exc: BaseException) -> bool:
        """Only a lock timeout of a revision that committed nothing of its own yet, in a run
        nobody asked to stop."""
        revision = getattr(exc, "revision", None)
        partly_committed = any(note.revision == revision for note in ctx.control.notes.of(PartialCommit))
        return bool(getattr(exc, "lock_timeout", False)) and not partly_committed and not ctx.control.abort_reason

    def told(retry) -> None:
        exc = retry.error
        revision = getattr(exc, "revision", None)
        ctx.journal.emit(LockRetried(revision=revision, attempt=retry.attempt, wait=retry.pause, error=str(exc)))
        ctx.reporter.warning(
            f"{exc}; trying again in {retry.pause:g}s (retry {retry.attempt} of {retries}, migrate.lock_retries)"
        )

    retrying(
        lambda: alembic(ctx, project, "upgrade", lambda: project.upgrade(target)),
        again=again,
        pauses=doubling(1.0, 30.0),
        attempts=retries + 1,
        on_retry=told,
        sleep=ctx.control.sleep,
    )


def what_committed(ctx, project, start: tuple[str, ...], pending) -> str:
    """What a failed upgrade left committed: whole revisions (each in its own transaction, when
    env.py says so), and the parts a revision committed outside its transaction (backfill
    batches), with their progress."""
    try:
        now = heads_of(ctx, project)
    except StepFailed:
        whole = "unknown (the database cannot be reached to tell)"
    else:
        ids = [p.revision for p in pending]
        reached = max((ids.index(h) for h in now if h in ids), default=-1) if now != start else -1
        whole = f"revisions {', '.join(ids[: reached + 1])}" if reached >= 0 else "no whole revision"
    parts = []
    failed = ctx.state.get("migrate.failed_revision")
    for note in ctx.control.notes.of(PartialCommit):
        revision, what = note.revision, note.what
        if failed and revision != failed:
            continue  # a revision that finished is counted whole
        progress = ctx.control.progress.get(what)
        done = f": {progress.done} of {progress.total} rows" if progress and progress.total is not None else ""
        parts.append(f"revision {revision} committed part of its work outside its transaction ({what}{done})")
    return "; ".join([whole, *parts])
