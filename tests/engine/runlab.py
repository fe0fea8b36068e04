"""A laboratory for the run model, as pytest's ``pytester`` is for pytest: the real engine
(plan loading, runner, rollback, proofs, claims) driven in-process against fake plugins and a
fake target, with no database and no Alembic, so that every phase and every failure point is
tested in milliseconds. Real PostgreSQL stays for what touches PostgreSQL.

The fake target is a dict of "tables"; its steps record what ran; faults are set on it:
``fail_at`` (a step's name, and what it raises), ``undo_restores`` (whether the rollback really
puts the tables back), ``unreachable_undos`` (how many undos fail as if the server were away),
``lock_gone`` (the lock cannot be held again before a rollback), ``wrote`` (tables the run says
it wrote) and ``scoped`` (the snapshot holds only these tables)."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import pluggy

from planrun.engine import hookspecs
from planrun.engine.api import make_context, target_contexts
from planrun.engine.context import RunOptions
from planrun.engine.errors import StepFailed, Unreachable
from planrun.engine.facts import Written
from planrun.engine.hookspecs import hookimpl
from planrun.engine.plan import load_plan
from planrun.engine.plan.rollback_section import RollbackMethod
from planrun.engine.plugins import Plugins
from planrun.engine.runner import RunResult, run, run_targets
from planrun.engine.snapshot import Snapshot
from planrun.engine.steps import Step

PHASE_OF = {
    "lock": "lock",
    "pre-checks": "pre-checks",
    "backup": "backup",
    "migrate": "migrate",
    "post-checks": "post-checks",
}


@dataclass
class FakeTarget:
    tables: dict[str, int] = field(default_factory=lambda: {"a": 1, "b": 2, "c": 3})
    ran: list[str] = field(default_factory=list)
    fail_at: str | None = None
    raises: type[BaseException] = StepFailed
    undo_restores: bool = True
    unreachable_undos: int = 0
    lock_gone: bool = False
    wrote: tuple[str, ...] | None = ("a",)
    scoped: frozenset[str] | None = None
    saved: dict[str, int] | None = None
    kept_open: int | None = None  # a change made with its commit deferred, not yet visible
    failed_commits: int = 0  # how many commits of a deferred change fail before one works
    lost_before: str | None = None  # this target's guard fails before that step (its lock lost)

    def run_step(self, name: str, ctx) -> str:
        self.ran.append(name)
        if name == "backup":
            self.saved = dict(self.tables)
        if name == "migrate":
            if ctx.defer_commit:
                self.kept_open = self.tables["a"] + 100
            else:
                self.tables["a"] += 100
            ctx.facts.publish(Written(self.wrote) if self.wrote is not None else Written(None, "unseen"))
        if self.fail_at == name:
            if name == "migrate":
                self.kept_open = None  # its own transaction went with the failure
            raise self.raises(f"{name} failed on purpose")
        return f"{name} ok"

    def finish(self, commit: bool) -> str | None:
        if self.kept_open is None:
            return None
        if commit and self.failed_commits:
            self.failed_commits -= 1
            self.ran.append("commit failed")
            raise Unreachable("the fake commit was cut")
        self.ran.append("commit" if commit else "abandon")
        if commit:
            self.tables["a"] = self.kept_open
        self.kept_open = None
        return "committed" if commit else "abandoned"

    def undo(self, ctx) -> str:
        self.ran.append("undo")
        if self.unreachable_undos > 0:
            self.unreachable_undos -= 1
            raise Unreachable("the fake server is away")
        if self.undo_restores and self.saved is not None:
            self.tables = dict(self.saved)
        return "undone"

    def snapshot(self) -> Snapshot:
        shown = {k: v for k, v in self.tables.items() if self.scoped is None or k in self.scoped}
        items = tuple(f"table {k}: {v}" for k, v in sorted(shown.items()))
        digest = hashlib.sha256("\n".join(items).encode()).hexdigest()
        if self.scoped is None:
            return Snapshot(digest, items, subject="every fake table")
        return Snapshot(digest, items, subject="the scoped tables", covers=self.scoped, covers_what="the fake scope")


class FakePlugin:
    """Every hook the run needs, answered by the fake target of the context (by its name in a
    plan over several targets)."""

    def __init__(self, targets: dict[str | None, FakeTarget]):
        self.targets = targets

    def of(self, ctx) -> FakeTarget:
        return self.targets[ctx.target_key]

    @hookimpl
    def planrun_steps(self, plan):
        return [
            Step(name, phase, lambda ctx, name=name: self.of(ctx).run_step(name, ctx))
            for name, phase in PHASE_OF.items()
        ]

    @hookimpl
    def planrun_snapshot(self, ctx):
        return {"world": self.of(ctx).snapshot()}

    @hookimpl
    def planrun_rollback_methods(self):
        return {
            "undo": RollbackMethod(lambda ctx: self.of(ctx).undo(ctx), "put the fake tables back", proves=("world",))
        }

    @hookimpl
    def planrun_hold_again(self, ctx, deadline):
        target = self.of(ctx)
        if target.lock_gone:
            target.ran.append("hold again: refused")
            raise StepFailed("the fake lock is held by another run")
        target.ran.append("hold again")

    @hookimpl
    def planrun_guard(self, ctx, before):
        if self.of(ctx).lost_before == before:
            raise StepFailed(f"the fake lock of {ctx.target_key} was lost")

    @hookimpl
    def planrun_finish_deferred(self, ctx, commit):
        return self.of(ctx).finish(commit)


@dataclass
class LabRun:
    result: RunResult
    output: str
    target: FakeTarget


@dataclass
class LabRuns:
    result: RunResult
    output: str
    targets: dict[str, FakeTarget]
    records: list[dict]


def _plugins(targets: dict[str | None, FakeTarget]) -> Plugins:
    manager = pluggy.PluginManager("planrun")
    manager.add_hookspecs(hookspecs)
    manager.hook.planrun_addhooks.call_historic(kwargs={"pluginmanager": manager})
    plugins = Plugins(manager)
    plugins.register(FakePlugin(targets), "fake")
    return plugins


def run_fake(tmp_path: Path, target: FakeTarget, rollback: str = "{strategy: undo, within: 2s}") -> LabRun:
    """One ``apply`` of a fake plan on ``target``: the engine's real run, in-process."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    plan = tmp_path / "fake.yaml"
    plan.write_text(f"version: 1\nname: fake\ntarget: {{url: 'fake://world'}}\nrollback: {rollback}\n")
    loaded = load_plan(plan, plugins=_plugins({None: target}))
    stream = io.StringIO()
    ctx = make_context(loaded, RunOptions(state_dir=str(tmp_path / "state"), command="apply"), stream)
    result = run(ctx)
    return LabRun(result, stream.getvalue(), target)


def run_fake_targets(
    tmp_path: Path, targets: dict[str, FakeTarget], coordinate: str, rollback: str = "{strategy: undo, within: 2s}"
) -> LabRuns:
    """One ``apply`` of a fake plan over several targets, as ``coordinate`` says."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    plan = tmp_path / "fake.yaml"
    listed = ", ".join(f"{name}: {{url: 'fake://{name}'}}" for name in targets)
    plan.write_text(f"version: 1\nname: fake\ntargets: {{{listed}}}\ncoordinate: {coordinate}\nrollback: {rollback}\n")
    loaded = load_plan(plan, plugins=_plugins(dict(targets)))
    stream = io.StringIO()
    state = tmp_path / "state"
    main = make_context(loaded, RunOptions(state_dir=str(state), command="apply"), stream)
    result = run_targets(main, target_contexts(main))
    records = [json.loads(line) for path in sorted(state.rglob("*.jsonl")) for line in path.read_text().splitlines()]
    return LabRuns(result, stream.getvalue(), targets, records)
