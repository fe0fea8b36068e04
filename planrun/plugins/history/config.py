"""The plan's ``history:`` section."""

from __future__ import annotations

from pydantic import Field

from planrun.engine.plan.model import Section


class HistoryConfig(Section):
    """Where planrun keeps its memory in the target database: the record of every applied
    revision (with its file's sha256) and of every run. Without this section it is the schema
    ``planrun``."""

    schema_name: str = Field(
        "planrun",
        alias="schema",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="The schema planrun creates in the target for its records.",
    )
    enabled: bool = Field(True, description="false: keep nothing in the database (the journal under --state-dir only).")


DEFAULT = HistoryConfig()
