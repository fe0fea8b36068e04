"""Hooks that the plugins working with Alembic revisions share (the migrate plugin calls them,
the history plugin answers), added by each of them through ``planrun_addhooks``: a contract
between plugins that the engine knows nothing about."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from planrun.plugin import RunContext

    from ..sql.touched import Touched

hookspec = pluggy.HookspecMarker("planrun")


@hookspec(firstresult=True)
def planrun_applied_records(ctx: RunContext) -> dict[str, dict] | None:
    """Called by the plugin that migrates, before a run (``apply`` and ``plan``), to check that
    no applied revision's file was edited. Return the record of every applied revision the
    target keeps, ``{revision: {"revision", "path", "sha256", "applied_at", "run_id", "how"}}``
    (``how`` is ``planrun``, ``adopted`` or ``repaired``), ``{}`` when nothing is recorded yet, or ``None``
    when this plugin keeps no such records (the journal is read instead)."""


@hookspec(firstresult=True)
def planrun_record_revisions(
    ctx: RunContext, applied: list[dict], how: str, execute: Callable[[str, tuple], None] | None
) -> bool | None:
    """Called by the plugin that migrates with every revision applied at this moment
    (``[{"revision", "path", "sha256"}]``, oldest first): make the records match (add new ones,
    drop the ones a downgrade removed). ``execute(sql, params)`` runs SQL inside the
    migration's own transaction, just before it commits, so the record and the change commit
    together; ``None`` when there is no such transaction (adopting revisions applied before
    planrun: ``how`` is ``adopted``). Return ``True`` when recorded, ``None`` when this plugin
    keeps no records. Raise to say recording failed (the migration itself goes on)."""


@hookspec(firstresult=True)
def planrun_record_repair(
    ctx: RunContext, revision: str, path: str, old_sha256: str, new_sha256: str, reason: str, by: str
) -> bool | None:
    """Called by ``planrun repair`` when a person accepts that an applied revision's file changed
    (a formatter, a comment): the record of ``revision`` now holds ``new_sha256`` (how:
    ``repaired``), and who (``by``), when and why (``reason``) are kept beside it. Return
    ``True`` when recorded, ``None`` when this plugin keeps no records (the journal is then the
    record)."""


@hookspec(firstresult=True)
def planrun_touched_tables(ctx: RunContext) -> Touched | None:
    """Called before a run by a plugin that needs to know which tables the pending revisions
    change (the backup plugin, for ``backup.scope: touched``). Return a
    :class:`planrun.plugins.sql.touched.Touched`: the tables as the SQL names them, and the
    reasons the set may be incomplete (an empty ``unknown`` means it is complete); ``None`` when
    this plugin does not migrate this plan."""


def add_to(pluginmanager: pluggy.PluginManager) -> None:
    """Add these specifications once, whichever plugin asks first."""
    import sys

    caller = getattr(pluginmanager.hook, "planrun_applied_records", None)
    if caller is None or caller.spec is None:
        pluginmanager.add_hookspecs(sys.modules[__name__])
