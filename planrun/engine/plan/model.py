"""The plan's models. The core sections live here; check types, notifier types and extra
top-level sections come from plugins, so :func:`build_plan_model` assembles the final model
from what the loaded plugins contribute. A plugin's config therefore gets the same validation,
error messages and JSON Schema as a built-in's.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag, create_model
from pydantic_core import PydanticCustomError

from .types import Duration, ExpectationField, RevisionTargetField, parse_revision_target

EVENTS = ("start", "success", "failure", "rollback", "alert")
Event = Literal["start", "success", "failure", "rollback", "alert"]


class Section(BaseModel):
    """Base of every plan section: unknown keys are errors, never silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CheckConfig(Section):
    """Base of every check type. A check type's model has a field named like the type itself
    (``sql``, ``no_nulls``...): that key is how a plan item says which type it is."""

    check_type: ClassVar[str] = ""
    name: str | None = Field(None, description="A label for reports; defaults to a description of the check.")

    def label(self) -> str:
        if self.name:
            return self.name
        spec = getattr(self, self.check_type)
        if isinstance(spec, BaseModel):
            spec = " ".join(str(v) for v in spec.model_dump().values() if isinstance(v, (str, int, float)))
        return f"{self.check_type} {spec}"


class NotifierConfig(Section):
    """Base of every notifier type's config."""

    on: list[Event] = Field(list(EVENTS), description="The events this notifier hears.")


class AlembicTarget(Section):
    """Where the Alembic project is."""

    config: str = Field("alembic.ini", description="Path to alembic.ini (or to a pyproject.toml holding Alembic's "
                        "[tool.alembic], Alembic 1.16+), relative to the plan file.")
    section: str = Field("alembic", description="The ini section Alembic reads.")
    runner: Literal["direct", "thread", "anyio"] = Field(
        "direct", description="Where Alembic's commands run: direct (planrun's own thread), thread (a new thread of their "
        "own), or anyio (an AnyIO worker thread under a running event loop, for an env.py that calls "
        "anyio.from_thread.run as under its application's tooling)."
    )


class Target(Section):
    """The database the plan migrates. Write the URL as ${VAR}: a plan never holds a secret."""

    url: str = Field(..., description="SQLAlchemy-style URL of the database, usually ${DATABASE_URL}.")
    alembic: AlembicTarget = Field(default_factory=AlembicTarget, description="The Alembic project.")


class Migrate(Section):
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
        0, ge=0, le=100, description="When a revision gives up waiting for a lock (lock_timeout), run it again this many "
        "times, waiting 1s, 2s, 4s... (at most 30s) in between, before the run fails. A revision that committed part of its "
        "work outside its transaction is not retried."
    )


class Rollback(Section):
    """What to do when the migration or a post-check fails."""

    strategy: Literal["downgrade", "restore", "downgrade-then-restore"] = Field(
        "downgrade", description="downgrade (Alembic), restore (from the verified backup), or downgrade first then restore."
    )
    within: Duration = Field(timedelta(minutes=5), description="The rollback budget; a slower rollback is reported.")
    prove: list[Literal["schema", "data"]] | None = Field(
        None,
        description="What must equal its pre-run state for a rollback to count: schema (the catalog) and data "
        "(every table's rows). Default: [schema, data] when the strategy can restore, else [schema]. "
        "With data, writes made by the application during the run fail the proof.",
    )

    recover: Literal["back", "forward"] = Field(
        "back", description="What planrun recover does with a run that died: back (roll it back to where it started, "
        "and prove it) or forward (migrate again to its target and post-check: for revisions that can be run again)."
    )

    def methods(self) -> list[str]:
        return self.strategy.split("-then-")

    def proofs(self) -> list[str]:
        if self.prove is not None:
            return list(self.prove)
        return ["schema", "data"] if "restore" in self.methods() else ["schema"]


class Lock(Section):
    """The run's lock on the target database."""

    wait: Duration = Field(timedelta(0), description="How long to wait for another run's lock before giving up.")


