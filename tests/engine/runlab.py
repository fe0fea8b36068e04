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
from dataclasses import dataclass, field
from pathlib import Path

import pluggy

from planrun.engine import hookspecs
from planrun.engine.api import make_context
from planrun.engine.context import RunOptions
from planrun.engine.errors import StepFailed, Unreachable
from planrun.engine.facts import Written
from planrun.engine.hookspecs import hookimpl
from planrun.engine.plan import load_plan
from planrun.engine.plan.rollback_section import RollbackMethod
from planrun.engine.plugins import Plugins
from planrun.engine.runner import RunResult, run
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

    def step(self, name: str):
        def run_step(ctx) -> str:
            self.ran.append(name)
            if name == "backup":
                self.saved = dict(self.tables)
            if name == "migrate":
                self.tables["a"] += 100
                ctx.facts.publish(Written(self.wrote) if self.wrote is not None else Written(None, "unseen"))
            if self.fail_at == name:
                raise self.raises(f"{name} failed on purpose")
            return f"{name} ok"

        return run_step

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
    def __init__(self, target: FakeTarget):
        self.target = target

    @hookimpl
    def planrun_steps(self, plan):
        return [Step(name, phase, self.target.step(name)) for name, phase in PHASE_OF.items()]

    @hookimpl
    def planrun_snapshot(self, ctx):
        return {"world": self.target.snapshot()}

    @hookimpl
    def planrun_rollback_methods(self):
        return {"undo": RollbackMethod(self.target.undo, "put the fake tables back", proves=("world",))}

    @hookimpl
    def planrun_hold_again(self, ctx, deadline):
        if self.target.lock_gone:
            self.target.ran.append("hold again: refused")
            raise StepFailed("the fake lock is held by another run")
        self.target.ran.append("hold again")


@dataclass
class LabRun:
    result: RunResult
    output: str
    target: FakeTarget


def run_fake(tmp_path: Path, target: FakeTarget, rollback: str = "{strategy: undo, within: 2s}") -> LabRun:
    """One ``apply`` of a fake plan on ``target``: the engine's real run, in-process."""
    manager = pluggy.PluginManager("planrun")
    manager.add_hookspecs(hookspecs)
    manager.hook.planrun_addhooks.call_historic(kwargs={"pluginmanager": manager})
    plugins = Plugins(manager)
    plugins.register(FakePlugin(target), "fake")
    tmp_path.mkdir(parents=True, exist_ok=True)
    plan = tmp_path / "fake.yaml"
    plan.write_text(f"version: 1\nname: fake\ntarget: {{url: 'fake://world'}}\nrollback: {rollback}\n")
    loaded = load_plan(plan, plugins=plugins)
    stream = io.StringIO()
    ctx = make_context(loaded, RunOptions(state_dir=str(tmp_path / "state"), command="apply"), stream)
    result = run(ctx)
    return LabRun(result, stream.getvalue(), target)
