"""The ``rollback:`` section: its strategies are what the loaded plugins' rollback methods allow,
so ``rollback.strategy`` is checked against them like any other value."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field, create_model

from .model import Section
from .types import Duration

if TYPE_CHECKING:
    from ..context import RunContext


@dataclass(frozen=True)
class RollbackMethod:
    """A way to undo a run (returned by ``planrun_rollback_methods``), chosen by name in
    ``rollback.strategy``.

    ``undo(ctx)`` undoes the run and returns a one-line summary, or raises (a
    :class:`~planrun.engine.errors.Unreachable` is tried again while ``rollback.within``
    allows); the runner then proves the result with the snapshots. ``proves``: what this
    method restores exactly, among the snapshot names (the default of ``rollback.prove``).
    ``last_resort``: it can only come last in a strategy (``a-then-b``), after one that is not.
    """

    undo: Callable[[RunContext], str]
    description: str
    proves: tuple[str, ...] = ()
    last_resort: bool = False


def strategies(methods: dict[str, RollbackMethod]) -> list[str]:
    """Every strategy the methods allow: each alone (those that are not a last resort first),
    then each that is not a last resort followed by each that is (``downgrade-then-restore``)."""
    names = sorted(methods, key=lambda name: methods[name].last_resort)
    chained = [
        f"{a}-then-{b}"
        for a in names
        for b in names
        if a != b and not methods[a].last_resort and methods[b].last_resort
    ]
    return names + chained


class RollbackBase(Section):
    """What to do when the migration or a post-check fails."""

    registry: ClassVar[dict[str, RollbackMethod]] = {}
    strategy: str
    over_budget: str
    prove: list[str] | None
    concurrent_writes: str

    def methods(self) -> list[str]:
        return self.strategy.split("-then-")

    def proofs(self) -> list[str]:
        if self.prove is not None:
            return list(self.prove)
        found: list[str] = []
        for name in self.methods():
            found += [proof for proof in self.registry[name].proves if proof not in found]
        return found


def rollback_model(methods: dict[str, RollbackMethod]) -> type[RollbackBase]:
    """The ``rollback:`` section, its strategies those of the loaded plugins' methods."""
    allowed = strategies(methods)
    proofs: list[str] = []
    for name in allowed[: len(methods)]:
        proofs += [proof for proof in methods[name].proves if proof not in proofs]
    strategy_type = Literal[tuple(allowed)] if allowed else str  # type: ignore[valid-type]
    proof_type = Literal[tuple(proofs)] if proofs else str  # type: ignore[valid-type]
    described = "; ".join(f"{name}: {methods[name].description}" for name in allowed[: len(methods)])
    model = create_model(
        "Rollback",
        __base__=RollbackBase,
        __doc__=RollbackBase.__doc__,
        strategy=(
            strategy_type,
            Field(
                allowed[0] if allowed else "",
                description="How to undo a failed run: one method, "
                f"or two as 'a-then-b' (the second when the first cannot be proven). {described}.",
            ),
        ),
        within=(
            Duration,
            Field(timedelta(minutes=5), description="The rollback budget; a slower rollback is reported."),
        ),
        prove=(
            list[proof_type] | None,
            Field(
                None,
                description="What must equal its pre-run state for a rollback to count. "
                "Default: what the strategy's methods restore exactly (a restore: the schema and every table's rows; a "
                "downgrade: the schema). With data, writes made by the application during the run fail the proof.",
            ),
        ),
        over_budget=(
            Literal["refuse", "warn"],
            Field(
                "refuse",
                description="What apply does when the preflight estimates that the rollback cannot meet within: "
                "refuse (exit 2, before any step that changes the target) or warn and go on.",
            ),
        ),
        concurrent_writes=(
            Literal["refuse", "keep", "discard"],
            Field(
                "refuse",
                description="What a restore does when other transactions wrote, during the run, to the tables it "
                "would replace (rows found by the transaction that wrote them; deletes by the server's counters): "
                "refuse (restore nothing over them; exit 3, the tables and row counts named), keep (a table-scoped "
                "restore merges by key: the run's own changes are undone and other writers' rows stay, which costs a "
                "merge instead of a load) or discard (restore the backup and lose those writes, said in the summary).",
            ),
        ),
        recover=(
            Literal["back", "forward"],
            Field(
                "back",
                description="What planrun recover does with a run that died: "
                "back (roll it back to where it started, and prove it) or forward (run its steps again to its target: "
                "for changes that can be made again).",
            ),
        ),
    )
    model.registry = dict(methods)
    return model
