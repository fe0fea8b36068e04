"""The ``log`` notifier: events on the console (and, like every event, in the journal)."""
from __future__ import annotations

from planrun.engine.hookspecs import hookimpl
from planrun.engine.plan.model import NotifierConfig


class LogNotifier(NotifierConfig):
    """Print each event on the console."""


@hookimpl
def planrun_notifier_types():
    return {"log": LogNotifier}


@hookimpl
def planrun_notify(ctx, notifier, event):
    if not isinstance(notifier, LogNotifier):
        return None
    ctx.reporter.info(f"[{event.kind}] {event.message}")
    ctx.journal.record("notification", notifier="log", kind=event.kind, message=event.message)
    return True
