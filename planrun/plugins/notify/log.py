"""The ``log`` notifier's hooks (the notifier: :mod:`.log_notifier`)."""

from __future__ import annotations

from planrun.plugin import hookimpl


@hookimpl
def planrun_journal_events():
    from .log_notifier import NotificationLogged

    return [NotificationLogged]


@hookimpl
def planrun_notifier_types():
    from .log_notifier import LogNotifier

    return {"log": LogNotifier}
