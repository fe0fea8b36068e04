"""What an env.py says about itself in its source, read without running it: the environment
variables it takes a URL from (``os.environ["APP_DATABASE_URL"]``, ``os.getenv("DB_URL")``,
``os.environ.get(...)``). With them a refusal can name the plan keys that fix it, and
``planrun init`` can fill them in."""

from __future__ import annotations

import ast
from pathlib import Path


def env_py_of(project) -> Path:
    return Path(project.script.dir) / "env.py"


def url_variables(env_py: Path) -> list[str]:
    """The environment variables env.py reads (in order of appearance, each once)."""
    try:
        tree = ast.parse(env_py.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return []
    found: list[str] = []
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Subscript) and ast.unparse(node.value) in ("os.environ", "environ"):
            name = node.slice.value if isinstance(node.slice, ast.Constant) else None
        elif isinstance(node, ast.Call) and ast.unparse(node.func) in (
            "os.getenv",
            "getenv",
            "os.environ.get",
            "environ.get",
        ):
            first = node.args[0] if node.args else None
            name = first.value if isinstance(first, ast.Constant) else None
        if isinstance(name, str) and name not in found:
            found.append(name)
    return found


def url_hint(project) -> str:
    """The plan keys that point an env.py reading an environment variable at planrun's database."""
    names = url_variables(env_py_of(project))
    if not names:
        return (
            ". If env.py takes its URL from an environment variable (through the application's settings, say), "
            "name it in the plan instead of editing env.py: test: {url_env: [THAT_VARIABLE]} and "
            'target: {url: "${THAT_VARIABLE}"}'
        )
    shown = ", ".join(names)
    return (
        f". env.py reads {shown} from the environment: planrun sets the variables the plan names to the database "
        f'it means, so write test: {{url_env: [{shown}]}} (for test and lint) and target: {{url: "${{{names[0]}}}"}} '
        "(for apply), without editing env.py"
    )
