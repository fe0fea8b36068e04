"""Connecting a run's control to the rest of the run: an abort reaches the plugins that can
cancel work in flight (``planrun_abort``); pauses, progress and the notes the work leaves go to
the journal and the console."""

from __future__ import annotations

import time

from .context import RunContext
from .control import Progress
from .errors import describe_error
from .run_events import CONTROL_CHANGES, ProgressReported


def bind_control(ctx: RunContext) -> None:
    """Connect the run's control to the plugins that can cancel work in flight, the journal and
    the console."""
    control = ctx.control
    last_logged: dict[str, float] = {}

    def on_abort(reason: str) -> None:
        try:
            ctx.hook.planrun_abort(ctx=ctx, reason=reason)
        except Exception as exc:
            ctx.reporter.warning(f"could not cancel the running work: {describe_error(exc)}")

    def on_change(what: str, why: str) -> None:
        ctx.journal.emit(CONTROL_CHANGES[what](why))
        ctx.reporter.event(what, f"{what}: {why}", level="warn" if what == "abort" else "info")

    def on_progress(progress: Progress) -> None:
        now = time.monotonic()
        finished = progress.total is not None and progress.done >= progress.total
        if not finished and now - last_logged.get(progress.name, 0.0) < 1.0:
            return
        last_logged[progress.name] = now
        eta = round(progress.eta, 1) if progress.eta is not None else None
        ctx.journal.emit(ProgressReported(progress.name, progress.done, progress.total, round(progress.rate, 1), eta))
        ctx.reporter.live(
            "progress",
            [progress.text()],
            name=progress.name,
            done=progress.done,
            total=progress.total,
            rate=round(progress.rate, 1),
            eta=eta,
        )

    control.steering.when_aborted(on_abort)
    control.steering.when_changed(on_change)
    control.progress.when_progress(on_progress)
    control.notes.when_noted(ctx.journal.emit)
