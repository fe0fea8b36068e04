"""The ``slack`` notifier's hooks (the notifier: :mod:`.slack_notifier`)."""

from __future__ import annotations

from planrun.plugin import hookimpl


@hookimpl
def planrun_notifier_types():
    from .slack_notifier import SlackNotifier

    return {"slack": SlackNotifier}
