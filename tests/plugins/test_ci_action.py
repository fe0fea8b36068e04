"""The GitHub Action's script (scripts/ci_action.sh, what action.yml runs), run as CI would:
its reports, its summary and its exit code, on the demo plan (clean) and on the demo project
with its contract revision linted without the plan's allowance (an error)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import ROOT


def _action(tmp_path: Path, pg_cluster, **inputs: str) -> tuple[int, str, str]:
    summary = tmp_path / "summary.md"
    env = dict(
        os.environ,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        PLANRUN_OUTPUT_DIR=str(tmp_path / "reports"),
        PLANRUN_DATABASE_URL=pg_cluster.url("postgres"),
        GITHUB_STEP_SUMMARY=str(summary),
        **inputs,
    )
    env.pop("DATABASE_URL", None)  # a pull request's job has no production secret
    done = subprocess.run(
        ["bash", "scripts/ci_action.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    return done.returncode, done.stdout + done.stderr, summary.read_text()


def test_the_action_on_a_clean_plan_passes_with_its_reports(tmp_path, pg_cluster):
    code, output, summary = _action(tmp_path, pg_cluster, PLANRUN_PLAN="plans/demo.yaml")
    assert code == 0, output
    reports = tmp_path / "reports"
    sarif = json.loads((reports / "planrun-lint.sarif").read_text())
    results = sarif["runs"][0]["results"]
    assert sarif["version"] == "2.1.0"  # the demo's revisions have varchar(n) and int columns: warnings only
    assert {(r["ruleId"], r["level"]) for r in results} == {
        ("varchar-length", "warning"),
        ("int-primary-key", "warning"),
        ("int-column", "warning"),
    }
    assert (reports / "planrun-test.xml").read_text().startswith("<?xml")
    lines = summary.splitlines()
    assert lines[0] == "### planrun lint: 0 errors, 8 warnings"
    assert lines[1:3] == [
        "- **warning** `varchar-length` at `migrations/versions/000_base.py:16`",
        "- **warning** `varchar-length` at `migrations/versions/000_base.py:16`",
    ]
    assert lines[-1] == "### planrun test: 4 of 4 revisions round-tripped; all passed" and len(lines) == 10


def test_the_action_fails_on_a_lint_error_and_says_where(tmp_path, pg_cluster):
    code, output, summary = _action(
        tmp_path, pg_cluster, PLANRUN_ALEMBIC_CONFIG="migrations/alembic.ini", PLANRUN_TEST="false"
    )
    assert code == 1, output
    assert "::error file=migrations/versions/003_drop_products_description.py,line=" in output
    assert "- **error** `drop-column` at `migrations/versions/003_drop_products_description.py:" in summary
    assert not (tmp_path / "reports" / "planrun-test.json").exists()


def test_action_yml_runs_the_script_with_every_input():
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    step = next(s for s in action["runs"]["steps"] if s.get("name") == "planrun lint and test")
    assert step["run"] == 'bash "${{ github.action_path }}/scripts/ci_action.sh"'
    given = {value.split(".")[-1].rstrip("} ") for value in step["env"].values() if "inputs." in value}
    assert given | {"upload-sarif", "python-version"} == set(action["inputs"])
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "migration-test.yml").read_text())
    assert any(s.get("uses") == "./" for s in workflow["jobs"]["planrun"]["steps"])
