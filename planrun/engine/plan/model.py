"""The plan's models. Only what every run has lives here (its name, its target's URL, the
rollback policy, its notifiers); every other section, the target's other keys, the check and
notifier types and the rollback methods come from plugins, and :func:`build_plan_model`
assembles the final model from what the loaded plugins contribute. A plugin's config therefore
gets the same validation, error messages and JSON Schema as a built-in's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

if TYPE_CHECKING:
    from ..context import RunContext
    from .rollback_section import RollbackMethod

EVENTS = ("start", "success", "failure", "rollback", "alert")
EventKind = Literal["start", "success", "failure", "rollback", "alert"]

MAX_NAME = 100  # a plan's name is a label in paths, reports and the database: short
MAX_DESCRIPTION = 4000


class Section(BaseModel):
    """Base of every plan section: unknown keys are errors, never silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CheckConfig(Section):
    """Base of every check type. A check type's model has a field named like the type itself
    (``sql``, ``no_nulls``...): that key is how a plan item says which type it is. It also
    defines ``run(self, ctx, baseline) -> CheckResult``, which runs the check on a read-only
    connection (a type without one is refused when it is registered)."""

    check_type: ClassVar[str] = ""
    name: str | None = Field(None, description="A label for reports; defaults to a description of the check.")
    target: str | None = Field(
        None, description="In a plan over several targets, the one this check runs on (without it: on each)."
    )
    when: Literal["always", "apply", "test", "rollback"] = Field(
        "always",
        description="Where the check runs: always (apply and test); apply (a real run only: a check that needs "
        "production's rows, such as count(*) > 0, which the stairway's empty scratch database would fail); test (the "
        "stairway only, at the last revision); or rollback (planrun rollback only: the plan's other checks describe "
        "the release, not the state before it).",
    )

    def applies_to(self, command: str) -> bool:
        """Whether this check runs for ``command`` (``test`` is the stairway, ``rollback`` a
        release rollback; every other a run)."""
        if command == "rollback" or self.when == "rollback":
            return command == self.when
        return self.when == "always" or (self.when == "test") == (command == "test")

    def label(self) -> str:
        if self.name:
            return self.name
        spec = getattr(self, self.check_type)
        if isinstance(spec, BaseModel):
            spec = " ".join(str(v) for v in spec.model_dump().values() if isinstance(v, (str, int, float)))
        return f"{self.check_type} {spec}"

    def baseline(self, ctx: RunContext) -> Any:
        """Called before anything changes (during pre-checks): what the check needs from the
        database as it was (a row count), handed back to :meth:`run`; ``None`` by default."""
        return None


class NotifierConfig(Section):
    """Base of every notifier type's config. A notifier type also defines
    ``deliver(self, ctx, event)``, raising to say delivery failed (the engine retries with
    backoff, then records a warning: a notifier never changes a run's outcome); a type without
    one is refused when it is registered."""

    on: list[EventKind] = Field(list(EVENTS), description="The events this notifier hears.")


@dataclass(frozen=True)
class PlanSection:
    """A plan key a plugin owns (returned by ``planrun_plan_sections``).

    ``model`` is the value's type (usually a :class:`Section` model). Absent from a plan, the
    key is ``None``, or, with ``always``, the model built from its defaults. A key
    ``target.NAME`` adds ``NAME`` to the target's section instead of the plan's top level.
    ``per_target``: in a plan over several targets, each target may set its own value
    (``targets.NAME.KEY``), which replaces the plan's for that target.
    """

    model: Any
    description: str = ""
    always: bool = False
    per_target: bool = False


@dataclass(frozen=True)
class PlanItems:
    """What a section's model may contain that other plugins define (handed to
    ``planrun_plan_sections``): ``check`` is the type of one check of any registered type."""

    check: Any


class Target(Section):
    """The database the plan migrates. Write the URL as ${VAR}: a plan never holds a secret."""

    url: str = Field(..., description="SQLAlchemy-style URL of the database, usually ${DATABASE_URL}.")


TARGET_NAME = r"^[A-Za-z0-9][A-Za-z0-9_\-]*$"


