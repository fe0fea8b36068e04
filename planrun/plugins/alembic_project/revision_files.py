"""What a revision file defines, read from its source without running it: whether it has a
``downgrade()``, and whether that downgrade does nothing (read by the migrate plugin's
preflight, ``planrun init`` and the stairway's graph checks)."""

from __future__ import annotations

import ast
from pathlib import Path


def _is_empty(tree: ast.Module, name: str) -> bool:
    """True when function ``name`` is missing, or holds nothing but ``pass``, ``...`` or a docstring."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return all(
                isinstance(stmt, ast.Pass) or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))
                for stmt in node.body
            )
    return True


def has_function(path: Path, name: str) -> bool:
    """Whether the revision file defines ``name`` at its top level (``downgrade``, say)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(isinstance(node, ast.FunctionDef) and node.name == name for node in tree.body)


NO_DOWNGRADE = "has no downgrade(): rollback.strategy downgrade cannot undo it; use restore (or downgrade-then-restore)"


def empty_downgrade(path: Path) -> bool:
    """An upgrade that does something with a downgrade that does nothing. A revision empty both
    ways (a merge point) is fine."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return _is_empty(tree, "downgrade") and not _is_empty(tree, "upgrade")
