"""The ``no_nulls`` check's hooks (the check: :mod:`.no_nulls_check`)."""

from __future__ import annotations

from planrun.plugin import hookimpl


@hookimpl
def planrun_check_types():
    from .no_nulls_check import NoNulls

    return {"no_nulls": NoNulls}
