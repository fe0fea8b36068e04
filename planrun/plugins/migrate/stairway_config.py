"""The plan's ``test:`` section: how ``planrun test`` round-trips the project."""

from __future__ import annotations

from pydantic import Field

from planrun.engine.plan.model import Section


class Fixture(Section):
    """A SQL file loaded when the stairway reaches its revision, so data is there when later
    revisions run. Without ``revision``, a ``-- planrun: revision ID`` line in the file names it;
    without either, it is loaded after the first revision."""

    file: str = Field(..., description="Path of the SQL file, relative to the plan file.")
    revision: str | None = Field(None, description="The revision the fixture was written for.")


class StairwayConfig(Section):
    """How planrun test round-trips every revision on a throwaway database."""

    from_: str | None = Field(None, alias="from", description="Start the stairway after this revision (default: base).")
    fixtures: list[Fixture] = Field([], description="SQL files to load at the revision they were written for.")
    heads: list[str] | None = Field(None, description="The heads the project may have (default: exactly one).")
    drift: bool = Field(
        True, description="After the stairway, compare the database with env.py's target_metadata (alembic check)."
    )
    prepare: str | None = Field(
        None,
        description="Run once on the empty scratch database before the first upgrade: a .sql file (relative to the "
        "plan), or a shell command (run in the plan's folder, with the scratch database's URL in the url_env "
        "variables, "
        "e.g. python -m myapp.create_all). For projects whose first revision alters tables the application creates.",
    )
    url_env: list[str] = Field(
        ["DATABASE_URL"],
        description="Environment variables set to the scratch database's URL while Alembic runs, for env.py files "
        "that read their URL from the environment.",
    )
