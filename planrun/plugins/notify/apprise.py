"""The ``apprise`` notifier's hooks (the notifier: :mod:`.apprise_notifier`)."""

from __future__ import annotations

from planrun.plugin import hookimpl


@hookimpl
def planrun_notifier_types():
    from .apprise_notifier import AppriseNotifier

    return {"apprise": AppriseNotifier}
