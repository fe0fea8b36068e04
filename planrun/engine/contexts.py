"""Building a run's contexts: its journal, console, redactor and facts on the plan's target,
and one context per target for a plan over several. Below the verbs (:mod:`.api`) and the
recovery of dead runs (:mod:`.recover`), which both start runs from them."""

from __future__ import annotations

from typing import TextIO

from .context import RunContext, RunOptions
from .errors import UsageError
from .facts import Fact, Facts, RollbackOutcome
from .journal import Journal, NullJournal, TargetJournal, new_run_id
from .journal_events import DeclaredEvents
from .plan import LoadedPlan
from .plan.model import plan_secrets
from .plugins import Plugins
from .redact import Redactor, remember, url_password
from .report import Reporter


def make_context(
    loaded: LoadedPlan, options: RunOptions, stream: TextIO | None, journal: Journal | None = None
) -> RunContext:
    """A run's context on the plan's target (a journal of its own unless one is given)."""
    url = loaded.plan.target.url if loaded.plan.target is not None else ""
    redact = Redactor([url_password(url) or "", *plan_secrets(loaded.plan)])
    remember(redact)
    reporter = Reporter(redact, stream)
    for failure in loaded.plugins.failures:
        reporter.warning(str(failure))
    if journal is None:
        try:
            journal = Journal(options.state_dir, new_run_id(), redact)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise UsageError(
                f"state directory {options.state_dir}: cannot write the run's journal there: {reason} "
                "(choose another with --state-dir)"
            ) from None
    journal.declare(DeclaredEvents(loaded.plugins.journal_events()))
    return RunContext(loaded, url, journal.run_id, journal, reporter, redact, options, facts=_run_facts(loaded))


def _run_facts(loaded: LoadedPlan) -> Facts:
    """A run's facts: the types its plugins publish during the run, declared (notifications
    carry their keys even when unknown). What the plan says is not among them: it is the
    plan's (``ctx.plan_facts``), not learnt by the run, and stays out of the run's record."""
    return Facts(fact_types(loaded.plugins))


def fact_types(plugins: Plugins) -> list[type[Fact]]:
    """The fact types a run declares: the engine's own (the rollback's outcome), then each
    plugin's (``planrun_fact_types``); notifications carry their keys, empty until learnt."""
    return [RollbackOutcome, *(kind for kinds in plugins.hook.planrun_fact_types() for kind in (kinds or []))]


def target_contexts(main: RunContext) -> dict[str | None, RunContext]:
    """One context per target of a plan over several, sharing the run's id, console, redactor
    and journal (each target's records marked with its name)."""
    contexts = {}
    for name, view in main.loaded.views().items():
        facts = _run_facts(view)
        journal: Journal | TargetJournal = main.journal
        if isinstance(main.journal, Journal) and not isinstance(main.journal, NullJournal):
            journal = TargetJournal(main.journal, name)
        contexts[name] = RunContext(
            view, view.plan.target.url, main.run_id, journal, main.reporter, main.redact, main.options, facts=facts
        )
    return contexts
