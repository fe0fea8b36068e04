"""Every file in tests/bad_plans/ is a plan with one kind of mistake; the ``.expected`` file
beside it holds the exact message ``planrun validate`` must print (pinned word for word)."""

from __future__ import annotations

from pathlib import Path

import pytest

from planrun.engine.cli import main

BAD_PLANS = sorted(Path(__file__).parent.parent.joinpath("bad_plans").glob("*.yaml"))


def test_there_are_at_least_fifteen_bad_plans():
    assert len(BAD_PLANS) >= 15


@pytest.mark.parametrize("plan", BAD_PLANS, ids=lambda p: p.stem)
def test_bad_plan_message(plan, capsys, monkeypatch):
    monkeypatch.delenv("PLANRUN_TEST_UNSET_VAR", raising=False)
    monkeypatch.chdir(plan.parent.parent.parent)
    relative = plan.relative_to(Path.cwd())
    code = main(["validate", str(relative)])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err == plan.with_suffix(".expected").read_text()
    assert "Traceback" not in captured.out + captured.err
    assert captured.out == ""


def test_apply_of_a_bad_plan_exits_2_before_touching_anything(capsys, tmp_path):
    plan = BAD_PLANS[0]
    code = main(["apply", str(plan), "--yes", "--state-dir", str(tmp_path / "state")])
    assert code == 2
    assert not (tmp_path / "state").exists()
    assert str(plan) in capsys.readouterr().err


def test_missing_plan_file(capsys):
    assert main(["validate", "no/such/plan.yaml"]) == 2
    assert capsys.readouterr().err == "no/such/plan.yaml: no such plan file\n"


def test_bad_command_line_is_a_usage_error(capsys):
    assert main(["apply"]) == 2
    err = capsys.readouterr().err
    assert "the following arguments are required: plan" in err and "Traceback" not in err


def test_bad_wait_duration(capsys):
    assert main(["apply", "x.yaml", "--wait", "forever"]) == 2
    assert "expected a duration like 3s or 5min, got 'forever'" in capsys.readouterr().err


def test_an_unset_variable_is_a_note_for_validate_and_an_error_for_apply(capsys, monkeypatch, tmp_path):
    """A CI job that only validates and lints has no production secrets: an unset ${VAR} is
    a note there, and an error (with its line) for the commands that connect."""
    monkeypatch.delenv("PLANRUN_TEST_UNSET_VAR", raising=False)
    monkeypatch.chdir(tmp_path)
    ini = Path(__file__).resolve().parent.parent.parent / "migrations" / "alembic.ini"
    Path("unset_env.yaml").write_text(
        f"version: 1\nname: x\ntarget:\n  url: ${{PLANRUN_TEST_UNSET_VAR}}\n  alembic: {{config: {ini}}}\n"
    )
    assert main(["validate", "unset_env.yaml"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("unset_env.yaml: ok (plan 'x'")
    assert captured.err == (
        "note: environment variable PLANRUN_TEST_UNSET_VAR is not set: validate does not need it, "
        "the commands that connect to the target do\n"
    )
    assert main(["apply", "unset_env.yaml", "--yes", "--state-dir", str(tmp_path / "state")]) == 2
    assert capsys.readouterr().err == (
        "unset_env.yaml:4:8: target.url: environment variable PLANRUN_TEST_UNSET_VAR is not set (set it, or write "
        "${PLANRUN_TEST_UNSET_VAR:-default})\n"
    )
