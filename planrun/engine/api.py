"""The verbs, as plain functions: the CLI is a thin shell over these, and so can be any script.

Each takes a plan path and returns a result or raises a :class:`PlanrunError`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from . import claims
from .context import RunContext, RunOptions
from .errors import UsageError
from .facts import Facts
from .journal import Journal, NullJournal, TargetJournal, new_run_id, read_journals, read_run, run_summary
from .plan import LoadedPlan, load_plan, plan_model
from .plan.model import plan_secrets
from .plugins import load_plugins
from .redact import Redactor, url_password
from .report import Reporter
from .runner import RunResult, collect_steps, run
from .steps import HOLDING, Step


def validate(plan_path: str, environ: dict | None = None) -> LoadedPlan:
    """Load and validate a plan; raise :class:`PlanError` listing every problem."""
    return load_plan(plan_path, environ=environ)


def make_context(
    loaded: LoadedPlan, options: RunOptions, stream: TextIO | None, journal: Journal | None = None
) -> RunContext:
    """A run's context on the plan's target (a journal of its own unless one is given)."""
    url = loaded.plan.target.url if loaded.plan.target is not None else ""
    redact = Redactor([url_password(url) or "", *plan_secrets(loaded.plan)])
    reporter = Reporter(redact, stream)
    for failure in loaded.plugins.failures:
        reporter.warning(str(failure))
    if journal is None:
        try:
            journal = Journal(options.state_dir, new_run_id(), redact)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise UsageError(
                f"state directory {options.state_dir}: cannot write the run's journal there: {reason} "
                "(choose another with --state-dir)"
            ) from None
    facts = Facts([kind for kinds in loaded.plugins.hook.planrun_fact_types() for kind in (kinds or [])])
    return RunContext(loaded, url, journal.run_id, journal, reporter, redact, options, facts=facts)


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
    ctx = make_context(loaded, options, stream)
    if confirm is not None and not confirm(ctx):
        raise UsageError(claims.CANCELLED)
    if loaded.plan.target_names():
        from .coordinate import run_coordinated

        return run_coordinated(ctx, target_contexts(ctx))
    taken_over = ctx.hook.planrun_run_plan(ctx=ctx)
    return taken_over if taken_over is not None else run(ctx)


def target_contexts(main: RunContext) -> dict[str, RunContext]:
    """One context per target of a plan over several, sharing the run's id, console, redactor
    and journal (each target's records marked with its name)."""
    contexts = {}
    for name, view in main.loaded.views().items():
        facts = Facts([kind for kinds in view.plugins.hook.planrun_fact_types() for kind in (kinds or [])])
        journal = main.journal if isinstance(main.journal, NullJournal) else TargetJournal(main.journal, name)
        contexts[name] = RunContext(
            view, view.plan.target.url, main.run_id, journal, main.reporter, main.redact, main.options, facts=facts
        )
    return contexts


@dataclass
class DryRun:
    steps: list[str]
    sections: list[tuple[str, str]]
    findings: list


def plan(
    plan_path: str, *, options: RunOptions | None = None, stream: TextIO | None = None, environ: dict | None = None
) -> DryRun:
    """Say what ``apply`` would do, changing nothing and writing no journal."""
    loaded = load_plan(plan_path, environ=environ)
    options = options or RunOptions()
    options.command = "plan"
    main = make_context(loaded, options, stream, NullJournal())
    own = main.hook.planrun_describe_plan(ctx=main)
    if own is not None:
        main.reporter.heading(f"plan {loaded.plan.name} (dry run: nothing is changed)")
        for title, body in own:
            main.reporter.section(title, body)
        return DryRun([], own, [])
    several = bool(loaded.plan.target_names())
    contexts = target_contexts(main) if several else {None: main}
    if several:
        main.reporter.heading(f"plan {loaded.plan.name} on {main.target_name}, {loaded.plan.coordinate} (dry run)")
    result = DryRun([], [], [])
    for name, ctx in contexts.items():
        prefix = f"{name}: " if name else ""
        steps = [
            f"{prefix}{s.phase}: {s.name}" + (f" - {s.description}" if s.description else "")
            for s in collect_steps(ctx)
        ]
        ctx.reporter.heading(f"plan {loaded.plan.name} on {ctx.target_name} (dry run: nothing is changed)")
        ctx.reporter.section("steps apply would run", "\n".join(steps))
        sections = [
            (prefix + title, body) for found in ctx.hook.planrun_describe(ctx=ctx) for title, body in (found or [])
        ]
        for title, body in sections:
            ctx.reporter.section(title, body)
        findings = [f for found in ctx.hook.planrun_preflight(ctx=ctx) for f in (found or [])]
        for finding in findings:
            (ctx.reporter.error if finding.severity == "error" else ctx.reporter.warning)(prefix + finding.message)
        result.steps += steps
        result.sections += sections
        result.findings += findings
    return result


def open_context(
    loaded: LoadedPlan, options: RunOptions, *, stream: TextIO | None = None, journaled: bool = False
) -> RunContext:
    """A run context on the plan's target for a command a plugin contributes: journaled (a run
    under the lock, like ``restore``) or not (a look that changes nothing, like ``backups``)."""
    if loaded.plan.target_names() and loaded.target_key is None:
        raise UsageError(
            f"planrun {options.command} works on one database; plan {loaded.plan.name!r} has several "
            f"({', '.join(loaded.plan.target_names())})"
        )
    return make_context(loaded, options, stream, None if journaled else NullJournal())


def holding_steps(ctx: RunContext) -> list[Step]:
    """The steps of the first phase, which make the run the only one on its target: what a
    command that changes the target runs first."""
    return [s for s in collect_steps(ctx) if s.phase == HOLDING]


def recover(
    plan_path: str,
    *,
    options: RunOptions | None = None,
    confirm: Callable[[RunContext], bool] | None = None,
    stream: TextIO | None = None,
    environ: dict | None = None,
) -> RunResult:
    """Finish the runs on the plan's target that died: under the lock, roll each back to the
    state it started from and prove it (or forward, when the plan's ``rollback.recover`` says
    so), then record what was done. Idempotent: a recover that is killed can be run again. A plan
    over several targets is recovered target by target, each to its own proven starting state;
    the exit code is the worst of theirs."""
    loaded = load_plan(plan_path, environ=environ)
    options = options or RunOptions()
    options.command = "recover"
    if loaded.plan.target_names():
        from .in_doubt import settle_in_doubt

        settle_in_doubt(loaded, options, stream)
    results = [_recover(view, options, confirm, stream) for view in loaded.views().values()]
    return max(results, key=lambda result: result.exit_code)


def _recover(loaded: LoadedPlan, options: RunOptions, confirm, stream: TextIO | None) -> RunResult:
    from .runner import recovery_steps
    from .snapshot import Snapshot

    probe = make_context(loaded, RunOptions(state_dir=options.state_dir, command="recover"), stream, NullJournal())
    dead = probe.hook.planrun_dead_runs(ctx=probe)
    if dead is None:
        raise UsageError(
            "no plugin keeps runs in the database (is history: {enabled: false}?): nothing to recover from"
        )
    # a recover that died itself is only abandoned: the run it was recovering is still dead
    victims = [run for run in dead if run["command"] != "recover"]
    if not victims:
        if dead:
            return _abandon(loaded, options, stream, dead)
        probe.reporter.info(f"no run died on {probe.target_name}: nothing to recover")
        return RunResult(probe.run_id, "success", 0)
    victim = victims[0]
    ctx = make_context(loaded, options, stream)
    if confirm is not None and not confirm(ctx):
        raise UsageError(claims.CANCELLED)
    end = _recorded_end(victim, options.state_dir)
    if end is not None:  # it ended: its end only missed the store; a run that ended is never rolled back
        told = (
            f"it had ended ({end.get('outcome')}, exit {end.get('exit_code')}); its end is recorded now, nothing undone"
        )
        return _run_and_mark(ctx, holding_steps(ctx), None, [victim], told, ended=end)
    ctx.hook.planrun_resume_state(ctx=ctx, events=victim["events"])
    before = {
        name: Snapshot(snap["digest"], tuple(snap["items"])) for name, snap in (victim["snapshots"] or {}).items()
    }
    forward = ctx.plan.rollback.recover == "forward"
    if not before:  # it died before changing anything
        return _run_and_mark(
            ctx,
            holding_steps(ctx),
            None,
            dead,
            "it had not reached a step that changes the target (no pre-run snapshot was recorded)",
        )
    outcome = "completed forward" if forward else "rolled back and proven"
    return _run_and_mark(ctx, recovery_steps(ctx, victim["run_id"], before, forward), before, dead, outcome)


def _recorded_end(victim: dict, state_dir: str) -> dict | None:
    """The ``run_end`` record of a run the store lists as dead: in the store's copy of its
    journal, or in the journal under ``state_dir`` (the store may have been away at its end)."""
    for event in victim.get("events") or ():
        if event.get("event") == "run_end":
            return event
    try:
        records = read_run(state_dir, victim["run_id"])
    except Exception:  # no journal here: the store's copy is all there is
        return None
    return next((r for r in records if r.get("event") == "run_end"), None)


def _run_and_mark(
    ctx: RunContext, steps: list[Step], before, dead: list[dict], outcome: str, ended: dict | None = None
) -> RunResult:
    from .runner import run

    marked: list[str] = []

    def mark(ctx: RunContext) -> str:
        for run_ in dead:
            text = outcome if run_["command"] != "recover" else "a recover that died; finished by this one"
            ctx.hook.planrun_run_recovered(ctx=ctx, run_id=run_["run_id"], outcome=text, ended=ended)
            marked.append(run_["run_id"])
        return f"recorded: {', '.join(marked)}: {outcome}"

    return run(ctx, [*steps, Step("record recovery", "post-checks", mark)], preflight=False, before=before)


def _abandon(loaded: LoadedPlan, options: RunOptions, stream: TextIO | None, dead: list[dict]) -> RunResult:
    ctx = make_context(loaded, options, stream)
    return _run_and_mark(ctx, holding_steps(ctx), None, dead, "a recover that died with nothing left to recover")


@dataclass
class Status:
    sections: list[dict]

    @property
    def problems(self) -> list[str]:
        return [p for section in self.sections for p in section.get("problems", [])]

    def to_json(self) -> str:
        return json.dumps(
            {"sections": self.sections, "problems": self.problems, "ok": not self.problems}, indent=2, default=str
        )


def status(plan_path: str, *, environ: dict | None = None) -> Status:
    """Where the plan's target stands: its revision and what is pending, edited applied files,
    the last runs, any run that died, and drift since the last successful run. Changes nothing."""
    loaded = load_plan(plan_path, environ=environ)
    own = loaded.plugins.hook.planrun_plan_status(
        ctx=make_context(loaded, RunOptions(command="status"), None, NullJournal())
    )
    if own is not None:
        return Status(own)
    sections = []
    for name, view in loaded.views().items():
        ctx = make_context(view, RunOptions(command="status"), None, NullJournal())
        for found in ctx.hook.planrun_status(ctx=ctx):
            for section in found or []:
                sections.append({**section, "title": f"{name}: {section['title']}"} if name else section)
    return Status(sections)


def history(state_dir: str = ".planrun") -> list[dict]:
    """One summary per past run, oldest first."""
    return [run_summary(records) for records in read_journals(state_dir)]


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
