"""Whatever goes wrong once a run has started (a plugin's bug between steps included), the
journal gets its run_end, the failure notification goes out, whatever moved is rolled back,
and the exit code is never 0 nor an internal error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import current_revision, table_contents
from faults import with_fault_plugin


@pytest.mark.parametrize("before, moved", [("migrate", False), ("post-checks", True)])
def test_a_plugin_bug_between_steps_still_ends_the_run_properly(demo, run_cli, recorder, monkeypatch, before, moved):
    monkeypatch.setenv("PLANRUN_FAULT", f"crash:{before}")
    text = with_fault_plugin(demo.plan.read_text()).replace(
        "notify:\n", f"notify:\n  - webhook: {{url: '{recorder.url}/hook', on: [failure]}}\n", 1
    )
    plan = demo.write_plan(text)
    before_rows = table_contents(demo.url)
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 1, out + err
    assert "internal error" not in err
    assert "ZeroDivisionError: a plugin's bug" in out
    (journal,) = Path(demo.state_dir, "runs").glob("*.jsonl")
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    end = [r for r in records if r["event"] == "run_end"]
    assert len(end) == 1 and end[0]["outcome"] == "failed" and end[0]["exit_code"] == 1
    assert [r.json()["event"] for r in recorder.requests] == ["failure"]
    assert ("rollback: downgrade" in out) == moved
    assert current_revision(demo.url) == ["000"] and table_contents(demo.url) == before_rows
