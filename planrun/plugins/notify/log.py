"""The ``log`` notifier: events on the console (and, like every event, in the journal)."""

from __future__ import annotations

from planrun.plugin import NotifierConfig, hookimpl


class LogNotifier(NotifierConfig):
    """Print each event on the console."""

    def deliver(self, ctx, event) -> None:
        ctx.reporter.info(f"[{event.kind}] {event.message}")
        ctx.journal.record("notification", notifier="log", kind=event.kind, message=event.message)


@hookimpl
def planrun_notifier_types():
    return {"log": LogNotifier}
