"""The ``log`` notifier: events on the console (and, like every event, in the journal)."""

from __future__ import annotations

from dataclasses import dataclass

from planrun.plugin import JournalEvent, NotifierConfig


@dataclass(frozen=True)
class NotificationLogged(JournalEvent):
    """The ``log`` notifier's event, as it printed it."""

    name = "notification"
    notifier: str = "log"
    kind: str = ""
    message: str = ""


class LogNotifier(NotifierConfig):
    """Print each event on the console."""

    def deliver(self, ctx, event) -> None:
        ctx.reporter.info(f"[{event.kind}] {event.message}")
        ctx.journal.emit(NotificationLogged(notifier="log", kind=event.kind, message=event.message))
