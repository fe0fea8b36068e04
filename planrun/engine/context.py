"""What a run carries from step to step."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .control import RunControl
from .facts import Facts
from .journal import Journal, TargetJournal, read_journals
from .redact import Redactor, describe_url

if TYPE_CHECKING:
    from .plan import LoadedPlan
    from .plan.model import PlanBase
    from .report import Reporter


@dataclass
class RunOptions:
    """How the command was asked to run (from the CLI; plain values, no globals). ``flags``
    holds the command's own arguments and those plugins added to it (``--wait``), by name."""

    state_dir: str = ".planrun"
    command: str = "apply"
    flags: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunContext:
    """One run against one target.

    ``target_url`` is handed in rather than read from the plan by steps, so a coordinated run
    over several databases is the same plan with several contexts. ``state`` is where plugins
    keep what a later hook of theirs needs (keys prefixed with the plugin's name);
    ``facts`` holds what they learnt, typed (see :mod:`.facts`), for other plugins, reports
    and notifications.
    """

    loaded: LoadedPlan
    target_url: str
    run_id: str
    journal: Journal | TargetJournal
    reporter: Reporter
    redact: Redactor
    options: RunOptions = field(default_factory=RunOptions)
    state: dict[str, Any] = field(default_factory=dict)
    facts: Facts = field(default_factory=Facts)
    resources: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    control: RunControl = field(default_factory=RunControl)
    # a run over several targets that must commit them all or none asks the changing step to
    # keep its change open; the plugin then commits or rolls it back in planrun_finish_deferred
    defer_commit: bool = False

    @property
    def target_key(self) -> str | None:
        """In a plan over several targets, the name of this context's target (None otherwise)."""
        return self.loaded.target_key

    @property
    def plan(self) -> PlanBase:
        return self.loaded.plan

    @property
    def plan_facts(self) -> Facts:
        """What the plan's sections say that other plugins read (``planrun_plan_facts``): a
        plugin reads another's settings here, never from the other's section."""
        return self.loaded.plugins.plan_facts(self.plan)

    @property
    def hook(self) -> Any:
        return self.loaded.plugins.hook

    @property
    def target_name(self) -> str:
        """The target as it may be shown: host, port and database, no credentials (for a run
        over several targets, their names)."""
        if not self.target_url and self.loaded.plan.target_names():
            return ", ".join(self.loaded.plan.target_names())
        return describe_url(self.target_url)

    def past_records(self, event: str | None = None) -> Iterator[dict]:
        """Records of earlier runs from the journal (this run's included), oldest first."""
        for records in read_journals(self.options.state_dir):
            for record in records:
                if event is None or record.get("event") == event:
                    yield record
