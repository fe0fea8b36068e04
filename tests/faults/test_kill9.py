"""``kill -9`` of the runner at each step: no backend of the dead run survives it for long, no
password file or half-written backup stays, the lock is free, and the next ``apply`` ends in a
consistent state (the database at a whole revision, every table's content accounted for)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from conftest import current_revision, query, schema_of, table_contents
from faults import (
    BACKFILLED_AT_LEAST,
    add_backfill_revision,
    kill9,
    leftover_secret_files,
    no_planrun_backends,
    planrun_backends,
    spawn_apply,
    wait_for_file,
    with_fault_plugin,
)
from planrun.plugins.clusters.cluster import wait_for

BACKUP = 'backup: {{to: "{to}/{{run_id}}", verify: checksum}}\n'


def plan_with_backup(demo, tmp_path):
    text = demo.plan.read_text().replace("rollback:", BACKUP.format(to=tmp_path / "b") + "rollback:", 1)
    return demo.write_plan(with_fault_plugin(text), "kill.yaml")


@pytest.mark.parametrize("step", ["pre-checks", "backup", "verify-backup", "migrate", "post-checks"])
def test_kill9_at_a_step(demo, run_cli, tmp_path, step):
    plan = plan_with_backup(demo, tmp_path)
    marker = tmp_path / "paused"
    before_schema, before_rows = schema_of(demo.url), table_contents(demo.url)
    runner = spawn_apply(demo, plan, f"pause:{step}", marker)
    assert wait_for_file(marker), runner.communicate(timeout=5)[0]
    kill9(runner)
    assert no_planrun_backends(demo.url), planrun_backends(demo.url)
    assert leftover_secret_files() == []
    if step != "post-checks":  # nothing had changed yet
        assert current_revision(demo.url) == ["000"]
        assert schema_of(demo.url) == before_schema and table_contents(demo.url) == before_rows
    assert_refused_then_recovered(run_cli, demo, plan, step, before_schema, before_rows)
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err
    assert current_revision(demo.url) == ["002"]
    assert query(demo.url, "SELECT count(*) FROM users") == [(5,)]
    assert query(demo.url, "SELECT count(*) FROM products WHERE description_new IS DISTINCT FROM description") == [(0,)]
    folders = sorted((tmp_path / "b").iterdir())
    assert all((f / "manifest.json").exists() for f in folders), "only whole backups remain"


def assert_refused_then_recovered(run_cli, demo, plan, step, before_schema, before_rows) -> None:
    """After a kill: status names the dead run and its step, apply refuses and points at
    recover, recover brings the database back to the proven starting state."""
    code, out, err = run_cli("status", plan)
    assert code == 1 and "DIED at step " in out, out + err
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 2 and "died at step" in out and "run `planrun recover " in out, out + err
    code, out, err = run_cli("recover", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err
    assert current_revision(demo.url) == ["000"]
    assert schema_of(demo.url) == before_schema and table_contents(demo.url) == before_rows
    assert run_cli("status", plan)[0] == 0


def test_kill9_mid_statement_leaves_no_orphan_migration(demo, run_cli, tmp_path):
    """The revision holds ACCESS EXCLUSIVE on users and runs a long statement when its runner
    dies: the server ends the backend within seconds (it used to run on for its whole
    statement, unlocked), the revision's transaction is rolled back, and the next run is not
    blocked behind it."""
    demo.add_revision(
        "003",
        "002",
        '    op.add_column("users", sa.Column("nick", sa.Text()))\n    op.execute("SELECT pg_sleep(60)")\n',
        '    op.drop_column("users", "nick")\n',
    )
    runner = spawn_apply(demo, demo.plan)
    sleeping = lambda: (
        query(demo.url, "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)'")[0][0] == 1
    )
    assert wait_for(sleeping, timeout=30)
    killed_at = time.monotonic()
    kill9(runner)
    assert no_planrun_backends(demo.url, timeout=5), planrun_backends(demo.url)
    assert time.monotonic() - killed_at < 5
    assert query(
        demo.url, "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'users'"
    ) == [(0,)]
    assert current_revision(demo.url) == ["002"]  # 001 and 002 committed; 003 rolled back by the server
    assert "nick" not in [
        c for (c,) in query(demo.url, "SELECT column_name FROM information_schema.columns WHERE table_name = 'users'")
    ]
    (demo.versions / "003_test.py").unlink()
    started = time.monotonic()
    code, out, err = run_cli("recover", demo.plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err
    assert "002 -> 000; proven" in out
    assert time.monotonic() - started < 5, "the next run was not blocked behind the orphan"


def test_the_lock_step_names_an_orphan_migration_it_cannot_wait_out(demo, run_cli, monkeypatch):
    """A backend named like a planrun migration whose runner is gone (here: a session that
    merely carries the name) makes the next run wait, then refuse, naming it."""
    import psycopg2

    import planrun.plugins.lock as lock

    monkeypatch.setattr(lock, "ORPHAN_WAIT", 0.5)
    orphan = psycopg2.connect(demo.url, application_name="planrun migrate 20260101T000000000-dead00")
    try:
        with orphan.cursor() as cursor:
            cursor.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        code, out, err = run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)
    finally:
        orphan.rollback()
        orphan.close()
    assert code == 1, out + err
    assert "an earlier planrun migration is still running on" in out
    assert "(planrun migrate 20260101T000000000-dead00, idle in transaction" in out
    assert "SELECT pg_terminate_backend(" in out
    assert current_revision(demo.url) == ["000"]


def test_kill9_while_waiting_for_the_lock(demo, run_cli):
    """Killed while it waits for another run's lock: it held nothing, changed nothing."""
    import psycopg2

    from planrun.plugins.lock import LOCK_CLASS, LOCK_OBJECT

    holder = psycopg2.connect(demo.url, application_name="someone else")
    holder.autocommit = True
    with holder.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_CLASS, LOCK_OBJECT))
    try:
        before = table_contents(demo.url)
        waiting = spawn_apply(demo, demo.plan, args=["--wait", "60s"])
        assert wait_for(
            lambda: any(name.startswith("planrun run=") for _, name, _, _ in planrun_backends(demo.url)), timeout=30
        )
        kill9(waiting)
    finally:
        holder.close()
    assert no_planrun_backends(demo.url)
    assert table_contents(demo.url) == before and current_revision(demo.url) == ["000"]
    code, out, err = run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err


