"""The plan's ``lock:`` section."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from planrun.plugin import Duration, Section


class LockConfig(Section):
    """The run's lock on the target database."""

    wait: Duration = Field(timedelta(0), description="How long to wait for another run's lock before giving up.")
