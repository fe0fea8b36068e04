"""The verbs, as plain functions: the CLI is a thin shell over these, and so can be any script.

Each takes a plan path and returns a result or raises a :class:`PlanrunError`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, TextIO

from .context import LintOptions, RunContext, RunOptions, TestOptions
from .errors import UsageError
from .journal import Journal, NullJournal, new_run_id, read_journals, run_summary
from .plan.model import plan_secrets
from .plan import LenientEnviron, LoadedPlan, load_plan, plan_from_data, plan_model
from .testreport import TestReport
from .plugins import load_plugins
from .redact import Redactor, url_password
from .report import Reporter
from .runner import RunResult, collect_steps, run
from .steps import Step


def validate(plan_path: str, environ: dict | None = None) -> LoadedPlan:
    """Load and validate a plan; raise :class:`PlanError` listing every problem."""
    return load_plan(plan_path, environ=environ)


def _context(loaded: LoadedPlan, options: RunOptions, stream: TextIO | None, journal: Journal | None = None) -> RunContext:
    url = loaded.plan.target.url
    redact = Redactor([url_password(url) or "", *plan_secrets(loaded.plan)])
    reporter = Reporter(redact, stream)
    for failure in loaded.plugins.failures:
        reporter.warning(str(failure))
    if journal is None:
        try:
            journal = Journal(options.state_dir, new_run_id(), redact)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise UsageError(f"state directory {options.state_dir}: cannot write the run's journal there: {reason} "
                             "(choose another with --state-dir)") from None
    return RunContext(loaded, url, journal.run_id, journal, reporter, redact, options)


def apply(
    plan_path: str,
    *,
    options: RunOptions | None = None,
    confirm: Callable[[RunContext], bool] | None = None,
    stream: TextIO | None = None,
    environ: dict | None = None,
) -> RunResult:
    """Run the plan against its target: lock, checks, migrate, checks; roll back on failure."""
    loaded = load_plan(plan_path, environ=environ)
    options = options or RunOptions()
    options.command = "apply"
    ctx = _context(loaded, options, stream)
    if confirm is not None and not confirm(ctx):
        raise UsageError("cancelled; nothing was changed")
    return run(ctx)


@dataclass
class DryRun:
    steps: list[str]
    sections: list[tuple[str, str]]
    findings: list


def plan(plan_path: str, *, options: RunOptions | None = None, stream: TextIO | None = None, environ: dict | None = None) -> DryRun:
    """Say what ``apply`` would do, changing nothing and writing no journal."""
    loaded = load_plan(plan_path, environ=environ)
    options = options or RunOptions()
    options.command = "plan"
    ctx = _context(loaded, options, stream, NullJournal())
    steps = [f"{s.phase}: {s.name}" + (f" - {s.description}" if s.description else "") for s in collect_steps(ctx)]
    ctx.reporter.heading(f"plan {loaded.plan.name} on {ctx.target_name} (dry run: nothing is changed)")
    ctx.reporter.section("steps apply would run", "\n".join(steps))
    sections = [section for found in ctx.hook.planrun_describe(ctx=ctx) for section in (found or [])]
    for title, body in sections:
        ctx.reporter.section(title, body)
    findings = [f for found in ctx.hook.planrun_preflight(ctx=ctx) for f in (found or [])]
    for finding in findings:
        (ctx.reporter.error if finding.severity == "error" else ctx.reporter.warning)(finding.message)
    return DryRun(steps, sections, findings)


def _backup_context(plan_path: str, options: RunOptions | None, stream: TextIO | None, environ: dict | None, command: str) -> RunContext:
    loaded = load_plan(plan_path, environ=environ)
    options = options or RunOptions()
    options.command = command
    return _context(loaded, options, stream, NullJournal())


def _no_backups(ctx: RunContext) -> UsageError:
    return UsageError(f"plan {ctx.plan.name!r} has no backup: section, so planrun keeps no backups for it")


def backups(plan_path: str, *, options: RunOptions | None = None, environ: dict | None = None) -> list:
    """The plan's backups, newest first (their manifests)."""
    ctx = _backup_context(plan_path, options, None, environ, "backups")
    found = ctx.hook.planrun_list_backups(ctx=ctx)
    if found is None:
        raise _no_backups(ctx)
    return found


def verify_backup(plan_path: str, backup_id: str, depth: str | None = None, *, options: RunOptions | None = None,
                  environ: dict | None = None) -> str:
    """Verify one stored backup; raise when it fails."""
    ctx = _backup_context(plan_path, options, None, environ, "verify-backup")
    summary = ctx.hook.planrun_verify_backup(ctx=ctx, backup_id=backup_id, depth=depth)
    if summary is None:
        raise _no_backups(ctx)
    return summary


