"""The run's policies over several targets (issue 25), in-process against fake targets (see
runlab.py): all-or-nothing, independent and atomic, at the failure points between targets that
broke when each policy had its own copy of the phase order. Each compares every target's whole
tables with what they were."""

from __future__ import annotations

from runlab import PHASE_OF, FakeTarget, run_fake_targets

PHASES = list(PHASE_OF)


def _steps(records: list[dict]) -> list[tuple[str, str]]:
    return [(r["target_key"], r["step"]) for r in records if r["event"] == "step_start"]


def _pair(**b) -> dict[str, FakeTarget]:
    return {"a": FakeTarget(), "b": FakeTarget(**b)}


def _failed_and_unchanged(tmp_path, coordinate: str, **b):
    """A run over a pair whose target b has ``b``'s faults: exit 1, and every table of both
    targets as it was."""
    targets = _pair(**b)
    before = {name: dict(t.tables) for name, t in targets.items()}
    lab = run_fake_targets(tmp_path, targets, coordinate)
    assert lab.result.exit_code == 1, lab.output
    assert {name: t.tables for name, t in lab.targets.items()} == before
    return lab


def test_every_target_is_locked_then_prepared_before_any_changes(tmp_path):
    lab = run_fake_targets(tmp_path, _pair(), "all-or-nothing")
    assert lab.result.exit_code == 0, lab.output
    steps = _steps(lab.records)
    assert steps[:2] == [("a", "lock"), ("b", "lock")]
    first_change = steps.index(("a", "migrate"))
    assert {("a", "backup"), ("b", "backup")} <= set(steps[:first_change])
    assert all(t.tables["a"] == 101 for t in lab.targets.values())


def test_all_or_nothing_rolls_back_every_target_that_moved_the_last_first(tmp_path):
    lab = _failed_and_unchanged(tmp_path, "all-or-nothing", fail_at="post-checks")
    rollbacks = [r["target_key"] for r in lab.records if r["event"] == "rollback_end"]
    assert rollbacks == ["b", "a"]
    assert "a: failed: rolled back because another target failed" in lab.output
    assert "b: failed: post-checks failed on purpose" in lab.output
    assert lab.output.count("proven: every fake table is as before") >= 2


def test_a_target_that_cannot_be_held_stops_the_run_before_anything_else(tmp_path):
    lab = run_fake_targets(tmp_path, _pair(fail_at="lock"), "all-or-nothing")
    assert lab.result.exit_code == 1, lab.output
    assert lab.targets["a"].ran == ["lock"] and lab.targets["b"].ran == ["lock"]
    assert "rolling back" not in lab.output


def test_a_lock_lost_on_one_target_stops_the_step_about_to_run_on_another(tmp_path):
    targets = {"a": FakeTarget(lost_before="b: migrate"), "b": FakeTarget()}
    lab = run_fake_targets(tmp_path, targets, "all-or-nothing")
    assert lab.result.exit_code == 1, lab.output
    assert "migrate" not in lab.targets["b"].ran
    assert lab.targets["a"].tables["a"] == 1 and lab.targets["b"].tables["a"] == 1
    assert "the fake lock of a was lost" in lab.output


def test_independent_rolls_back_only_the_target_that_failed(tmp_path):
    targets = {"a": FakeTarget(fail_at="migrate"), "b": FakeTarget()}
    lab = run_fake_targets(tmp_path, targets, "independent")
    assert lab.result.exit_code == 1, lab.output
    assert lab.targets["a"].tables["a"] == 1 and lab.targets["b"].tables["a"] == 101
    assert lab.targets["b"].ran == PHASES
    assert [r["target_key"] for r in lab.records if r["event"] == "rollback_end"] == ["a"]


def test_atomic_commits_every_target_after_recording_the_decision_in_each(tmp_path):
    lab = run_fake_targets(tmp_path, _pair(), "atomic")
    assert lab.result.exit_code == 0, lab.output
    for target in lab.targets.values():
        assert target.ran == [*PHASES[:-1], "commit", "post-checks"] and target.tables["a"] == 101
    events = [(r["event"], r.get("target_key")) for r in lab.records]
    decisions = [i for i, e in enumerate(events) if e[0] == "commit_decision"]
    assert {events[i][1] for i in decisions} == {"a", "b"}
    post_checks = [i for i, e in enumerate(events) if e == ("step_start", "a")]
    assert post_checks and max(decisions) < max(post_checks)


def test_atomic_failure_before_every_change_commits_nowhere(tmp_path):
    lab = _failed_and_unchanged(tmp_path, "atomic", fail_at="migrate")
    assert "abandon" in lab.targets["a"].ran and "commit" not in lab.targets["a"].ran
    assert not any(r["event"] == "commit_decision" for r in lab.records)


def test_atomic_commit_failing_past_the_budget_names_each_target_truly(tmp_path):
    lab = run_fake_targets(tmp_path, _pair(failed_commits=10**6), "atomic", "{strategy: undo, within: 1s}")
    assert lab.result.exit_code == 3, lab.output
    assert "a: committed: its change committed; the run stops there: b in doubt" in lab.output
    assert "b: in doubt: its change, kept open, could not be committed (the fake commit was cut)" in (lab.output)
    assert lab.targets["a"].tables["a"] == 101 and lab.targets["b"].kept_open == 101
    assert ("commit_retry", "b") in [(r["event"], r.get("target_key")) for r in lab.records]
    assert "post-checks" not in lab.targets["a"].ran  # the run stopped at the commit


def test_atomic_commit_failing_once_is_tried_again(tmp_path):
    lab = run_fake_targets(tmp_path, _pair(failed_commits=1), "atomic")
    assert lab.result.exit_code == 0, lab.output
    assert lab.targets["b"].ran[-3:] == ["commit failed", "commit", "post-checks"]


def test_atomic_post_check_failure_after_the_commit_rolls_every_target_back(tmp_path):
    lab = _failed_and_unchanged(tmp_path, "atomic", fail_at="post-checks")
    assert [r["target_key"] for r in lab.records if r["event"] == "rollback_end"] == ["b", "a"]
