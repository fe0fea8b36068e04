"""The verbs, as plain functions: the CLI is a thin shell over these, and so can be any script.

Each takes a plan path and returns a result or raises a :class:`PlanrunError`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from . import claims
from .context import RunContext, RunOptions
from .contexts import make_context, target_contexts
from .errors import UsageError
from .journal import NullJournal, read_journals, run_summary
from .plan import LoadedPlan, load_plan, plan_model
from .plugins import load_plugins
from .runner import RunResult, collect_steps, run, run_targets
from .steps import StatusSection


def validate(plan_path: str, environ: dict | None = None) -> LoadedPlan:
    """Load and validate a plan; raise :class:`PlanError` listing every problem."""
    return load_plan(plan_path, environ=environ)


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
    refuse(loaded, "apply")
    options = options or RunOptions()
    options.command = "apply"
    ctx = make_context(loaded, options, stream)
    if confirm is not None and not confirm(ctx):
        raise UsageError(claims.CANCELLED)
    if loaded.plan.target_names():
        return run_targets(ctx, target_contexts(ctx))
    return run(ctx)


def refuse(loaded: LoadedPlan, command: str) -> None:
    """Stop, exit 2, when a plugin says ``command`` must not run this plan (a fleet plan)."""
    why = loaded.plugins.hook.planrun_refuse(plan=loaded.plan, command=command)
    if why:
        raise UsageError(why)


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
    refuse(loaded, "plan")
    options = options or RunOptions()
    options.command = "plan"
    main = make_context(loaded, options, stream, NullJournal())
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


def recover(
    plan_path: str,
    *,
    options: RunOptions | None = None,
    confirm: Callable[[RunContext], bool] | None = None,
    stream: TextIO | None = None,
    environ: dict | None = None,
) -> RunResult:
    """Finish what runs on the plan's targets left unfinished: see :mod:`.recover`."""
    from .recover import recover_plan

    loaded = load_plan(plan_path, environ=environ)
    refuse(loaded, "recover")
    options = options or RunOptions()
    options.command = "recover"
    return recover_plan(loaded, options, confirm, stream)


@dataclass
class Status:
    sections: list[StatusSection]

    @property
    def problems(self) -> list[str]:
        return [p for section in self.sections for p in section.problems]

    def to_json(self) -> str:
        sections = [dataclasses.asdict(section) for section in self.sections]
        return json.dumps({"sections": sections, "problems": self.problems, "ok": not self.problems}, indent=2)


def status(plan_path: str, *, environ: dict | None = None) -> Status:
    """Where the plan's target stands: its revision and what is pending, edited applied files,
    the last runs, any run that died, and drift since the last successful run. Changes nothing."""
    loaded = load_plan(plan_path, environ=environ)
    refuse(loaded, "status")
    sections = []
    for name, view in loaded.views().items():
        ctx = make_context(view, RunOptions(command="status"), None, NullJournal())
        for found in ctx.hook.planrun_status(ctx=ctx):
            for section in found or []:
                sections.append(dataclasses.replace(section, title=f"{name}: {section.title}") if name else section)
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


def schema_text(notifications: bool = False) -> str:
    document = notification_schema() if notifications else schema()
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def notification_schema(closed: bool = False) -> dict:
    """The JSON Schema of the notification payload for planrun's built-in plugins: the engine's
    keys and every fact type's a run declares (``closed``: no other key, as the built-ins'
    payloads are tested)."""
    from .contexts import fact_types
    from .events import payload_schema

    return payload_schema(fact_types(load_plugins(autoload=False)), closed=closed)
