"""The CI workflows cannot run here; they are loaded as YAML and every planrun command they
call must exist in the CLI with the options they pass."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from planrun.engine.cli import build_parser

WORKFLOWS = sorted((Path(__file__).resolve().parent.parent.parent / ".github" / "workflows").glob("*.yml"))


def planrun_commands(workflow: Path) -> list[list[str]]:
    document = yaml.safe_load(workflow.read_text())
    commands = []
    for job in document["jobs"].values():
        for step in job["steps"]:
            for line in step.get("run", "").splitlines():
                if line.strip().startswith("planrun "):
                    commands.append(shlex.split(line.replace("${{ inputs.plan }}", "plans/production.yaml"))[1:])
    return commands


def test_there_are_two_workflows():
    assert [w.name for w in WORKFLOWS] == ["migration-test.yml", "prod-migration.yml"]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda w: w.name)
def test_workflow_commands_parse(workflow):
    commands = planrun_commands(workflow)
    assert commands, "the workflow calls planrun"
    parser = build_parser()
    for command in commands:
        args = parser.parse_args(command)  # raises UsageError on an unknown command or option
        assert args.command in ("validate", "plan", "apply", "test", "lint")


def test_pr_workflow_runs_the_stairway_and_uploads_junit():
    """Through the repository's own action (action.yml), whose script tests/plugins/test_ci_action.py runs."""
    document = yaml.safe_load(WORKFLOWS[0].read_text())
    assert document[True]["pull_request"]["paths"] == ["migrations/**", "plans/**"]  # YAML 1.1 reads `on` as True
    (action,) = [s for s in document["jobs"]["planrun"]["steps"] if s.get("uses") == "./"]
    assert action["with"]["plan"] == "plans/demo.yaml"
    root = WORKFLOWS[0].parent.parent.parent
    script = (root / "scripts" / "ci_action.sh").read_text()
    assert 'planrun test "${target[@]}" "${url[@]}" --junit-xml' in script
    assert 'planrun lint "${target[@]}" --format github' in script
    uploads = yaml.safe_load((root / "action.yml").read_text())["runs"]["steps"]
    assert any(s.get("uses", "").startswith("actions/upload-artifact") for s in uploads)
