"""docs/reference.md is generated from the CLI and the plan's models: it must be current, and it
must document every command and every plan key with its default."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_reference_is_current():
    generated = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "reference.py")], capture_output=True, text=True, check=True
    ).stdout
    assert generated == (ROOT / "docs" / "reference.md").read_text(), (
        "docs/reference.md is stale: python scripts/reference.py > docs/reference.md"
    )


def test_the_reference_names_every_command_and_section_with_defaults():
    text = (ROOT / "docs" / "reference.md").read_text()
    for command in (
        "apply",
        "plan",
        "validate",
        "recover",
        "status",
        "backups",
        "restore",
        "lint",
        "test",
        "pause",
        "plugins",
    ):
        assert f"### `planrun {command}`" in text
    for section in ("target.alembic", "migrate", "rollback", "lock", "checks", "backup", "monitor", "test", "history"):
        assert f"### `{section}`" in text
    assert "| `lock_timeout` | duration (or null) | `5s` |" in text  # migrate.lock_timeout, as a plan spells it
