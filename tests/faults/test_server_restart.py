"""The server crashes (``pg_ctl stop -m immediate``) and comes back while a run migrates or
rolls back. The rollback keeps trying within ``rollback.within`` and is proven (exit 1), or the
run says a human must act (exit 3); never 0. The message names what had been committed.

These tests crash a cluster of their own, so the rest of the suite never sees a restart."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from conftest import current_revision, query, schema_of, table_contents
from planrun.plugins.clusters.cluster import TempCluster, wait_for


@pytest.fixture(scope="module")
def pg_cluster():
    cluster = TempCluster(durable=True)  # a commit must survive the crash, as on a real server
    cluster.start()
    yield cluster
    cluster.stop()


def crash_when(url: str, cluster: TempCluster, sql_running: str, down_for: float) -> threading.Thread:
    """A thread that crashes the server once a backend runs ``sql_running``, and starts it again
    ``down_for`` seconds later."""

    def run() -> None:
        running = lambda: (
            query(url, "SELECT count(*) FROM pg_stat_activity WHERE query = %s", (sql_running,))[0][0] == 1
        )
        assert wait_for(running, timeout=30)
        cluster.crash()
        time.sleep(down_for)
        cluster.restart()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_crash_mid_migration_is_rolled_back_once_the_server_is_back(demo, run_cli, pg_cluster):
    demo.add_revision(
        "003",
        "002",
        '    op.add_column("users", sa.Column("nick", sa.Text()))\n    op.execute("SELECT pg_sleep(30)")\n',
        '    op.drop_column("users", "nick")\n',
    )
    before_schema, before_rows = schema_of(demo.url), table_contents(demo.url)
    crasher = crash_when(demo.url, pg_cluster, "SELECT pg_sleep(30)", down_for=3)
    code, out, err = run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)
    crasher.join()
    assert code == 1, out + err
    # while the server is down nobody can tell how far it got; the rollback reads it once it is back
    assert "committed before the failure: unknown (the database cannot be reached to tell)" in out, out
    assert "trying again in" in out, "the rollback waited for the server instead of giving up"
    assert "rollback: downgrade" in out and "002 -> 000; proven" in out
    assert current_revision(demo.url) == ["000"]
    assert schema_of(demo.url) == before_schema
    assert table_contents(demo.url) == before_rows


def test_a_crash_during_the_rollback_is_retried_and_proven(demo, run_cli, pg_cluster):
    once = demo.root / "slept-once"  # the downgrade sleeps (and is crashed) the first time only
    demo.add_revision(
        "003",
        "002",
        '    op.add_column("users", sa.Column("nick", sa.Text()))\n',
        f"    import os\n    if not op.get_context().as_sql and not os.path.exists({str(once)!r}):  # lint renders "
        f'it offline\n        open({str(once)!r}, "w").close()\n'
        '        op.execute("SELECT pg_sleep(20)")\n    op.drop_column("users", "nick")\n',
    )
    plan = demo.write_plan(demo.plan.read_text().replace("values: [active, suspended]", "values: [suspended]"))
    before_schema, before_rows = schema_of(demo.url), table_contents(demo.url)
    crasher = crash_when(demo.url, pg_cluster, "SELECT pg_sleep(20)", down_for=2)
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    crasher.join()
    assert code == 1, out + err
    assert "trying again in" in out and "proven" in out, out
    assert current_revision(demo.url) == ["000"]
    assert schema_of(demo.url) == before_schema
    assert table_contents(demo.url) == before_rows


def test_a_server_that_stays_away_past_the_budget_is_exit_3(demo, run_cli, pg_cluster):
    demo.add_revision("003", "002", '    op.execute("SELECT pg_sleep(30)")\n')
    plan = demo.write_plan(demo.plan.read_text().replace("within: 5m", "within: 3s"))
    crasher = crash_when(demo.url, pg_cluster, "SELECT pg_sleep(30)", down_for=6)
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    crasher.join()
    assert code == 3, out + err
    assert "ROLLBACK FAILED" in out and "A human must act" in out
    assert "cannot reach the database" in out or "could not" in out.lower()
    # it gave up when rollback.within ran out, not when the server came back (the journal says so)
    journal = [json.loads(line) for path in Path(demo.state_dir).rglob("*.jsonl") for line in path.open()]
    end = next(r for r in journal if r["event"] == "rollback_end")
    assert end["ok"] is False and end["within"] == 3.0
    assert current_revision(demo.url) == ["002"], "001 and 002 were committed and could not be undone"


def test_a_restart_during_the_rollback_leaves_an_ended_run_ended(demo, run_cli, pg_cluster):
    """The server restarts while a run rolls back: the run ends (exit 1, proven), but its store
    connection was gone, so it was recorded as died; ``recover`` then undid the database again,
    deleting a row the application wrote after the run ended. Now the run reconnects and writes
    its end, and ``recover`` finds nothing to do: the later row stays."""
    from conftest import execute

    demo.add_revision(  # 003 goes in, a post-check refuses it, its downgrade is slow enough to crash into
        "003",
        "002",
        '    op.add_column("users", sa.Column("nick", sa.Text()))\n',
        '    op.execute("SELECT pg_sleep(2)")\n    op.drop_column("users", "nick")\n',
    )
    text = (
        demo.plan.read_text()
        .replace('to: "002"', "to: head")
        .replace("  post:\n", "  post:\n    - {name: the release is refused, sql: 'SELECT 1', expect: 2}\n", 1)
    )
    plan = demo.write_plan(text)
    before = table_contents(demo.url)
    from faults import spawn_apply

    crasher = crash_when(demo.url, pg_cluster, "SELECT pg_sleep(2)", down_for=2)
    runner = spawn_apply(demo, plan)  # its own process, which ends: a run whose end is lost looks dead
    out = runner.communicate(timeout=180)[0]
    crasher.join()
    assert runner.returncode == 1, out
    assert "trying again in" in out and "proven" in out, out
    assert table_contents(demo.url) == before
    execute(demo.url, "INSERT INTO users (name, email) VALUES ('after the run', 'after@example.com')")
    later = table_contents(demo.url)
    code, out, err = run_cli("status", plan)
    assert "DIED" not in out, out
    code, out, err = run_cli("recover", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 0 and "nothing to recover" in out, out + err
    assert table_contents(demo.url) == later != before
