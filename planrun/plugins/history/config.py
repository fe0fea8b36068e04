"""The plan's ``history:`` section."""

from __future__ import annotations

from pydantic import Field, field_validator

from planrun.plugin import Section


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

    @field_validator("schema_name")
    @classmethod
    def _planrun_owned(cls, value: str) -> str:
        """planrun's store is left out of every fingerprint, backup and proof: an application's
        schema there would blind them all. So it must be a schema planrun creates; one that
        exists already without planrun's mark is refused at preflight (see the plugin)."""
        if value == "public":
            raise ValueError(
                "'public' is PostgreSQL's default schema, where applications keep their tables; planrun leaves its "
                "store out of every backup and proof, so name a schema of planrun's own (the default: planrun)"
            )
        if value.startswith("pg_") or value == "information_schema":
            raise ValueError(f"{value!r} is a system schema; name a schema of planrun's own (the default: planrun)")
        return value


DEFAULT = HistoryConfig()