def restore(plan_path: str, backup_id: str, *, options: RunOptions | None = None, confirm: Callable[[RunContext], bool] | None = None,
            stream: TextIO | None = None, environ: dict | None = None) -> RunResult:
    """Replace the target's content with a backup, under the run's lock, journaled like a run."""
    loaded = load_plan(plan_path, environ=environ)
    options = options or RunOptions()
    options.command = "restore"
    ctx = _context(loaded, options, stream)
    if getattr(loaded.plan, "backup", None) is None:
        raise _no_backups(ctx)
    if confirm is not None and not confirm(ctx):
        raise UsageError("cancelled; nothing was changed")

    def restore_step(ctx: RunContext) -> str:
        summary = ctx.hook.planrun_restore_backup(ctx=ctx, backup_id=backup_id)
        if summary is None:
            raise _no_backups(ctx)
        return summary

    steps = [s for s in collect_steps(ctx) if s.phase == "lock"] + [Step(f"restore {backup_id}", "verify", restore_step)]
    return run(ctx, steps, preflight=False)


def test(plan_path: str | None = None, *, alembic_config: str | None = None, options: TestOptions | None = None,
         stream: TextIO | None = None) -> TestReport:
    """Round-trip every revision on a throwaway database: upgrade, fingerprint, downgrade,
    compare, upgrade again; plus static checks of the revision graph and a drift check."""
    loaded = _plan_or_project(plan_path, alembic_config)
    run_options = RunOptions(command="test")
    ctx = _context(loaded, run_options, stream, NullJournal())
    ctx.target_url = ""
    report = ctx.hook.planrun_test(ctx=ctx, options=options or TestOptions())
    if report is None:
        raise UsageError("no plugin can test this plan's project")
    return report


def lint(plan_path: str | None = None, *, alembic_config: str | None = None, options: LintOptions | None = None,
         stream: TextIO | None = None):
    """Lint the plan's revisions for unsafe operations; returns the plugin's report."""
    # Without a plan, the revisions run under plain `alembic upgrade`: no lock_timeout but theirs.
    loaded = _plan_or_project(plan_path, alembic_config, migrate={"lock_timeout": None})
    ctx = _context(loaded, RunOptions(command="lint"), stream, NullJournal())
    report = ctx.hook.planrun_lint(ctx=ctx, options=options or LintOptions())
    if report is None:
        raise UsageError("no plugin can lint this plan's project")
    return report


def _plan_or_project(plan_path: str | None, alembic_config: str | None, migrate: dict | None = None) -> LoadedPlan:
    """A plan, or a minimal one around ``alembic.ini`` (with ``migrate`` settings) for commands
    that need no target."""
    if plan_path:
        return load_plan(plan_path, environ=LenientEnviron())
    if alembic_config:
        from pathlib import Path

        import re

        config = Path(alembic_config).resolve()
        # a plan name from the project's folder (optuna's is "_rdb": not a valid name as it is)
        name = re.sub(r"[^A-Za-z0-9_.\-]", "-", config.parent.name).lstrip("_.-") or "project"
        return plan_from_data(
            {"version": 1, "name": name, "target": {"url": "", "alembic": {"config": str(config)}},
             "migrate": migrate or {}},
            str(config),
        )
    raise UsageError("name a plan, or the project with --alembic-config alembic.ini")


def recover(plan_path: str, *, options: RunOptions | None = None, confirm: Callable[[RunContext], bool] | None = None,
            stream: TextIO | None = None, environ: dict | None = None) -> RunResult:
    """Finish the runs on the plan's target that died: under the lock, roll each back to the
    state it started from and prove it (or forward, when the plan's ``rollback.recover`` says
    so), then record what was done. Idempotent: a recover that is killed can be run again."""
    from .runner import recovery_steps
    from .snapshot import Snapshot

    loaded = load_plan(plan_path, environ=environ)
    options = options or RunOptions()
    options.command = "recover"
    probe = _context(loaded, RunOptions(state_dir=options.state_dir, command="recover"), stream, NullJournal())
    dead = probe.hook.planrun_dead_runs(ctx=probe)
    if dead is None:
        raise UsageError("no plugin keeps runs in the database (is history: {enabled: false}?): nothing to recover from")
    # a recover that died itself is only abandoned: the run it was recovering is still dead
    victims = [run for run in dead if run["command"] != "recover"]
    if not victims:
        if dead:
            return _abandon(loaded, options, stream, dead)
        probe.reporter.info(f"no run died on {probe.target_name}: nothing to recover")
        return RunResult(probe.run_id, "success", 0)
    victim = victims[0]
    ctx = _context(loaded, options, stream)
    if confirm is not None and not confirm(ctx):
        raise UsageError("cancelled; nothing was changed")
    ctx.hook.planrun_resume_state(ctx=ctx, events=victim["events"])
    before = {name: Snapshot(snap["digest"], tuple(snap["items"])) for name, snap in (victim["snapshots"] or {}).items()}
    forward = ctx.plan.rollback.recover == "forward"
    if not before:  # it died before changing anything
        return _run_and_mark(ctx, _lock_steps(ctx), None, dead, "it had changed nothing")
    outcome = "completed forward" if forward else "rolled back and proven"
    return _run_and_mark(ctx, recovery_steps(ctx, victim["run_id"], before, forward), before, dead, outcome)