def test_kill9_mid_backfill_then_the_next_apply_resumes_it(demo, run_cli):
    add_backfill_revision(demo, pause=0.05)
    runner = spawn_apply(demo, demo.plan)
    assert wait_for(lambda: query(demo.url, BACKFILLED_AT_LEAST.format(n=500))[0][0], timeout=30, interval=0.02)
    kill9(runner)
    assert no_planrun_backends(demo.url), planrun_backends(demo.url)
    done = query(demo.url, "SELECT count(*) FROM events WHERE label IS NOT NULL")[0][0]
    assert 500 <= done < 3000, "batches committed before the kill stay committed"
    assert current_revision(demo.url) == ["002"], "the revision itself was never recorded as applied"
    plan = demo.write_plan(
        demo.plan.read_text().replace("strategy: downgrade", "strategy: downgrade\n  recover: forward")
    )
    code, out, err = run_cli("recover", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err
    assert "002 -> 003" in out, "recovered forward: the backfill resumed where it stopped"
    assert current_revision(demo.url) == ["003"]
    assert query(demo.url, "SELECT count(*) FROM events WHERE label IS DISTINCT FROM upper(kind)") == [(0,)]
    assert query(demo.url, "SELECT count(*) FROM events") == [(3000,)]


def test_kill9_mid_rollback_leaves_a_whole_revision_and_no_orphan(demo, run_cli):
    demo.add_revision(
        "003",
        "002",
        '    op.add_column("users", sa.Column("nick", sa.Text()))\n',
        '    op.execute("SELECT pg_sleep(60)")\n    op.drop_column("users", "nick")\n',
    )
    plan = demo.write_plan(demo.plan.read_text().replace("values: [active, suspended]", "values: [suspended]"))
    runner = spawn_apply(demo, plan)
    sleeping = lambda: (
        query(demo.url, "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)'")[0][0] == 1
    )
    assert wait_for(sleeping, timeout=30)
    kill9(runner)
    assert no_planrun_backends(demo.url), planrun_backends(demo.url)
    assert current_revision(demo.url) == ["003"], "the downgrade's transaction was rolled back whole"
    assert "nick" in [
        c for (c,) in query(demo.url, "SELECT column_name FROM information_schema.columns WHERE table_name = 'users'")
    ]
    assert leftover_secret_files() == []


def test_a_run_killed_after_its_verified_backup_is_recovered_by_restoring_it(demo, run_cli, tmp_path):
    """Recovery may restore only from a backup the dead run verified: its journal's verify step
    must be read back as such, or a restore-only plan could not be recovered at all."""
    text = demo.plan.read_text().replace("strategy: downgrade", "strategy: restore")
    text = text.replace("rollback:", BACKUP.format(to=tmp_path / "b").replace("checksum", "restore") + "rollback:", 1)
    plan = demo.write_plan(with_fault_plugin(text), "kill-restore.yaml")
    marker = tmp_path / "paused"
    before_schema, before_rows = schema_of(demo.url), table_contents(demo.url)
    runner = spawn_apply(demo, plan, "pause:post-checks", marker)  # migrated, then killed
    assert wait_for_file(marker), runner.communicate(timeout=5)[0]
    kill9(runner)
    assert current_revision(demo.url) == ["002"]
    code, out, err = run_cli("recover", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err
    assert "restore" in out and "proven" in out, out
    assert current_revision(demo.url) == ["000"]
    assert schema_of(demo.url) == before_schema and table_contents(demo.url) == before_rows


def test_a_throwaway_cluster_does_not_outlive_the_process_that_started_it():
    """``planrun test`` and ``lint`` without a server start a throwaway cluster; killed with
    ``kill -9`` mid-run, they left that server running for good. Its watchdog now stops it
    and removes its folder once the process that started it is gone, however it ended."""
    import sys

    code = (
        "import time; from planrun.plugins.clusters.cluster import TempCluster; cluster = TempCluster().start(); "
        "print(cluster.root, flush=True); time.sleep(600)"
    )
    owner = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    root = Path(owner.stdout.readline().strip())
    postmaster = int((root / "data" / "postmaster.pid").read_text().split()[0])
    assert Path(f"/proc/{postmaster}").exists()
    owner.kill()  # SIGKILL: nothing of the owner's runs
    owner.wait(timeout=10)
    assert wait_for(lambda: not Path(f"/proc/{postmaster}").exists(), timeout=60), "the server outlived its owner"
    assert wait_for(lambda: not root.exists(), timeout=30), f"{root} was left behind"
