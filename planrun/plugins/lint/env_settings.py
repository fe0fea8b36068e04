"""The timeouts an env.py sets on the migration's connection itself, read from its source: a
``SET lock_timeout ...`` it executes, or ``-c lock_timeout=...`` in the options it connects
with. A project whose env.py sets them should not hear "missing-lock-timeout" on every statement
(128 times in one real history); the plan's migrate.* settings are the other way to say it.

Only string literals are read (the statement or option as written): a value built at run time
is not seen, and lint then asks for the setting as before."""

from __future__ import annotations

import ast
import re
from pathlib import Path

_SETS = {
    name: re.compile(rf"(\bSET\s+(SESSION\s+|LOCAL\s+)?{name}\s*(=|TO)\s*\S)|(-c\s*{name}\s*=\s*\S)", re.I)
    for name in ("lock_timeout", "statement_timeout")
}


def env_py_timeouts(env_py: Path) -> dict[str, int]:
    """``{"lock_timeout": line}`` for each timeout env.py sets in a string literal."""
    try:
        tree = ast.parse(env_py.read_text(encoding="utf-8"), filename=str(env_py))
    except (OSError, SyntaxError, ValueError):
        return {}
    found: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for name, pattern in _SETS.items():
                if pattern.search(node.value) and name not in found:
                    found[name] = node.lineno
    return found
