"""The run model without the world (issue 25): the engine's phase order, rollback, proofs and
claims at every failure point, driven in-process against a fake target (see runlab.py).
Milliseconds each; what touches PostgreSQL is tested against PostgreSQL elsewhere."""

from __future__ import annotations

import pytest
from runlab import PHASE_OF, FakeTarget, run_fake

from planrun.engine.errors import StepFailed

PHASES = list(PHASE_OF)
CHANGED_FROM = PHASES.index("migrate")


def test_a_run_goes_through_every_phase_in_order(tmp_path):
    lab = run_fake(tmp_path, FakeTarget())
    assert lab.result.exit_code == 0, lab.output
    assert lab.target.ran == PHASES


@pytest.mark.parametrize("failing", PHASES)
@pytest.mark.parametrize("raises", [StepFailed, KeyboardInterrupt, SystemExit, ZeroDivisionError])
def test_a_failure_at_each_phase_stops_there_and_rolls_back_only_what_changed(tmp_path, failing, raises):
    target = FakeTarget(fail_at=failing, raises=raises)
    before = dict(target.tables)
    lab = run_fake(tmp_path, target)
    assert lab.result.exit_code == 1, lab.output
    index = PHASES.index(failing)
    if index < CHANGED_FROM:  # nothing that changes the target ran: nothing to roll back, nothing claimed
        assert lab.target.ran == PHASES[: index + 1]
        assert "it stopped before any step that changes the target" in lab.output
        assert "proven" not in lab.output
    else:
        assert lab.target.ran == PHASES[: index + 1] + ["hold again", "undo"]
        assert "proven: every fake table is as before" in lab.output
    assert lab.target.tables == before


def test_a_rollback_that_does_not_restore_is_never_called_proven(tmp_path):
    lab = run_fake(tmp_path, FakeTarget(fail_at="post-checks", undo_restores=False))
    assert lab.result.exit_code == 3, lab.output
    assert "ROLLBACK FAILED" in lab.output and "changed table a: 1 -> 101" in lab.output
    assert "proven:" not in lab.output


def test_an_unreachable_target_is_waited_for_within_the_budget(tmp_path):
    lab = run_fake(tmp_path, FakeTarget(fail_at="post-checks", unreachable_undos=1))
    assert lab.result.exit_code == 1, lab.output
    assert lab.target.ran[-3:] == ["hold again", "undo", "undo"]
    assert "trying again in" in lab.output


def test_an_unreachable_target_past_the_budget_is_exit_3(tmp_path):
    lab = run_fake(tmp_path, FakeTarget(fail_at="post-checks", unreachable_undos=10**6), "{strategy: undo, within: 1s}")
    assert lab.result.exit_code == 3, lab.output
    assert "the fake server is away" in lab.output


def test_no_rollback_runs_without_the_lock(tmp_path):
    lab = run_fake(tmp_path, FakeTarget(fail_at="post-checks", lock_gone=True))
    assert lab.result.exit_code == 3, lab.output
    assert "undo" not in lab.target.ran
    assert "not rolled back: the fake lock is held by another run" in lab.output


def test_a_proof_over_some_tables_counts_only_when_it_holds_every_table_written(tmp_path):
    covered = run_fake(tmp_path / "1", FakeTarget(fail_at="post-checks", scoped=frozenset({"a"}), wrote=("a",)))
    assert covered.result.exit_code == 1, covered.output
    assert "proven: the scoped tables is as before (every table the run wrote is in it)" in covered.output
    outside = run_fake(tmp_path / "2", FakeTarget(fail_at="post-checks", scoped=frozenset({"a"}), wrote=("a", "b")))
    assert outside.result.exit_code == 3, outside.output
    assert "not proven: the run wrote b, outside the fake scope" in outside.output
    unseen = run_fake(tmp_path / "3", FakeTarget(fail_at="post-checks", scoped=frozenset({"a"}), wrote=None))
    assert unseen.result.exit_code == 3, unseen.output
    assert "not proven: the run's writes could not all be seen (unseen)" in unseen.output