class PlanBase(Section):
    """A migration plan: what runs against which database, how it is checked and undone."""

    version: Literal[1] = Field(..., description="The plan format version; always 1.")
    name: str = Field(..., pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", description="Short name of the plan, used in reports and backup paths.")
    description: str | None = Field(None, description="What this plan is for, for the reviewer.")
    phase: Literal["expand", "contract"] | None = Field(
        None, description="Expand (add, never remove: destructive operations are refused) or contract (remove what "
        "no running code uses any more: needs checks.gate, and destructive operations need lint.allow and a backup "
        "verified by restore)."
    )
    target: Target = Field(..., description="The database to migrate.")
    migrate: Migrate = Field(default_factory=Migrate, description="The migration step.")
    rollback: Rollback = Field(default_factory=Rollback, description="The rollback policy.")
    lock: Lock = Field(default_factory=Lock, description="The run's lock on the target.")
    plugins: list[str] = Field([], description="Python modules to load as plugins for this plan.")


def _tag_of_item(known: tuple[str, ...], value: Any) -> str | None:
    if isinstance(value, dict):
        for key in value:
            if key in known:
                return key
    if isinstance(value, BaseModel):
        return getattr(type(value), "check_type", None) or next(iter(type(value).model_fields), None)
    return None


def _tagger(known: tuple[str, ...]):
    def tag_of(value: Any) -> str | None:
        return _tag_of_item(known, value)

    return tag_of


def _known_key_validator(kind: str, known: tuple[str, ...]) -> BeforeValidator:
    def require_known_key(value: Any) -> Any:
        if isinstance(value, dict) and _tag_of_item(known, value) is None:
            raise PydanticCustomError(
                "unknown_plugin_type", "unknown {kind} type", {"kind": kind, "known": ", ".join(known)}
            )
        return value

    return BeforeValidator(require_known_key)


def _tagged_union(kind: str, members: dict[str, type[BaseModel]]) -> Any:
    """A union whose member is chosen by which of the members' keys an item holds."""
    known = tuple(members)
    check_known = _known_key_validator(kind, known)
    if not members:
        return Annotated[dict[str, Any], check_known]
    if len(members) == 1:
        (model,) = members.values()
        return Annotated[model, check_known]
    variants = tuple(Annotated[model, Tag(name)] for name, model in members.items())
    return Annotated[
        Union[variants],  # type: ignore[valid-type]
        Discriminator(_tagger(known)),
        check_known,
    ]


def notifier_item_model(name: str, config: type[NotifierConfig]) -> type[BaseModel]:
    """``{slack: {...}}``: a one-key mapping from the notifier type to its config."""
    return create_model(
        f"{config.__name__}Item",
        __config__=ConfigDict(extra="forbid", frozen=True),
        __doc__=config.__doc__,
        **{name: (config, Field(default_factory=config, description=config.__doc__))},
    )


def build_plan_model(
    check_types: dict[str, type[CheckConfig]],
    notifier_types: dict[str, type[NotifierConfig]],
    sections: dict[str, type[BaseModel]],
) -> type[PlanBase]:
    """The full plan model for the loaded plugins."""
    for name, model in check_types.items():
        model.check_type = name
    check_item = _tagged_union("check", check_types)
    notifier_items = {name: notifier_item_model(name, cfg) for name, cfg in notifier_types.items()}
    notifier_item = _tagged_union("notifier", notifier_items)
    checks = create_model(
        "Checks",
        __base__=Section,
        __doc__="SQL checks run before and after the migration, each in a READ ONLY transaction.",
        gate=(list[check_item], Field([], description="For phase: contract, checks that prove the contract is safe now "
                                      "(e.g. zero rows where the old and new columns differ); run first.")),
        pre=(list[check_item], Field([], description="Checks that must pass before anything changes.")),
        post=(list[check_item], Field([], description="Checks that must pass after the migration, or it is rolled back.")),
        statement_timeout=(Duration, Field(timedelta(seconds=60), description="Longest any one check may run; a slower "
                           "check fails (Postgres statement_timeout on the checks' connection).")),
        lock_timeout=(Duration, Field(timedelta(seconds=5), description="Longest a check may wait for a lock; a check "
                      "stuck behind another session fails instead of waiting (Postgres lock_timeout).")),
        url=(str | None, Field(None, description="Run checks through this URL instead of the target's (the same database, "
             "reached as a role that can only read, e.g. one granted pg_read_all_data). Write it as ${VAR}.")),
    )
    extra_sections = {
        name: (model | None, Field(None, description=model.__doc__)) for name, model in sections.items()
    }
    return create_model(
        "Plan",
        __base__=PlanBase,
        __doc__=PlanBase.__doc__,
        checks=(checks, Field(default_factory=checks, description=checks.__doc__)),
        notify=(list[notifier_item], Field([], description="Who hears about the run, and on which events.")),
        **extra_sections,
    )


def notifier_entries(plan: PlanBase) -> list[tuple[str, NotifierConfig]]:
    """The plan's notifiers as (type, config) pairs."""
    entries = []
    for item in getattr(plan, "notify", []):
        (name,) = type(item).model_fields
        entries.append((name, getattr(item, name)))
    return entries


def plan_secrets(value: Any) -> list[str]:
    """Every ``SecretStr`` value in the plan (webhook URLs, signing keys) and the password of
    every URL in it (the target's, ``checks.url``): the redactor keeps them out of every
    message, journal line and notification."""
    from pydantic import SecretStr

    from ..redact import url_password

    if isinstance(value, SecretStr):
        return [value.get_secret_value()]
    if isinstance(value, str):
        password = url_password(value) if "://" in value else None
        return [password] if password else []
    if isinstance(value, BaseModel):
        return [s for name in type(value).model_fields for s in plan_secrets(getattr(value, name))]
    if isinstance(value, (list, tuple)):
        return [s for item in value for s in plan_secrets(item)]
    if isinstance(value, dict):
        return [s for item in value.values() for s in plan_secrets(item)]
    return []
