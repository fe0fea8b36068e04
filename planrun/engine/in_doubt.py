"""Settling the transactions a two-phase run (``coordinate: atomic``) left in doubt when it died
between its first PREPARE and its last COMMIT PREPARED: ``planrun recover`` commits them all if
the run had committed on any target, and rolls them all back otherwise, so the targets agree."""

from __future__ import annotations

from typing import TextIO

from .context import RunOptions
from .journal import NullJournal
from .plan import LoadedPlan
from .snapshot import Snapshot


def settle_in_doubt(loaded: LoadedPlan, options: RunOptions, stream: TextIO | None) -> None:
    """A two-phase run that died between its first PREPARE and its last COMMIT PREPARED left
    transactions in doubt: commit them all if the run committed on any target (that target's
    state moved from the snapshots the run took), else roll them all back. The targets then
    agree, and are recovered as any dead run is."""
    from .api import make_context, target_contexts

    probe = make_context(loaded, RunOptions(state_dir=options.state_dir, command="recover"), stream, NullJournal())
    contexts = target_contexts(probe)
    prepared = {name: ctx.hook.planrun_prepared(ctx=ctx) or {} for name, ctx in contexts.items()}
    dead_runs = {
        name: {run["run_id"]: run for run in ctx.hook.planrun_dead_runs(ctx=ctx) or []}
        for name, ctx in contexts.items()
    }
    dead_ids = {run_id for runs in dead_runs.values() for run_id in runs}
    for run_id in sorted({run_id for found in prepared.values() for run_id in found} & dead_ids):  # never a live run
        committed = []
        for name, ctx in contexts.items():
            if run_id in prepared[name]:
                continue
            dead = dead_runs[name].get(run_id)
            before = {
                k: Snapshot(s["digest"], tuple(s["items"])) for k, s in ((dead or {}).get("snapshots") or {}).items()
            }
            now = {k: s for found in ctx.hook.planrun_snapshot(ctx=ctx) for k, s in (found or {}).items()}
            if before and any(now.get(k) != snap for k, snap in before.items()):
                committed.append(name)
        decision = bool(committed)
        probe.reporter.heading(
            f"run {run_id} died with prepared transactions in doubt; "
            + (
                f"it had committed on {', '.join(committed)}: committing the rest"
                if decision
                else "it had committed nowhere: rolling them all back"
            )
        )
        for name, ctx in contexts.items():
            gid = prepared[name].get(run_id)
            if gid is None:
                continue
            dead = dead_runs[name].get(run_id)
            if dead is not None:
                ctx.hook.planrun_resume_state(ctx=ctx, events=dead["events"])
            summary = ctx.hook.planrun_finish_prepared(ctx=ctx, gid=gid, commit=decision)
            probe.reporter.info(f"    {name}: {summary}")
