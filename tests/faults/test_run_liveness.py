"""A run that ended is never dead (issue 25): liveness is the run's process, not one of its
connections. Ending the run's history session from outside (a DBA, ``idle_session_timeout``, a
pooler) once left a successful run without an outcome: ``status`` said DIED, the next apply
was refused, and ``recover`` downgraded the successful migration."""

from __future__ import annotations

from conftest import current_revision, table_contents
from faults import spawn_apply, with_fault_plugin


def test_losing_the_history_session_mid_run_leaves_a_finished_run_finished(demo, run_cli):
    plan = demo.write_plan(with_fault_plugin(demo.plan.read_text()), "faulty.yaml")
    runner = spawn_apply(demo, plan, fault="drop-history:migrate")
    output = runner.communicate(timeout=180)[0]
    assert runner.returncode == 0, output
    after = table_contents(demo.url)
    assert current_revision(demo.url) == ["002"]

    code, out, err = run_cli("status", demo.plan)
    assert "DIED" not in out and "died" not in out, out + err
    assert code == 0, out + err

    code, out, err = run_cli("recover", demo.plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err
    assert "nothing to recover" in out, out
    assert current_revision(demo.url) == ["002"] and table_contents(demo.url) == after

    code, out, err = run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err
    assert current_revision(demo.url) == ["002"] and table_contents(demo.url) == after


def test_recover_never_rolls_back_a_run_that_ended(demo, run_cli):
    """The store lost a successful run's outcome (and its copy of the journal's end): the run
    looks dead. ``recover`` reads its end in the journal, records it, and undoes nothing."""
    from conftest import execute, query

    runner = spawn_apply(demo, demo.plan)  # its own process, which ends
    output = runner.communicate(timeout=180)[0]
    assert runner.returncode == 0, output
    after = table_contents(demo.url)
    execute(demo.url, "UPDATE planrun.runs SET outcome = NULL, exit_code = NULL, ended_at = NULL")
    execute(demo.url, "DELETE FROM planrun.events WHERE event = 'run_end'")
    code, out, err = run_cli("status", demo.plan)
    assert code == 1 and "DIED" in out, out + err  # what the store alone says

    code, out, err = run_cli("recover", demo.plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err
    assert "it had ended (success, exit 0); its end is recorded now, nothing undone" in out, out
    assert "rollback" not in out
    assert current_revision(demo.url) == ["002"] and table_contents(demo.url) == after
    ((outcome,),) = query(demo.url, "SELECT outcome FROM planrun.runs WHERE command = 'apply'")
    assert outcome == "success"
    code, out, err = run_cli("status", demo.plan)
    assert code == 0 and "DIED" not in out, out + err
