"""The migrate plugin's plan keys: ``target.alembic`` (where the Alembic project is) and
``migrate`` (how far, and how long a migration may wait or run)."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field

from planrun.plugin import Duration, Section

from ..alembic_project.revision_target import RevisionTargetField, parse_revision_target


class AlembicTarget(Section):
    """Where the Alembic project is."""

    config: str = Field(
        "alembic.ini",
        description="Path to alembic.ini (or to a pyproject.toml holding Alembic's "
        "[tool.alembic], Alembic 1.16+), relative to the plan file.",
    )
    section: str = Field("alembic", description="The ini section Alembic reads.")
    setup: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$",
        max_length=200,
        description="The application's own setup, as module:function, called once before the revisions are "
        "imported and env.py runs (test, lint, plan and apply alike): for revisions that read configuration the "
        "application's CLI initialises before it runs Alembic. Imported from the Alembic project's folder.",
    )
    runner: Literal["direct", "thread", "anyio"] = Field(
        "direct",
        description="Where Alembic's commands run: direct (planrun's own thread), thread (a new thread of their "
        "own), or anyio (an AnyIO worker thread under a running event loop, for an env.py that calls "
        "anyio.from_thread.run as under its application's tooling).",
    )


class MigrateConfig(Section):
    """How far to migrate and how long the migration may wait or run."""

    to: RevisionTargetField = Field(parse_revision_target("head"), description="head, a revision id, or +N.")
    lock_timeout: Duration | None = Field(
        timedelta(seconds=5),
        description="Longest wait for a lock before a statement gives up (Postgres lock_timeout).",
    )
    statement_timeout: Duration | None = Field(
        None, description="Longest any one statement of the migration may run (Postgres statement_timeout)."
    )
    lock_retries: int = Field(
        0,
        ge=0,
        le=100,
        description="When a revision gives up waiting for a lock (lock_timeout), run it again this many "
        "times, waiting 1s, 2s, 4s... (at most 30s) in between, before the run fails. A revision that committed part "
        "of its "
        "work outside its transaction is not retried.",
    )
