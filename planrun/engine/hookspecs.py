"""Every hook planrun calls, in one file: the whole plugin contract.

A plugin is a module (or object) with functions named like these hooks, marked with
``@hookimpl``. Built-ins register through the ``planrun`` entry-point group exactly as
third-party plugins do; a plan can also load modules through its ``plugins:`` list.

Hooks that return a value to a caller that wants one answer are ``firstresult``: the first
plugin that returns something other than ``None`` wins, and ``None`` means "not mine".
Other hooks collect every plugin's answer into a list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import argparse

    from pydantic import BaseModel

    from .commands import Command
    from .context import RunContext
    from .facts import Fact
    from .journal_events import JournalEvent
    from .outcome import RunResult
    from .plan.model import CheckConfig, NotifierConfig, PlanBase, PlanItems, PlanSection
    from .plan.rollback_section import RollbackMethod
    from .plugins import Plugins
    from .snapshot import Snapshot
    from .steps import DeadRun, Finding, StatusSection, Step

hookspec = pluggy.HookspecMarker("planrun")
hookimpl = pluggy.HookimplMarker("planrun")


@hookspec(historic=True)
def planrun_addhooks(pluginmanager: pluggy.PluginManager) -> None:
    """Called when a plugin is registered (historic: a plugin registered later is called too).
    Add hook specifications that only some plugins share (``pluginmanager.add_hookspecs``), so
    that two plugins can agree on a contract the engine knows nothing about: the migrate and
    history plugins share theirs through :mod:`planrun.plugins.alembic_project.hookspecs`."""


# --- what a plan may contain -------------------------------------------------------------


@hookspec
def planrun_check_types() -> dict[str, type[CheckConfig]]:
    """Called once when the plan model is built. Return ``{type_name: ConfigModel}``.

    The model subclasses :class:`~planrun.engine.plan.model.CheckConfig`, has a field named
    ``type_name`` (a plan item holding that key is a check of this type, e.g.
    ``{no_nulls: {table: users, column: status}}``) and implements ``run(ctx, baseline)`` (and,
    when it compares with the database as it was, ``baseline(ctx)``): the type and its handler
    are registered together. Validation, error messages and the JSON Schema come from the model.
    """


@hookspec
def planrun_notifier_types() -> dict[str, type[NotifierConfig]]:
    """Called once when the plan model is built. Return ``{type_name: ConfigModel}``; a plan's
    ``notify:`` item ``{type_name: {...}}`` is validated by the model (a
    :class:`~planrun.engine.plan.model.NotifierConfig` subclass), whose ``deliver(ctx, event)``
    sends it."""


@hookspec
def planrun_plan_sections(items: PlanItems) -> dict[str, PlanSection | type[BaseModel]]:
    """Called once when the plan model is built. Return ``{key: PlanSection}`` for the plan keys
    this plugin owns (``migrate``, ``backup``...; ``target.alembic`` adds a key to the target).
    A bare model is an optional section (``None`` when absent). ``items`` gives the types other
    plugins define that a section may hold (``items.check``: one check of any type)."""


@hookspec
def planrun_rollback_methods() -> dict[str, RollbackMethod]:
    """Called once when the plan model is built. Return ``{name: RollbackMethod}`` for the ways
    this plugin can undo a run (``downgrade``, ``restore``); ``rollback.strategy`` accepts them
    by name, and the runner calls the method's ``undo`` when the plan's strategy names it."""


@hookspec
def planrun_fact_types() -> list[type[Fact]]:
    """Called when a run is prepared. Return the :class:`~planrun.engine.facts.Fact` types this
    plugin publishes (``ctx.facts.publish(...)``): notifications then carry their keys, empty,
    even when the run ended before the fact was learnt."""


@hookspec
def planrun_journal_events() -> list[type[JournalEvent]]:
    """Called when the plugins are loaded. Return the
    :class:`~planrun.engine.journal_events.JournalEvent` types this plugin records
    (``ctx.journal.emit(...)``): other plugins subscribe to them by type
    (``ctx.journal.subscribe``) instead of parsing journal records, and ``planrun plugins``
    lists them. Every event a plugin records must be declared here, with its fields: a record
    of an undeclared name or field is a warning (an error under ``PLANRUN_STRICT_EVENTS``, as in
    planrun's own tests). An event name two plugins declare is an error naming both."""


# --- the command line ---------------------------------------------------------------------


@hookspec
def planrun_commands() -> list[Command]:
    """Called when the command line is built. Return the
    :class:`~planrun.engine.commands.Command` verbs this plugin contributes (``planrun
    backups``, ``planrun lint``); a name already taken is an error naming both plugins."""


@hookspec
def planrun_command_options(command: Command, parser: argparse.ArgumentParser) -> None:
    """Called for every command once its own arguments are added: add options of this plugin's
    to ``parser`` (an ``argparse`` parser), e.g. ``--wait`` to each command with
    ``runs_steps``. Their values reach the run as ``ctx.options.flags[dest]``."""


@hookspec
def planrun_validate_plan(plan: PlanBase, plan_file: str, plugins: Plugins) -> list[tuple[tuple, str]] | None:
    """Called after the plan passed its models, for rules that span sections and for what the
    plan names on disk (``plan_file`` is the plan's path: relative paths in it start from its
    folder). ``plugins`` is the loaded :class:`planrun.engine.plugins.Plugins`, for a plugin
    that collects its own hook's answers to judge the plan. Must stay quick and import nothing
    heavy: ``validate`` runs it.

    Return problems as ``(path, message)`` pairs, the path a tuple of keys into the plan
    (``("rollback", "strategy")``); they are reported with the file position of that path.
    """


@hookspec
def planrun_plan_facts(plan: PlanBase) -> list[Fact] | None:
    """Called when a plan's facts are first asked for (once per plan, and for each target of a
    plan over several). Return what this plugin's own section of ``plan`` says that other
    plugins need, as typed :class:`~planrun.engine.facts.Fact` instances (the migration's
    timeouts, whether the backup is verified by a restore...). Another plugin reads them with
    ``plugins.plan_facts(plan).get(Kind)``, or ``ctx.plan_facts.get(Kind)`` in a run (the same facts;
    they stay out of the run's own ``ctx.facts`` and its record), never from this plugin's
    section, whose shape is this plugin's to change. Must stay quick: ``validate`` asks for them."""


# --- what a run does ----------------------------------------------------------------------


@hookspec
def planrun_steps(plan: PlanBase) -> list[Step] | None:
    """Called when a run is prepared. Return the steps this plugin contributes to the run.

    Each :class:`~planrun.engine.steps.Step` names its phase; the runner orders steps by phase
    (see ``PHASES``), keeping each plugin's order within a phase. Return ``None`` or ``[]``
    when the plan does not ask for this plugin's steps.
    """


@hookspec
def planrun_preflight(ctx: RunContext) -> list[Finding] | None:
    """Called by ``plan`` and ``apply`` after the lock is taken (apply) or on a read-only look
    (plan), before anything changes. Return findings; ``apply`` refuses to start when any has
    severity ``error`` (e.g. an applied revision whose file has changed since)."""


@hookspec
def planrun_describe(ctx: RunContext) -> list[tuple[str, str]] | None:
    """Called by the dry run (``planrun plan``). Return ``(title, text)`` sections telling what
    this plugin would do: pending revisions, the SQL they emit, and so on. Must not change the
    database."""


@hookspec
def planrun_snapshot(ctx: RunContext) -> dict[str, Snapshot] | None:
    """Called before the migrate phase and again after each rollback attempt. Return named
    :class:`~planrun.engine.snapshot.Snapshot` values; a rollback is proven only when every
    snapshot taken after it equals the one taken before the run."""


@hookspec(firstresult=True)
def planrun_refuse(plan: PlanBase, command: str) -> str | None:
    """Called by every command that runs or describes a plan on its target (``apply``, ``plan``,
    ``status``, ``recover``, ``test``), before anything connects: why this plugin's section makes
    the plan one that ``command`` must not run (a fleet plan's ``target.url`` is a template:
    its own ``planrun fleet-apply`` runs it). The command stops with that message, exit 2.
    ``None``: the plan is not this plugin's to refuse."""


@hookspec
def planrun_run_started(ctx: RunContext) -> None:
    """Called once a run has started (its ``run_start`` is in the journal), before its first
    step. For work that lives as long as the run (watching for an operator's commands): register
    its end with ``ctx.resources.callback``, which runs when the run ends."""


@hookspec
def planrun_guard(ctx: RunContext, before: str) -> None:
    """Called at every step boundary once the run's first step is done: before each later step
    (``before`` is its name) and before the run is declared a success (``before`` is
    ``"success"``). Raise to stop the run there, saying why: the lock plugin raises when the
    run's lock was lost, so nothing runs unlocked. A failure at or after ``migrate`` is rolled
    back like any failed step. Must be quick; return ``None`` when all is well."""


@hookspec
def planrun_snapshot_taken(ctx: RunContext, snapshots: dict[str, Snapshot]) -> None:
    """Called with the snapshots taken before the migrate phase (see :func:`planrun_snapshot`).
    A plugin that remembers runs keeps them: a run that dies can then still be rolled back and
    proven later (``planrun recover``)."""


@hookspec
def planrun_run_finished(ctx: RunContext, result: RunResult) -> None:
    """Called once a run has ended (its ``run_end`` is in the journal), still under its lock,
    with the :class:`~planrun.engine.runner.RunResult`. For plugins that record runs."""


# --- runs that died, and what planrun remembers -------------------------------------------


@hookspec(firstresult=True)
def planrun_dead_runs(ctx: RunContext) -> list[DeadRun] | None:
    """Called under the run's lock (by ``apply``'s preflight and by ``planrun recover``). Return
    the runs on this target that started, never ended and whose process is gone, oldest first,
    each a :class:`~planrun.engine.steps.DeadRun` (who, where, the step it died at, the
    snapshots it took before changing anything, its journal). ``None``: this plugin keeps no
    runs."""


@hookspec
def planrun_resume_state(ctx: RunContext, events: list[dict]) -> None:
    """Called by ``planrun recover`` before it rolls a dead run back (or forward), with that
    run's journal. Put back in ``ctx.state`` what your plugin's rollback needs (the migrate
    plugin: the revision the run started from and what it had committed)."""


@hookspec(firstresult=True)
def planrun_run_events(ctx: RunContext, run_id: str) -> list[dict] | None:
    """Called by a plugin settling what a run left undecided (:func:`planrun_settle`): the run's
    journal records as this target keeps them (``[{"event": ..., **fields}]``, oldest
    first), whether the run died or ended; ``None`` when this plugin keeps none. The first
    answer wins."""


@hookspec
def planrun_hold_again(ctx: RunContext, deadline: float) -> None:
    """Called once before a rollback's first method: hold again whatever the run must hold
    while it changes the target (the lock plugin: the run's lock, if it was lost). Return when
    it is held; raise when it cannot be held by ``deadline`` (a ``time.monotonic()`` value:
    the rollback's start plus ``rollback.within``): nothing is then rolled back without it, and
    the run ends with exit 3."""


@hookspec
def planrun_run_recovered(ctx: RunContext, run_id: str, outcome: str, ended: dict | None) -> None:
    """Called when ``planrun recover`` has dealt with the dead run ``run_id``: record
    ``outcome`` (``rolled back``, ``completed``, ``abandoned``...) so it is no longer dead.
    ``ended``: the run's own ``run_end`` journal record when it had ended after all (its end
    only missed the store): record that outcome as the run's, not "died"."""


@hookspec
def planrun_status(ctx: RunContext) -> list[StatusSection] | None:
    """Called by ``planrun status``; must not change anything. Return
    :class:`~planrun.engine.steps.StatusSection` values: any problem one holds (a dead run, an
    edited applied revision, drift) makes the command exit 1."""


@hookspec(firstresult=True)
def planrun_steer(ctx: RunContext, run_id: str, command: str, by: str) -> str | None:
    """Called by ``planrun pause|resume|abort PLAN RUN_ID``: hand ``command`` to the running run
    ``run_id`` from any machine and return what was done, in words; raise when the run is not
    running (ended, or dead). ``None``: this plugin cannot reach runs."""


@hookspec(firstresult=True)
def planrun_finish_deferred(ctx: RunContext, commit: bool) -> str | None:
    """Called when a run asked the changing step to keep its change open (``ctx.defer_commit``:
    ``coordinate: atomic``): once every target has made its change and the run has recorded its
    decision (``commit`` true), or when one failed (false). Commit or roll back what this
    plugin kept open on the target and say so, in words; raise when that fails (a commit is
    tried again until ``rollback.within``, then the target is reported in doubt). ``None``: this
    plugin kept nothing open here."""


@hookspec
def planrun_settle(contexts: dict[str | None, RunContext]) -> None:
    """Called by ``planrun recover`` first, with one context per target of the plan (``{None:
    ctx}`` on one database), before any dead run is looked at: finish what a run left
    undecided across its targets, as that run had decided, whether it died or ended (the
    migrate plugin commits or rolls back the changes a two-phase run kept open). Raise when it
    cannot: recover then stops there."""


@hookspec
def planrun_step_started(ctx: RunContext, step: Step) -> None:
    """Called just before ``step`` runs, in the run's thread. For work that lives as long as a
    step (the monitor samples the database during ``migrate``); start it here, in a thread of
    your own, and stop it in :func:`planrun_step_finished`. Must return quickly."""


@hookspec
def planrun_step_finished(ctx: RunContext, step: Step, outcome: str, error: str | None) -> None:
    """Called after ``step`` ended (``outcome`` ``ok`` or ``failed``), whatever happened. Stop
    what :func:`planrun_step_started` began; must not raise."""


@hookspec
def planrun_abort(ctx: RunContext, reason: str) -> None:
    """Called, from any thread, when the run is told to stop now (an alert rule's ``do: abort``,
    or ``planrun abort RUN_ID``). Cancel the work your plugin has in flight (the migrate plugin
    cancels the migration's backend); the step then fails and the rollback policy takes over.
    Work that stops between pieces also sees :meth:`RunControl.checkpoint` raise."""
