"""Settling the transactions a two-phase run (``coordinate: atomic``) left in doubt between its
first PREPARE and its last COMMIT PREPARED: ``planrun recover`` follows the decision the run
recorded before committing anywhere (commit them all), and rolls them all back when there is
none, so the targets agree."""

from __future__ import annotations

from typing import TextIO

from .context import RunOptions
from .journal import NullJournal
from .plan import LoadedPlan
from .snapshot import Snapshot


def settle_in_doubt(loaded: LoadedPlan, options: RunOptions, stream: TextIO | None) -> None:
    """A two-phase run that stopped between its first PREPARE and its last COMMIT PREPARED (it
    died, or a COMMIT PREPARED failed) left transactions in doubt: commit them all if the run
    had recorded its decision to commit (it does so, in the journal and every target's store,
    before its first COMMIT PREPARED), else roll them all back. The targets then agree, and a
    run that died is recovered as any dead run is. Transactions of a run still alive are left
    to it."""
    from .api import make_context, target_contexts

    probe = make_context(loaded, RunOptions(state_dir=options.state_dir, command="recover"), stream, NullJournal())
    contexts = target_contexts(probe)
    prepared = {name: ctx.hook.planrun_prepared(ctx=ctx) or {} for name, ctx in contexts.items()}
    for run_id in sorted({run_id for found in prepared.values() for run_id in found}):
        events = _events(contexts, run_id, options.state_dir)
        decided = any(e.get("event") == "commit_decision" and e.get("commit") for e in events)
        moved = [] if decided else _moved(contexts, prepared, run_id)
        decision = decided or bool(moved)
        if decided:
            said = "it had decided to commit: committing the rest"
        elif moved:
            said = f"no decision is recorded, but it had committed on {', '.join(moved)}: committing the rest"
        else:
            said = "it had not decided to commit (no decision recorded): rolling them all back"
        probe.reporter.heading(f"run {run_id} left prepared transactions in doubt; {said}")
        for name, ctx in contexts.items():
            gid = prepared[name].get(run_id)
            if gid is None:
                continue
            ctx.hook.planrun_resume_state(ctx=ctx, events=[e for e in events if e.get("target_key") in (None, name)])
            summary = ctx.hook.planrun_finish_prepared(ctx=ctx, gid=gid, commit=decision)
            probe.reporter.info(f"    {name}: {summary}")


def _events(contexts: dict, run_id: str, state_dir: str) -> list[dict]:
    """The run's journal: its own file under ``state_dir`` when it is there, and every target
    store's copy (a target's records carry ``target_key``)."""
    from .journal import read_run

    found: list[dict] = []
    try:
        found += read_run(state_dir, run_id)
    except Exception:  # no journal here: the stores' copies are what there is
        pass
    for name, ctx in contexts.items():
        for event in ctx.hook.planrun_run_events(ctx=ctx, run_id=run_id) or []:
            found.append({"target_key": name, **event})
    return found


def _moved(contexts: dict, prepared: dict, run_id: str) -> list[str]:
    """The last resort when no decision is recorded anywhere: the targets whose state moved
    from the snapshots the dead run took (it committed there)."""
    moved = []
    for name, ctx in contexts.items():
        if run_id in prepared[name]:
            continue
        dead = {run["run_id"]: run for run in ctx.hook.planrun_dead_runs(ctx=ctx) or []}.get(run_id)
        before = {k: Snapshot(s["digest"], tuple(s["items"])) for k, s in ((dead or {}).get("snapshots") or {}).items()}
        now = {k: s for found in ctx.hook.planrun_snapshot(ctx=ctx) for k, s in (found or {}).items()}
        if before and any(now.get(k) != snap for k, snap in before.items()):
            moved.append(name)
    return moved
