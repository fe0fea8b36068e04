"""Hooks of the lint plugin: the ``lint:`` plan section and its rules about allowances,
``planrun lint``, and the lint ``apply`` and ``plan`` run first (an error refuses the run)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from planrun.plugin import Finding, UsageError, hookimpl

from ..facts import BackupPolicy, MigrationSettings, ReleasePhase, ScratchDatabase
from .events import EVENTS, LintAllowed

if TYPE_CHECKING:
    from .config import LintConfig

OFFLINE_URL = "postgresql+psycopg2://planrun-lint@localhost/planrun-lint"  # offline mode never connects


@hookimpl
def planrun_journal_events():
    return EVENTS


@hookimpl
def planrun_addhooks(pluginmanager):
    from .hookspecs import add_to

    add_to(pluginmanager)


@hookimpl
def planrun_plan_sections():
    from planrun.plugin import PlanSection

    from .config import LintConfig  # with pydantic: loaded when a plan is read, not for --help

    phase = PlanSection(
        Literal["expand", "contract"],
        "Expand (add, never remove: destructive operations are refused) or contract (remove what no running code uses "
        "any more: needs checks.gate, and destructive operations need lint.allow and a backup verified by restore).",
    )
    return {"phase": phase, "lint": LintConfig}


@hookimpl
def planrun_plan_facts(plan):
    return [ReleasePhase(getattr(plan, "phase", None))]


@hookimpl
def planrun_commands():
    from .commands import COMMANDS

    return COMMANDS


@hookimpl
def planrun_validate_plan(plan, plugins):
    config = getattr(plan, "lint", None)
    if config is None:
        return None
    from .book import rule_book

    RULES = rule_book(plugins)
    problems = _unknown_rules(config, RULES)
    if problems:
        return problems
    facts = plugins.plan_facts(plan)
    backup = facts.get(BackupPolicy) or BackupPolicy()
    phase = (facts.get(ReleasePhase) or ReleasePhase()).phase
    for rule, reason in config.allow.items():
        if not str(reason).strip():
            problems.append(
                (
                    ("lint", "allow", rule),
                    "needs a reason: why this plan may do it (shown in the report and the journal)",
                )
            )
    for rule, severity in config.rules.items():
        if RULES[rule].destructive and severity != "error":
            problems.append(
                (
                    ("lint", "rules", rule),
                    f"{rule} is destructive and stays an error; to permit it, list it under "
                    "lint.allow with a reason and back up with verify: restore",
                )
            )
    for rule in config.allow:
        if not RULES[rule].destructive:
            continue
        if phase == "expand":
            problems.append(
                (
                    ("lint", "allow", rule),
                    f"{rule} is destructive: an expand plan cannot allow it (use phase: contract)",
                )
            )
        elif not backup.verified_by_restore:
            problems.append(
                (
                    ("lint", "allow", rule),
                    f"{rule} is destructive: it can only be allowed with a backup verified by restore "
                    "(backup: {verify: restore})",
                )
            )
    return problems


def _unknown_rules(config: LintConfig, RULES: dict) -> list[tuple[tuple, str]]:
    from planrun.plugin import did_you_mean

    return [
        (("lint", section, rule), f"unknown lint rule '{rule}'{did_you_mean(rule, RULES)}; see planrun lint --rules")
        for section in ("rules", "allow")
        for rule in getattr(config, section)
        if rule not in RULES
    ]


def _policy(ctx, project=None):
    """The plan's lint settings over the repository's ``[tool.planrun.lint]`` defaults."""
    from .book import rule_book
    from .env_settings import env_py_timeouts
    from .linter import LintPolicy
    from .repository import RepositoryDefaults, repository_defaults
    from .revision import Settings

    plan = ctx.plan
    rules = rule_book(ctx.loaded.plugins)
    from .config import LintConfig

    config = getattr(plan, "lint", None) or LintConfig()
    defaults = repository_defaults(project.folder, rules) if project is not None else RepositoryDefaults()
    config = config.model_copy(
        update={"rules": {**defaults.rules, **config.rules}, "since": config.since or defaults.since}
    )
    env_sets = env_py_timeouts(Path(project.script.dir) / "env.py") if project is not None else {}
    migrate = ctx.plan_facts.get(MigrationSettings) or MigrationSettings()
    return LintPolicy(
        config=config,
        phase=(ctx.plan_facts.get(ReleasePhase) or ReleasePhase()).phase,
        settings=Settings(
            migrate.lock_timeout is not None or "lock_timeout" in env_sets,
            migrate.statement_timeout is not None or "statement_timeout" in env_sets,
        ),
        rules=rules,
        excluded=defaults.excluded,
    )


def _lint(ctx, revisions, project, since: str | None = None, scratch=None, known=None, files=None):
    from ..alembic_project.command_io import quietly
    from ..alembic_project.running import run_command
    from .linter import lint_revisions

    def run(project_, action, verb):
        with quietly():  # (fileConfig's INFO lines per render would bury the findings; the SQL has its own buffer)
            run_command(
                project_,
                action,
                verb=verb,
                url=OFFLINE_URL,
                lock_timeout=None,
                statement_timeout=None,
                application_name=f"planrun lint {ctx.run_id}",
                only_the_target=False,
            )  # offline: no connection

    policy = _policy(ctx, project)
    if since is not None:
        policy.config = policy.config.model_copy(update={"since": since})
    old = set()
    if policy.config.since:
        try:
            old = {s.revision for s in project.script.iterate_revisions(policy.config.since, "base")}
        except Exception as exc:
            raise UsageError(f"lint since {policy.config.since!r}: not a revision of this project ({exc})") from None
    revisions = [r for r in revisions if not policy.excluded(str(r.path))]
    root = display_root(project.folder)
    wanted = {os.path.realpath(f) for f in files} if files is not None else None
    return lint_revisions(
        project,
        run,
        revisions,
        policy,
        root,
        old=old,
        scratch=scratch,
        known=known,
        reported=(lambda path: os.path.realpath(path) in wanted) if wanted is not None else (lambda path: True),
    )


def display_root(folder: Path) -> str:
    """What a finding's path is relative to, so that it lands on the pull request's lines: the
    repository's root when the project is inside a git work tree; else the working directory
    when the project is under it; else the folder above the project's (``migrations/alembic.ini``
    shows as ``migrations/versions/...``)."""
    folder = folder.resolve()
    for parent in (folder, *folder.parents):
        if (parent / ".git").exists():
            return str(parent)
    cwd = Path.cwd().resolve()
    return str(cwd if folder.is_relative_to(cwd) else folder.parent)


def _scratch_runs(ctx, server_url: str | None):
    """Runs on a scratch database (beside ``server_url``, or on a throwaway cluster) for the
    revisions offline mode cannot render; env.py may touch only that database."""
    from ..alembic_project.command_io import quietly
    from ..alembic_project.project import AlembicProject
    from ..alembic_project.running import run_command
    from .capture import ScratchRuns

    migrate = ctx.plan_facts.get(MigrationSettings) or MigrationSettings()
    scratch = ctx.plan_facts.get(ScratchDatabase) or ScratchDatabase()  # the stairway's: the same database needs

    def run(project, action, verb, url):
        with quietly():
            _scratch_command(project, action, verb, url)

    def _scratch_command(project, action, verb, url):
        run_command(
            project,
            action,
            verb=verb,
            url=url,
            lock_timeout=migrate.lock_timeout,
            statement_timeout=migrate.statement_timeout,
            application_name="planrun lint scratch",
            url_env=scratch.url_env,
        )

    prepare = None
    if scratch.prepare:
        from ..clusters.prepare import prepare_database

        def prepare(url, project):
            prepare_database(url, scratch.prepare, ctx.loaded.path.parent, scratch.url_env, project.driver_url(url))

    return ScratchRuns(lambda: AlembicProject.for_plan(ctx.loaded), server_url, run, prepare)


def _migrating_to(ctx):
    """The revision the plan migrates to, as the migrate plugin states it (head if none does)."""
    from ..alembic_project.revision_target import parse_revision_target

    settings = ctx.plan_facts.get(MigrationSettings)
    return settings.to if settings is not None and settings.to is not None else parse_revision_target("head")


def _project(ctx, url: str | None):
    from ..alembic_project.project import AlembicProject

    project = AlembicProject.for_plan(ctx.loaded)
    project.use_url(url or OFFLINE_URL)
    return project


def lint_project(ctx, options):
    """Lint the revisions from ``options.from_revision`` (or the live database's current
    revision with ``options.url``, or base) up to the plan's target."""
    import contextlib

    from .estimate import rank
    from .live import catalog, live_connection

    project = _project(ctx, options.url)
    current: tuple[str, ...] = ()
    if options.url:
        current = _live_heads(options.url, project)
    elif options.from_revision:
        current = (options.from_revision,)
    target = project.resolve_target(_every_head(_migrating_to(ctx)), current)
    scratch = _scratch_runs(ctx, options.url) if options.run else None
    with contextlib.ExitStack() as stack:
        live = stack.enter_context(live_connection(options.url)) if options.url else None
        if scratch is not None:
            stack.callback(scratch.close)
        known = catalog(live) if live is not None else None
        pending = project.pending(current, target)
        report = _lint(ctx, pending, project, since=options.since, scratch=scratch, known=known, files=options.files)
        if live is not None:
            rank(report.findings, live)
    return report


