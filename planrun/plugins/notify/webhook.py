"""The ``webhook`` notifier's hooks (the notifier: :mod:`.webhook_notifier`)."""

from __future__ import annotations

from planrun.plugin import hookimpl


@hookimpl
def planrun_notifier_types():
    from .webhook_notifier import WebhookNotifier

    return {"webhook": WebhookNotifier}
