"""The ``values_in`` check's hooks (the check: :mod:`.values_in_check`)."""

from __future__ import annotations

from planrun.plugin import hookimpl


@hookimpl
def planrun_check_types():
    from .values_in_check import ValuesIn

    return {"values_in": ValuesIn}
