"""The engine knows nothing of Postgres, Alembic or the plugins: import-linter checks the
contract declared in pyproject.toml, and ``planrun --help`` stays light."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def test_import_contracts_hold():
    lint_imports = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint_imports, "import-linter is part of the test extra"
    result = subprocess.run([lint_imports], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 kept, 0 broken" in result.stdout


def test_the_engine_and_the_plugin_api_type_check():
    """mypy over planrun/engine and planrun/plugin ([tool.mypy] in pyproject.toml): a hook,
    event or fact whose types disagree with its use fails here, not in a user's run."""
    mypy = shutil.which("mypy", path=str(Path(sys.executable).parent))
    assert mypy, "mypy is part of the test extra"
    result = subprocess.run([mypy], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


def test_cli_help_imports_no_database_library():
    """--help loads every plugin (they contribute the commands) but none of what their steps
    need: no database library, no console library, no retry library, no HTTP client, and no
    plan model (pydantic, YAML): each plugin's entry module declares its hooks and commands, and
    its plan sections, check and notifier types load when a plan is read."""
    code = (
        "import sys; from planrun.engine.cli import build_parser; build_parser(); print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('sqlalchemy', 'alembic', 'psycopg2', 'rich', 'fsspec', 'pglast', 'tenacity', 'ssl', "
        "'http', 'pydantic', 'yaml')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_plugin_api_loads_no_plan_model_until_asked():
    """``import planrun.plugin`` (what every plugin's entry module does) loads neither pydantic
    nor YAML: the plan's building blocks (CheckConfig, PlanSection, Duration ...) load on first
    use, so a plugin that declares only hooks and commands keeps ``planrun --help`` light."""
    code = (
        "import sys, planrun.plugin; print(sorted({m.split('.')[0] for m in sys.modules} & {'pydantic', 'yaml'})); "
        "planrun.plugin.CheckConfig; print('pydantic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["[]", "True"]


def test_validate_imports_neither_alembic_nor_sqlalchemy():
    """Loading every plugin to validate a plan must stay light: heavy imports belong where a step
    runs. pglast (40 ms) is the one exception: validate parses every SQL check with it, so that a
    check that could write is refused before any run."""
    code = (
        "import sys, os; os.environ['DATABASE_URL'] = 'postgresql://u@h/d'; from planrun.engine import api; "
        "api.validate('plans/demo.yaml'); print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'sqlalchemy', 'alembic', 'pglast'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "['pglast']"


def test_code_is_formatted_and_linted():
    """One width (120), one import order, no unused names: ruff's formatter and linter as
    configured in pyproject.toml, over planrun, its tests, bench and scripts."""
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    assert ruff, "ruff is part of the test extra"
    for args in (["check", "."], ["format", "--check", "."]):
        result = subprocess.run([ruff, *args], cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 0, f"ruff {' '.join(args)}:\n{result.stdout}{result.stderr}"
