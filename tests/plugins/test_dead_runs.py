"""A run that died is found, named, refused past and recovered, from the records in the
database: status names it and its step, apply refuses until it is recovered, recover brings the
database back to the proven starting state (or forward), and recover itself can be killed and
run again. Operators steer runs through the database from any machine."""

from __future__ import annotations

import json

from conftest import current_revision, query, schema_of, table_contents
from faults import kill9, no_planrun_backends, spawn_apply
from planrun.plugins.clusters.cluster import wait_for

SLEEPING_003 = (
    '    op.add_column("users", sa.Column("nick", sa.Text()))\n'
    '    op.execute("UPDATE users SET nick = name WHERE id > 0")\n'
)


def _die_in_003(demo, plan=None, sleep_in="upgrade"):
    """Start apply as its own process and kill -9 it while revision 003 sleeps (001 and 002
    are committed by then)."""
    runner = spawn_apply(demo, plan or demo.plan)
    sleeping = lambda: (
        query(demo.url, "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)'")[0][0] == 1
    )
    assert wait_for(sleeping, timeout=30), runner.communicate(timeout=5)[0]
    kill9(runner)
    assert no_planrun_backends(demo.url)


def _add_003(demo):
    demo.add_revision(
        "003", "002", SLEEPING_003 + '    op.execute("SELECT pg_sleep(60)")\n', '    op.drop_column("users", "nick")\n'
    )


def test_a_dead_run_is_named_refused_past_and_recovered(demo, run_cli, tmp_path):
    before_schema, before_rows = schema_of(demo.url), table_contents(demo.url)
    _add_003(demo)
    _die_in_003(demo)
    assert current_revision(demo.url) == ["002"], "001 and 002 had committed"

    code, out, err = run_cli("status", demo.plan)
    assert code == 1, out + err
    assert "DIED at step migrate (heartbeat " in out
    assert "PROBLEM: run " in out and "died at step migrate" in out and "it was migrating from 000 to 003" in out

    code, out, err = run_cli("apply", demo.plan, "--yes", "--state-dir", tmp_path / "elsewhere")
    assert code == 2, out + err
    assert "died at step migrate" in out and "run `planrun recover " in out
    assert current_revision(demo.url) == ["002"]

    code, out, err = run_cli("recover", demo.plan, "--yes", "--state-dir", tmp_path / "elsewhere")
    assert code == 0, out + err
    assert "rollback: downgrade" in out and "002 -> 000; proven" in out
    assert current_revision(demo.url) == ["000"]
    assert schema_of(demo.url) == before_schema and table_contents(demo.url) == before_rows

    code, out, err = run_cli("status", demo.plan, "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"], out
    runs = next(s for s in report["sections"] if s["title"] == "last runs")["lines"]
    assert any(
        "died at step migrate; recovered by run " in line and "(rolled back and proven)" in line for line in runs
    )

    (demo.versions / "003_test.py").unlink()
    code, out, err = run_cli("apply", demo.plan, "--yes", "--state-dir", tmp_path / "elsewhere")
    assert code == 0, out + err
    assert current_revision(demo.url) == ["002"]


