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
