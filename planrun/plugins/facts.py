"""The run facts the built-in plugins publish and read from each other, typed (revision ids,
not their display): a shared module, so that reading another plugin's fact never means
importing that plugin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from planrun.plugin import Fact

if TYPE_CHECKING:
    from .alembic_project.revision_target import RevisionTarget


def show(heads: tuple[str, ...] | None) -> str:
    """Heads as people read them: ``a1, b2``, or ``base (empty)`` before the first revision."""
    return ", ".join(heads) if heads else "base (empty)"


@dataclass(frozen=True)
class Revisions(Fact):
    """Where the target was before the run (``before``: read in the preflight), where the
    migration started and where it was asked to go."""

    before: tuple[str, ...] | None = None
    start: tuple[str, ...] | None = None
    target: str | None = None
    committed: str | None = None  # what a failed upgrade left committed, in words
    rolling_back: bool = False  # a release rollback (planrun rollback): the run downgrades to ``target``

    payload_schema: ClassVar[dict[str, dict[str, Any]]] = {
        "revision_from": {
            "type": ["string", "null"],
            "description": "Where the migration started (heads joined by ', '; 'base (empty)' before the first "
            "revision); null before it was read.",
        },
        "revision_to": {"type": ["string", "null"], "description": "The revision the run was asked to reach."},
    }

    @property
    def origin(self) -> tuple[str, ...] | None:
        return self.start if self.start is not None else self.before

    def payload(self) -> dict[str, Any]:
        origin = self.origin
        return {"revision_from": show(origin) if origin is not None else None, "revision_to": self.target}


@dataclass(frozen=True)
class BackupTaken(Fact):
    """Where the run's backup was written (published by the backup plugin), and, for a backup
    scoped to what the migration touches, the tables it holds (``schema.name``): the data
    fingerprint and the rollback's data proof cover those tables only."""

    location: str | None = None
    tables: tuple[str, ...] | None = None  # None: the whole database

    payload_schema: ClassVar[dict[str, dict[str, Any]]] = {
        "backup_location": {
            "type": ["string", "null"],
            "description": "Where the run's backup was written (an fsspec URL, no credentials); null: none yet.",
        },
        "backup_scope": {"type": "string", "description": "'database', or 'N table(s): schema.name, ...'."},
    }

    def payload(self) -> dict[str, Any]:
        scope = "database" if self.tables is None else f"{len(self.tables)} table(s): {', '.join(self.tables)}"
        return {"backup_location": self.location, "backup_scope": scope}


@dataclass(frozen=True)
class RollbackEstimate(Fact):
    """What the preflight estimated a restore would take (published by the backup plugin)."""

    seconds: float = 0.0
    bytes: int = 0
    throughput: float = 0.0  # bytes per second
    measured: bool = False  # from this target's own verify-by-restore timings (else the default)
    scope: str = "database"

    payload_schema: ClassVar[dict[str, dict[str, Any]]] = {
        "rollback_estimate_seconds": {
            "type": "number",
            "description": "What the preflight estimated a restore of the backup would take.",
        },
        "rollback_estimate_scope": {"type": "string", "description": "What that restore would cover."},
    }

    def payload(self) -> dict[str, Any]:
        return {"rollback_estimate_seconds": round(self.seconds, 1), "rollback_estimate_scope": self.scope}


@dataclass(frozen=True)
class RunTransactions(Fact):
    """The run's own committed transactions on the target (published by the plugin that
    migrates, read inside each just before it commits): their ids (64-bit, as
    ``pg_current_xact_id()``) and the rows they deleted per table. A restore tells rows other
    transactions wrote during the run from the run's own by them. ``rolled_back_writes``: a
    transaction of the run wrote and was rolled back, so its deletes were not counted."""

    xids: tuple[int, ...] = ()
    deleted: tuple[tuple[str, int], ...] = ()
    rolled_back_writes: bool = False


# --- plan facts: what one plugin's section of the plan says that others read (planrun_plan_facts)


@dataclass(frozen=True)
class MigrationSettings(Fact):
    """What the plan's ``migrate:`` says (stated by migrate): the revision to reach (as the
    plan wrote it: ``head``, an id, ``+N``) and the timeouts every Alembic command of the plan
    runs under, the target's and a scratch database's alike (``None``: not set)."""

    to: RevisionTarget | None = None
    lock_timeout: timedelta | None = None
    statement_timeout: timedelta | None = None


@dataclass(frozen=True)
class BackupPolicy(Fact):
    """What the plan's ``backup:`` promises (stated by backup): whether the run backs up at all,
    how the backup is verified (``checksum``, ``read``, ``restore``) and what it covers."""

    backed_up: bool = False
    verify: str | None = None
    scope: str | None = None

    @property
    def verified_by_restore(self) -> bool:
        return self.backed_up and self.verify == "restore"


@dataclass(frozen=True)
class ReleasePhase(Fact):
    """The plan's ``phase:`` (stated by lint): ``expand`` (add, never remove), ``contract``
    (remove what no running code uses), or ``None`` (neither said)."""

    phase: str | None = None


@dataclass(frozen=True)
class ScratchDatabase(Fact):
    """How the plan's Alembic project runs on a database planrun made for it (stated by the
    stairway, from ``test:``): the environment variables env.py reads its URL from (``chosen``:
    the plan named them, rather than the defaults), and what prepares a fresh database."""

    url_env: tuple[str, ...] = ()
    chosen: bool = False
    prepare: str | None = None


@dataclass(frozen=True)
class PostChecks(Fact):
    """The plan's post-checks (stated by checks), each a check type's configuration with its
    ``run``, ``baseline``, ``applies_to`` and ``label``: the stairway runs them at every revision."""

    checks: tuple[Any, ...] = ()
