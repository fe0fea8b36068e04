"""The ``row_count_unchanged`` check's hooks (the check: :mod:`.row_count_check`)."""

from __future__ import annotations

from planrun.plugin import hookimpl


@hookimpl
def planrun_check_types():
    from .row_count_check import RowCountUnchanged

    return {"row_count_unchanged": RowCountUnchanged}
