"""What a run carries from step to step."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Iterator

from .control import RunControl
from .journal import Journal, read_journals
from .redact import Redactor, describe_url

if TYPE_CHECKING:
    from .plan import LoadedPlan
    from .plan.model import PlanBase
    from .report import Reporter


@dataclass
class RunOptions:
    """How the command was asked to run (from the CLI; plain values, no globals)."""

    state_dir: str = ".planrun"
    wait: timedelta | None = None  # overrides plan.lock.wait
    command: str = "apply"
    metrics_port: int | None = None  # serve the monitor's metrics for Prometheus on this port


@dataclass
class TestOptions:
    """How ``planrun test`` was asked to run."""

    __test__ = False

    server_url: str | None = None  # a server to make the scratch database on; None: a throwaway cluster
    keep_going: bool = False
    prepare: str | None = None  # overrides the plan's test.prepare
    verbose: bool = False  # let Alembic and env.py print as they go instead of capturing it per case


@dataclass
class LintOptions:
    """How ``planrun lint`` was asked to run."""

    url: str | None = None  # a live database: lint what is pending there, rank findings by table size
    from_revision: str | None = None  # lint after this revision (default: from base)


@dataclass
class RunContext:
    """One run against one target.

    ``target_url`` is handed in rather than read from the plan by steps, so a coordinated run
    over several databases is the same plan with several contexts. ``state`` is where plugins
    keep what a later hook of theirs needs (keys prefixed with the plugin's name);
    ``facts`` is what they learnt that reports and notifications should say.
    """

    loaded: LoadedPlan
    target_url: str
    run_id: str
    journal: Journal
    reporter: Reporter
    redact: Redactor
    options: RunOptions = field(default_factory=RunOptions)
    state: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    resources: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    control: RunControl = field(default_factory=RunControl)

    @property
    def plan(self) -> PlanBase:
        return self.loaded.plan

    @property
    def hook(self) -> Any:
        return self.loaded.plugins.hook

    @property
    def target_name(self) -> str:
        """The target as it may be shown: host, port and database, no credentials."""
        return describe_url(self.target_url)

    @property
    def lock_wait(self) -> timedelta:
        return self.options.wait if self.options.wait is not None else self.plan.lock.wait

    def past_records(self, event: str | None = None) -> Iterator[dict]:
        """Records of earlier runs from the journal (this run's included), oldest first."""
        for records in read_journals(self.options.state_dir):
            for record in records:
                if event is None or record.get("event") == event:
                    yield record