def test_recover_forward_completes_the_dead_run(demo, run_cli):
    _add_003(demo)
    _die_in_003(demo)
    (demo.versions / "003_test.py").write_text(
        (demo.versions / "003_test.py").read_text().replace('    op.execute("SELECT pg_sleep(60)")\n', "")
    )
    plan = demo.write_plan(
        demo.plan.read_text().replace("strategy: downgrade", "strategy: downgrade\n  recover: forward")
    )
    code, out, err = run_cli("recover", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err
    assert "002 -> 003" in out
    assert current_revision(demo.url) == ["003"]
    assert query(demo.url, "SELECT count(*) FROM users WHERE nick IS DISTINCT FROM name") == [(0,)]
    assert run_cli("status", plan)[0] == 0


def test_a_killed_recover_is_run_again_and_converges(demo, run_cli, tmp_path):
    import os
    import subprocess
    import sys

    before_schema, before_rows = schema_of(demo.url), table_contents(demo.url)
    _add_003(demo)
    _die_in_003(demo)
    # the downgrade of 002 now sleeps: the recover is killed there, then run again
    path = demo.versions / "002_add_products_description_new.py"
    original = path.read_text()
    path.write_text(
        original.replace(
            "def downgrade() -> None:\n", 'def downgrade() -> None:\n    op.execute("SELECT pg_sleep(60)")\n'
        )
    )
    env = dict(os.environ, DATABASE_URL=demo.url)
    recovering = subprocess.Popen(
        [sys.executable, "-m", "planrun.engine.cli", "recover", str(demo.plan), "--yes", "--state-dir", demo.state_dir],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert wait_for(
        lambda: query(demo.url, "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)'")[0][0] == 1,
        timeout=30,
    )
    kill9(recovering)
    assert no_planrun_backends(demo.url)
    path.write_text(original)
    code, out, err = run_cli("recover", demo.plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err
    assert current_revision(demo.url) == ["000"]
    assert schema_of(demo.url) == before_schema and table_contents(demo.url) == before_rows
    assert run_cli("recover", demo.plan, "--yes", "--state-dir", demo.state_dir)[0] == 0  # nothing left: still 0
    assert run_cli("status", demo.plan)[0] == 0


def test_abort_and_pause_reach_a_run_through_its_database_with_no_state_dir(demo, run_cli, tmp_path, moto):
    """The run's state dir is on S3 (no local control file); the operator has no state dir at
    all: abort goes through the database and the run rolls back."""
    demo.add_revision(
        "003", "002", '    zdt.batched_backfill("users", set={"name": "name || \'!\'"}, batch_size=1, pause=1.0)\n'
    )
    plan = demo.plan

    credentials = dict(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", FSSPEC_S3_ENDPOINT_URL=moto.endpoint
    )
    runner = spawn_apply(demo, plan, state_dir="s3://planrun-test/state", env=credentials)
    running = lambda: (
        query(demo.url, "SELECT run_id FROM planrun.runs WHERE outcome IS NULL AND step = 'migrate'")
        if query(demo.url, "SELECT to_regclass('planrun.runs') IS NOT NULL")[0][0]
        else []
    )
    assert wait_for(lambda: bool(running()), timeout=60), runner.communicate(timeout=5)[0]
    ((run_id,),) = running()
    code, out, err = run_cli("pause", plan, run_id)
    assert code == 0 and f"asked run {run_id} to pause" in out, out + err
    heard = lambda event: query(
        demo.url, "SELECT count(*) FROM planrun.events WHERE run_id = %s AND event = %s", (run_id, event)
    )[0][0]
    assert wait_for(lambda: heard("control_pause"), timeout=10), "the run heard the pause through the database"
    from conftest import execute

    cut = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'planrun control %'"
    execute(demo.url, cut)  # the operator's channel is cut: the run says so and listens again
    code, out, err = run_cli("resume", plan, run_id)
    assert code == 0 and f"asked run {run_id} to resume" in out, out + err
    assert wait_for(lambda: heard("control_resume"), timeout=10)
    code, out, err = run_cli("abort", plan, run_id)
    assert code == 0, out + err
    output, _ = runner.communicate(timeout=60)
    assert runner.returncode == 1, output
    assert "aborted by " in output and "(planrun abort)" in output
    assert "pause, resume and abort through " in output and "cannot be heard now" in output
    assert current_revision(demo.url) == ["000"]
    code, out, err = run_cli("abort", run_id, plan)  # the order of earlier planruns still works
    assert code == 2 and "has already ended (failed)" in err


def test_drift_is_reported_and_nothing_else(demo, run_cli):
    assert run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)[0] == 0
    code, out, err = run_cli("status", demo.plan)
    assert code == 0, out + err
    assert "none: the schema is as run " in out
    from conftest import execute

    execute(demo.url, "CREATE INDEX ix_tmp ON users (name)")
    code, out, err = run_cli("status", demo.plan)
    assert code == 1, out + err
    assert "1 change(s) since run " in out and "added: index public.ix_tmp" in out
    assert sum(out.count(f"\n  {word}: ") for word in ("added", "removed")) + out.count("\n  changed ") == 1


def test_status_while_a_run_changes_the_schema_is_no_drift(demo, run_cli, tmp_path):
    """The running run's own change is work in progress, not drift: status says a run is under
    way and judges drift when it has ended."""
    from faults import kill9, spawn_apply, wait_for_file, with_fault_plugin

    assert run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)[0] == 0
    demo.add_revision(
        "003", "002", '    op.execute("CREATE TABLE notes (id int)")\n', '    op.execute("DROP TABLE notes")\n'
    )
    plan = demo.write_plan(with_fault_plugin(demo.plan.read_text()), "paused.yaml")
    marker = tmp_path / "paused"
    runner = spawn_apply(demo, plan, "pause:post-checks", marker)
    try:
        assert wait_for_file(marker), runner.communicate(timeout=5)[0]
        code, out, err = run_cli("status", plan)
        assert code == 0, out + err
        assert "is running (step post-checks): its change is under way, drift is judged when it ends" in out
        assert "added: relation public.notes" in out
    finally:
        kill9(runner)


def test_two_machines_see_the_same_history(demo, run_cli, tmp_path):
    assert run_cli("apply", demo.plan, "--yes", "--state-dir", tmp_path / "machine-a")[0] == 0
    demo.add_revision("003", "002", '    op.execute("SELECT 1")\n')
    assert run_cli("apply", demo.plan, "--yes", "--state-dir", tmp_path / "machine-b")[0] == 0
    code, out, err = run_cli("status", demo.plan, "--json")
    runs = next(s for s in json.loads(out)["sections"] if s["title"] == "last runs")["lines"]
    assert len(runs) == 2 and all(" success" in line for line in runs), runs
    assert query(demo.url, "SELECT revision_from, revision_to FROM planrun.runs ORDER BY started_at") == [
        ("000", "002"),
        ("002", "003"),
    ]


def test_an_older_store_is_upgraded_in_place(demo, run_cli):
    import psycopg2

    from planrun.plugins.history.store import LAYOUT_VERSION, ensure

    conn = psycopg2.connect(demo.url)
    ensure(conn, "planrun", upto=1)
    conn.close()
    assert query(demo.url, "SELECT version FROM planrun.layout") == [(1,)]
    assert query(demo.url, "SELECT to_regclass('planrun.runs')") == [(None,)]
    code, out, err = run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err
    assert query(demo.url, "SELECT version FROM planrun.layout") == [(LAYOUT_VERSION,)]
    assert query(demo.url, "SELECT count(*) FROM planrun.runs WHERE outcome = 'success'") == [(1,)]


def test_history_and_abort_know_a_dead_run_from_the_journal_alone(demo, run_cli):
    _add_003(demo)
    _die_in_003(demo)
    code, out, err = run_cli("history", "--state-dir", demo.state_dir, "--json")
    (run,) = json.loads(out)["runs"]
    assert run["outcome"] == "died", run
    code, out, err = run_cli("abort", run["run_id"], "--state-dir", demo.state_dir)
    assert code == 2 and "is not running: its process is gone" in err, out + err
    code, out, err = run_cli("abort", run["run_id"], demo.plan)
    assert code == 2 and "is not running: it died at step migrate" in err, out + err