def _lock_steps(ctx: RunContext) -> list[Step]:
    return [s for s in collect_steps(ctx) if s.phase == "lock"]


def _run_and_mark(ctx: RunContext, steps: list[Step], before, dead: list[dict], outcome: str) -> RunResult:
    from .runner import run

    marked: list[str] = []

    def mark(ctx: RunContext) -> str:
        for run_ in dead:
            text = outcome if run_["command"] != "recover" else "a recover that died; finished by this one"
            ctx.hook.planrun_run_recovered(ctx=ctx, run_id=run_["run_id"], outcome=text)
            marked.append(run_["run_id"])
        return f"recorded: {', '.join(marked)}: {outcome}"

    return run(ctx, [*steps, Step("record recovery", "post-checks", mark)], preflight=False, before=before)


def _abandon(loaded: LoadedPlan, options: RunOptions, stream: TextIO | None, dead: list[dict]) -> RunResult:
    ctx = _context(loaded, options, stream)
    return _run_and_mark(ctx, _lock_steps(ctx), None, dead, "a recover that died with nothing left to recover")


@dataclass
class Status:
    sections: list[dict]

    @property
    def problems(self) -> list[str]:
        return [p for section in self.sections for p in section.get("problems", [])]

    def to_json(self) -> str:
        return json.dumps({"sections": self.sections, "problems": self.problems, "ok": not self.problems}, indent=2, default=str)


def status(plan_path: str, *, environ: dict | None = None) -> Status:
    """Where the plan's target stands: its revision and what is pending, edited applied files,
    the last runs, any run that died, and drift since the last successful run. Changes nothing."""
    loaded = load_plan(plan_path, environ=environ)
    ctx = _context(loaded, RunOptions(command="status"), None, NullJournal())
    return Status([section for found in ctx.hook.planrun_status(ctx=ctx) for section in (found or [])])


def history(state_dir: str = ".planrun") -> list[dict]:
    """One summary per past run, oldest first."""
    return [run_summary(records) for records in read_journals(state_dir)]


_STEER_TEXT = {
    "pause": "asked run {run} to pause: batched backfills stop between batches until `planrun resume {run}`",
    "resume": "asked run {run} to resume",
    "abort": "asked run {run} to abort: the migration is cancelled and the rollback policy takes over",
}


def steer(run_id: str, command: str, *, state_dir: str = ".planrun", plan_path: str | None = None, environ: dict | None = None) -> str:
    """Pause, resume or abort a running run from another terminal (``planrun pause RUN_ID``);
    with the plan, through its target database, from any machine (``planrun pause RUN_ID PLAN``)."""
    import getpass
    import socket

    from .control import control_file, write_command

    by = f"{getpass.getuser()}@{socket.gethostname()}"
    if plan_path:
        loaded = load_plan(plan_path, environ=environ)
        ctx = _context(loaded, RunOptions(command=command, state_dir=state_dir), None, NullJournal())
        answer = ctx.hook.planrun_steer(ctx=ctx, run_id=run_id, command=command, by=by)
        if answer is not None:
            return answer

    path = control_file(state_dir, run_id)
    if path is None:
        raise UsageError(f"runs can only be steered through a local state directory, not {state_dir}")
    records = next((r for r in read_journals(state_dir) if r and r[0].get("run_id") == run_id), None)
    if records is None:
        raise UsageError(f"no run {run_id} in {state_dir} (see planrun history --state-dir {state_dir})")
    summary = run_summary(records)
    if summary["outcome"] == "died":
        raise UsageError(f"run {run_id} is not running: its process is gone (see planrun status PLAN; planrun recover PLAN finishes it)")
    if summary["outcome"] != "unfinished":
        raise UsageError(f"run {run_id} has already ended ({summary['outcome']})")
    write_command(path, command, by=by)
    return _STEER_TEXT[command].format(run=run_id)


def schema() -> dict:
    """The plan's JSON Schema for planrun's built-in plugins (third-party ones left out, so the
    committed schema does not depend on what happens to be installed)."""
    model = plan_model(load_plugins(autoload=False))
    document = model.model_json_schema(mode="validation")
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "planrun plan"
    return document


def schema_text() -> str:
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"
