"""The application's own modules, imported afresh when the variables env.py reads change.

A settings module reads its environment once, at import (``DATABASE_URL = os.environ[...]``).
Once env.py has imported it under one value (lint's offline renders run with the variable as
the shell left it), setting the variable for the next command (lint's run on a scratch
database) changes nothing: env.py connects where the settings said first. So a command that
sets ``test.url_env`` to values other than those the previous command ran with first forgets
the application's modules: those loaded from the project's folders since planrun started,
never planrun's own or an installed package's. env.py then imports them again and reads the
variable as it is now. Commands that keep the values (the stairway's) import nothing again.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path

_LOADED_BEFORE = frozenset(sys.modules)  # planrun and its dependencies, before any env.py ran
_in_effect: dict[str, str | None] = {}  # each variable's value when the last command that named it ran


def _installed() -> list[str]:
    paths = sysconfig.get_paths()
    roots = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    roots.add(str(Path(__file__).resolve().parents[2]))  # planrun itself, installed or checked out
    return [os.path.realpath(root) + os.sep for root in roots]


def _applications(folders: list[Path]) -> list[str]:
    """Modules loaded since planrun started from a file under ``folders`` and not installed."""
    installed = _installed()
    under = [os.path.realpath(folder) + os.sep for folder in folders]
    found = []
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if name in _LOADED_BEFORE or not path or name.split(".")[0] == "planrun":
            continue
        path = os.path.realpath(path)
        if any(path.startswith(root) for root in under) and not any(path.startswith(root) for root in installed):
            found.append(name)
    return found


def import_afresh_if_changed(values: dict[str, str], folders: list[Path]) -> list[str]:
    """Before a command that sets ``values`` in the environment: forget the application's
    modules (under ``folders``) when a value differs from the one the previous command ran
    with. Returns the modules forgotten."""
    changed = any(_in_effect.get(name, os.environ.get(name)) != value for name, value in values.items())
    _in_effect.update(values)
    if not changed:
        return []
    forgotten = _applications(folders)
    for name in forgotten:
        del sys.modules[name]
    return forgotten
