"""Settling the transactions a two-phase run (``coordinate: atomic``) left in doubt between its
first PREPARE and its last COMMIT PREPARED, for ``planrun recover`` (:func:`planrun_settle`):
follow the decision the run recorded before committing anywhere (commit them all), and roll
them all back when there is none, so the targets agree. A run that died is then recovered as
any dead run is."""

from __future__ import annotations

from planrun.plugin import read_run

from .two_phase import finish, prepared_here


def settle_in_doubt(contexts: dict) -> None:
    """Commit every transaction of a run that recorded its decision to commit (it does so, in the
    journal and every target's store, before its first COMMIT PREPARED), else roll them all back.
    Transactions of a run still alive are left to it (:func:`prepared_here` skips them)."""
    prepared = {name: prepared_here(ctx) for name, ctx in contexts.items()}
    for run_id in sorted({run_id for found in prepared.values() for run_id in found}):
        events = _events(contexts, run_id)
        decided = any(e.get("event") == "commit_decision" and e.get("commit") for e in events)
        moved = [] if decided else _moved(contexts, prepared, run_id)
        decision = decided or bool(moved)
        if decided:
            said = "it had decided to commit: committing the rest"
        elif moved:
            said = f"no decision is recorded, but it had committed on {', '.join(map(str, moved))}: committing the rest"
        else:
            said = "it had not decided to commit (no decision recorded): rolling them all back"
        first = next(iter(contexts.values()))
        first.reporter.heading(f"run {run_id} left prepared transactions in doubt; {said}")
        for name, ctx in contexts.items():
            gid = prepared[name].get(run_id)
            if gid is None:
                continue
            ctx.hook.planrun_resume_state(ctx=ctx, events=[e for e in events if e.get("target_key") in (None, name)])
            first.reporter.info(f"    {name}: {finish(ctx, gid, decision)}")


def _events(contexts: dict, run_id: str) -> list[dict]:
    """The run's journal: its own file under the state directory when it is there, and every
    target store's copy (a target's records carry ``target_key``)."""
    found: list[dict] = []
    first = next(iter(contexts.values()))
    try:
        found += read_run(first.options.state_dir, run_id)
    except Exception:  # no journal here: the stores' copies are what there is
        pass
    for name, ctx in contexts.items():
        for event in ctx.hook.planrun_run_events(ctx=ctx, run_id=run_id) or []:
            found.append({"target_key": name, **event})
    return found


def _moved(contexts: dict, prepared: dict, run_id: str) -> list:
    """The last resort when no decision is recorded anywhere: the targets whose state moved
    from the snapshots the dead run took (it committed there)."""
    moved = []
    for name, ctx in contexts.items():
        if run_id in prepared[name]:
            continue
        dead = {run.run_id: run for run in ctx.hook.planrun_dead_runs(ctx=ctx) or []}.get(run_id)
        before = dict(dead.snapshots or {}) if dead is not None else {}
        now = {k: s for found in ctx.hook.planrun_snapshot(ctx=ctx) for k, s in (found or {}).items()}
        if before and any(now.get(k) != snap for k, snap in before.items()):
            moved.append(name)
    return moved
