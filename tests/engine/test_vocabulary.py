"""The engine speaks no plugin's language: no identifier or literal in ``planrun/engine`` names
a plugin's domain (Alembic, revisions, backups, locks, lint, two-phase commit...). Docstrings, plan field
descriptions and help texts may give examples; the run's phase names are the engine's, listed
once in ``steps.PHASES``."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "planrun" / "engine"
DOMAIN = re.compile(
    r"alembic|revision|migrat|backup|(?<![a-z])lint|stairway|downgrade|restore|postgres|psycopg|sqlalchemy|pg_dump"
    r"|monitor|slack|webhook|apprise|(?<![A-Za-z])lock|fingerprint|advisory|s3fs"
    # two-phase commit is the changing plugin's: the engine only defers a commit and finishes it
    r"|prepared|two.phase|2pc|(?<![a-z])gid(?![a-z])|(?<![a-z])xid",
    re.IGNORECASE,
)
CASE_SENSITIVE = {"lock"}  # threading.Lock is the engine's own


def _documentation(tree: ast.AST) -> set[int]:
    """ids of the string nodes that are documentation: docstrings, descriptions, help texts."""
    ids = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
        if isinstance(node, ast.keyword) and node.arg in ("description", "help", "__doc__"):
            ids.update(id(n) for n in ast.walk(node.value) if isinstance(n, ast.Constant))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Command":
            ids.update(
                id(n)
                for n in ast.walk(node)
                if isinstance(n, ast.Constant) and isinstance(n.value, str) and " " in n.value
            )  # a command's help text, not its name
    return ids


def _phase_list(tree: ast.AST) -> set[int]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "PHASES" for t in node.targets):
            return {id(n) for n in ast.walk(node.value)}
    return set()


def _words(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        return [node.attr]
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.arg):
        return [node.arg]
    if isinstance(node, ast.keyword) and node.arg:
        return [node.arg]
    if isinstance(node, ast.alias):
        return [node.name, node.asname or ""]
    if isinstance(node, ast.ImportFrom):
        return [node.module or ""]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    return []


def domain_words(source: str) -> list[tuple[int, str]]:
    tree = ast.parse(source)
    allowed = _documentation(tree) | _phase_list(tree)
    found = []
    for node in ast.walk(tree):
        if id(node) in allowed:
            continue
        for word in _words(node):
            match = DOMAIN.search(word)
            if match and not (match.group(0).lower() in CASE_SENSITIVE and match.group(0) != match.group(0).lower()):
                found.append((getattr(node, "lineno", 0), word))
    return found


def test_the_engine_names_no_plugin_domain_in_code():
    found = [
        f"{path.relative_to(ENGINE.parent.parent)}:{line}: {word[:80]!r}"
        for path in sorted(ENGINE.rglob("*.py"))
        for line, word in domain_words(path.read_text())
    ]
    assert not found, "plugin vocabulary in the engine:\n" + "\n".join(found)


def test_the_vocabulary_check_can_fail():
    found = domain_words(
        'def run(ctx):\n    """A docstring may say alembic."""\n    return ctx.state["backup.manifest"]\n'
    )
    assert found == [(3, "backup.manifest")]
    assert domain_words("import threading\nguard = threading.Lock()\n") == []
    assert [w for _, w in domain_words("def lock_steps(): pass\n")] == ["lock_steps"]
    assert [w for _, w in domain_words("ctx.hook.planrun_finish_prepared(gid=gid)\n")] == [
        "planrun_finish_prepared",
        "gid",
        "gid",
    ]
