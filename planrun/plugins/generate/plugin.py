"""``planrun generate``: fill a database, as it stands, with generated rows (edge cases mixed
in) to stress a migration before it meets production. The generation itself is shared
(:mod:`planrun.plugins.datagen`), as the stairway at volume uses it too."""

from __future__ import annotations

from planrun.plugin import hookimpl


@hookimpl
def planrun_commands():
    from .command import COMMANDS

    return COMMANDS
