"""Telling the plan's notifiers, with retries. A notifier that keeps failing becomes a warning in
the journal and on the console; it never changes the run's outcome."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import __version__
from .events import Event
from .plan.model import notifier_entries
from .retry import retrying
from .run_events import Notified, NotifyFailed

if TYPE_CHECKING:
    from .context import RunContext

RETRY_DELAYS = (0.5, 1.0, 2.0)


def notify(
    ctx: RunContext, kind: str, message: str, *, error: str | None = None, duration: float | None = None, **extra: Any
) -> None:
    """Tell every notifier that listens to ``kind``; ``extra`` adds payload keys that belong to
    this event alone (an alert's rule)."""
    event = Event(
        kind=kind,
        plan=ctx.plan.name,
        run_id=ctx.run_id,
        target=ctx.target_name,
        message=ctx.redact(message),
        facts={"planrun_version": __version__, "alert": None, **ctx.facts.payload(), **extra},
        error=ctx.redact(error) if error else None,
        duration=duration,
    )
    for type_name, notifier in notifier_entries(ctx.plan):
        if kind in notifier.on:
            _deliver(ctx, type_name, notifier, event)


def _deliver(ctx: RunContext, type_name: str, notifier: Any, event: Event) -> None:
    tries = 0

    def once() -> None:
        nonlocal tries
        tries += 1
        notifier.deliver(ctx, event)

    try:  # the notifier's own failure, retried
        retrying(once, again=lambda _error: True, pauses=lambda n: RETRY_DELAYS[n - 1], attempts=1 + len(RETRY_DELAYS))
    except Exception as exc:
        last_error = f"{type(exc).__name__}: {exc}"
    else:
        ctx.journal.emit(Notified(type_name, event.kind, tries))
        return
    ctx.journal.emit(NotifyFailed(type_name, event.kind, last_error))
    ctx.reporter.warning(f"notifier {type_name} could not deliver the {event.kind} event: {last_error}")
