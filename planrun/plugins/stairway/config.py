"""The plan's ``test:`` section: how ``planrun test`` round-trips the project."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from planrun.plugin import Duration, Section


class Fixture(Section):
    """A SQL file loaded when the stairway reaches its revision, so data is there when later
    revisions run. Without ``revision``, a ``-- planrun: revision ID`` line in the file names it;
    without either, it is loaded after the first revision."""

    file: str = Field(..., description="Path of the SQL file, relative to the plan file.")
    revision: str | None = Field(None, description="The revision the fixture was written for.")


MAX_ROWS = 10**10  # generated rows per table: past it, a typo, not a production size


class GeneratedData(Section):
    """Generated rows the stairway runs on, so every revision meets tables of production's size:
    filled once at the start revision, and every table a revision creates filled before the next."""

    rows: int = Field(100_000, ge=0, le=MAX_ROWS, description="Rows generated into every table.")
    tables: dict[str, Annotated[int, Field(ge=0, le=MAX_ROWS)]] = Field(
        {}, description="Rows for particular tables (table: rows), instead of rows."
    )
    seed: int = Field(0, ge=-(2**63), le=2**63 - 1, description="The same seed gives the same rows.")
    edge_share: float = Field(
        0.05, ge=0.0, le=1.0, description="Share of values that are edge cases (NULL, empty, maximal, emoji...)."
    )


class ClientLoadConfig(Section):
    """Clients that read and write rows while each revision's upgrade and downgrade run."""

    rate: float = Field(200.0, gt=0, description="Transactions per second, all clients together.")
    clients: int = Field(4, ge=1, le=64, description="Clients (connections).")


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
    data: GeneratedData | None = Field(
        None, description="Run the stairway on generated rows (as planrun test --data generated does)."
    )
    load: ClientLoadConfig | None = Field(
        None, description="A synthetic client workload during every upgrade and downgrade (planrun test --load)."
    )
    max_lock_hold: Duration | None = Field(
        None,
        description="A revision that holds a lock blocking writers (SHARE or stronger) on a table that existed "
        "before it longer than this fails its case, naming the lock, the table and the statement.",
    )
    max_client_wait: Duration | None = Field(
        None, description="With a load: a revision during which a client transaction took longer than this fails."
    )
    url_env: list[str] = Field(
        ["DATABASE_URL"],
        description="Environment variables set to the scratch database's URL while Alembic runs, for env.py files "
        "that read their URL from the environment.",
    )
