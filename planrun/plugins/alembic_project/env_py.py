"""What an env.py says about itself in its source, read without running it: the environment
variables it takes a URL from (``os.environ["APP_DATABASE_URL"]``, ``os.getenv("DB_URL")``,
``os.environ.get(...)``). With them a refusal can name the plan keys that fix it, and
``planrun init`` can fill them in."""

from __future__ import annotations

import ast
from pathlib import Path


def env_py_of(project) -> Path:
    return Path(project.script.dir) / "env.py"


def project_roots(project) -> tuple[Path, ...]:
    """Where env.py's own imports are looked for: the ini's folder (on sys.path while planrun
    runs Alembic) and the folder above it."""
    return (project.folder, project.folder.parent)


def url_variables(env_py: Path, roots: tuple[Path, ...] = ()) -> list[str]:
    """The environment variables env.py reads (in order of appearance, each once), and those
    read by the modules it imports from ``roots`` (the application's settings module, one
    import deep: ``from app.settings import DATABASE_URL``)."""
    found: list[str] = []
    tree = _tree(env_py)
    if tree is None:
        return found
    _read_variables(tree, found)
    for module in _local_imports(tree, roots):
        imported = _tree(module)
        if imported is not None:
            _read_variables(imported, found)
    return found


def _tree(path: Path) -> ast.Module | None:
    try:
        return ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None


def _local_imports(tree: ast.Module, roots: tuple[Path, ...]) -> list[Path]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    files = []
    for name in names:
        for root in roots:
            base = root.joinpath(*name.split("."))
            for candidate in (base.with_suffix(".py"), base / "__init__.py"):
                if candidate.is_file() and candidate not in files:
                    files.append(candidate)
    return files


def _read_variables(tree: ast.Module, found: list[str]) -> None:
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


def url_hint(project) -> str:
    """The plan keys that point an env.py reading an environment variable at planrun's database."""
    names = url_variables(env_py_of(project), project_roots(project))
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