class PlanBase(Section):
    """A migration plan: what runs against which database, how it is checked and undone."""

    if TYPE_CHECKING:  # the plan's sections are the plugins' (planrun_plan_sections): known at load, not here

        def __getattr__(self, name: str) -> Any: ...

    coordinate: Literal["all-or-nothing", "atomic", "independent"] = Field(
        "all-or-nothing",
        description="With targets: all-or-nothing (every target is locked, checked and backed up before any "
        "changes; a failure anywhere rolls back every target that moved, in reverse order, each proven), atomic "
        "(as all-or-nothing, and every target's migration runs in one transaction that is prepared, then "
        "committed on all targets only once all have prepared: no target ever commits alone; needs "
        "max_prepared_transactions > 0 and revisions that never commit on their own) or independent (a failed "
        "target is rolled back alone; the others go on).",
    )

    @model_validator(mode="before")
    @classmethod
    def _one_target_or_several(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if "target" not in data and "targets" not in data:
                raise PydanticCustomError("missing_target", "missing required key 'target' (or 'targets', for several)")
            if "target" in data and "targets" in data:
                raise PydanticCustomError(
                    "both_targets", "a plan has target: (one database) or targets: (several), not both"
                )
        return data

    def target_names(self) -> list[str]:
        """The names of a plan's targets, sorted (the order they are locked and migrated in)."""
        targets = getattr(self, "targets", None)
        return sorted(targets) if targets else []

    version: Literal[1] = Field(..., description="The plan format version; always 1.")
    name: str = Field(
        ...,
        max_length=MAX_NAME,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$",
        description="Short name of the plan, used in reports and backup paths.",
    )
    description: str | None = Field(
        None, max_length=MAX_DESCRIPTION, description="What this plan is for, for the reviewer."
    )
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
        Union[variants],  # noqa: UP007 - a union built from a tuple of members
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


def handlers_missing(check_types: dict[str, type], notifier_types: dict[str, type]) -> list[str]:
    """Types registered without the method that makes them work, named for the error."""
    missing = []
    for kind, types, method in (("check", check_types, "run"), ("notifier", notifier_types, "deliver")):
        for name, model in types.items():
            if not callable(getattr(model, method, None)):
                missing.append(f"{kind} type {name!r} ({model.__module__}.{model.__qualname__}) has no {method}()")
    return missing


def check_item_type(check_types: dict[str, type[CheckConfig]]) -> Any:
    """The type of one check of any registered type (chosen by which type's key it holds)."""
    for name, model in check_types.items():
        model.check_type = name
    return _tagged_union("check", check_types)


def _field(section: PlanSection | type[BaseModel]) -> tuple[Any, Any]:
    if not isinstance(section, PlanSection):
        section = PlanSection(section, section.__doc__ or "")
    description = section.description or getattr(section.model, "__doc__", None)
    if section.always:
        return section.model, Field(default_factory=section.model, description=description)
    return section.model | None, Field(None, description=description)


def build_plan_model(
    check_types: dict[str, type[CheckConfig]],
    notifier_types: dict[str, type[NotifierConfig]],
    sections: dict[str, PlanSection | type[BaseModel]],
    rollback_methods: dict[str, RollbackMethod],
) -> type[PlanBase]:
    """The full plan model for the loaded plugins."""
    notifier_items = {name: notifier_item_model(name, cfg) for name, cfg in notifier_types.items()}
    notifier_item = _tagged_union("notifier", notifier_items)
    target_fields = {key.split(".", 1)[1]: _field(s) for key, s in sections.items() if key.startswith("target.")}
    target = create_model("Target", __base__=Target, __doc__=Target.__doc__, **target_fields)
    overrides = {
        key: (_field(s)[0] | None, Field(None, description=f"This target's own {key}: section, instead of the plan's."))
        for key, s in sections.items()
        if isinstance(s, PlanSection) and s.per_target
    }
    target_entry = create_model(
        "TargetEntry", __base__=target, __doc__="One database of a plan over several.", **overrides
    )
    from .rollback_section import rollback_model

    rollback = rollback_model(rollback_methods)
    top_fields = {key: _field(s) for key, s in sections.items() if "." not in key}
    return create_model(
        "Plan",
        __base__=PlanBase,
        __doc__=PlanBase.__doc__,
        target=(target, Field(None, description="The database to migrate (or targets:, for several).")),
        targets=(
            dict[Annotated[str, StringConstraints(pattern=TARGET_NAME)], target_entry],
            Field(
                None,
                min_length=1,
                description="Several databases migrated by one run, by name (instead of target:); see "
                "coordinate. Checks name theirs with target: NAME (without it, a check runs on each).",
            ),
        ),
        rollback=(rollback, Field(default_factory=rollback, description="The rollback policy.")),
        notify=(list[notifier_item], Field([], description="Who hears about the run, and on which events.")),
        **top_fields,
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