def _live_heads(url: str, project) -> tuple[str, ...]:
    """The live database's revisions (``lint --url``); one that cannot be reached is said so,
    with its own exit code, and any other failure to read them is a usage error."""
    from planrun.plugin import describe_url

    from ..alembic_project.running import heads_or_error

    return heads_or_error(url, project.version_table(), f"{describe_url(url)} (lint --url)", UsageError)


def _every_head(target):
    """``head`` read as every head: lint reads revisions and changes nothing, so a project with
    two heads by design is linted on both branches (apply and test say which heads they mean)."""
    from ..alembic_project.revision_target import RevisionTarget

    return RevisionTarget("heads") if target.kind == "head" else target


@hookimpl
def planrun_preflight(ctx):
    if ctx.options.command not in ("apply", "plan"):
        return None
    from ..alembic_project.running import current_heads

    project = _project(ctx, ctx.target_url)
    try:
        current = current_heads(ctx.target_url, project.version_table())
        target = project.resolve_target(_migrating_to(ctx), current)
    except Exception:
        return None  # the migrate plugin's preflight reports an unreachable database or a bad target
    report = _lint(ctx, project.pending(current, target), project)
    findings = []
    for f in report.findings:
        if f.severity == "allowed":
            ctx.journal.emit(LintAllowed(rule=f.rule, revision=f.revision, path=f.path, line=f.line, reason=f.allowed))
            continue
        text = f"lint {f.path}:{f.line}: {f.rule}: {f.message}"
        findings.append(Finding(f.severity, text, source="lint", details=f.to_dict()))
    return findings
