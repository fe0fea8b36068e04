"""The run holds its lock for its whole length, or stops.

The lock's session is ended from outside after each step (the next boundary must notice), and
during a long migration (the watcher must notice and cancel it); nothing may migrate unlocked,
and whatever had moved is rolled back and proven.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from fault_points import terminate_lock_session

from conftest import current_revision, schema_of, table_contents
from faults import with_fault_plugin
from planrun.plugins.clusters.cluster import wait_for


@pytest.mark.parametrize(
    "after, moved", [("lock", False), ("pre-checks", False), ("migrate", True), ("post-checks", True)]
)
def test_a_lock_lost_at_a_step_boundary_stops_the_run(demo, run_cli, monkeypatch, after, moved):
    plan = demo.write_plan(with_fault_plugin(demo.plan.read_text()))
    monkeypatch.setenv("PLANRUN_FAULT", f"drop-lock:{after}")
    before_schema, before_rows = schema_of(demo.url), table_contents(demo.url)
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 1, out + err
    next_step = {
        "lock": "pre-checks",
        "pre-checks": "migrate",
        "migrate": "post-checks",
        "post-checks": "declaring success",
    }[after]
    assert "the run's lock on " in out and f"was lost before {next_step}: the lock's session is gone" in out, out
    assert "so that nothing runs unlocked" in out
    if moved:
        assert "rollback: downgrade" in out and "proven" in out
        # the rollback ran under the lock, taken again first
        journal = [json.loads(line) for path in Path(demo.state_dir).rglob("*.jsonl") for line in path.open()]
        events = [r["event"] + ":" + r.get("step", "") for r in journal]
        retaken, rollback = events.index("lock_retaken:"), events.index("step_start:rollback-downgrade")
        assert retaken < rollback, events
    else:
        assert "rolling back" not in out and "it stopped before any step that changes the target" in out
    assert current_revision(demo.url) == ["000"]
    assert schema_of(demo.url) == before_schema
    assert table_contents(demo.url) == before_rows


def test_a_lock_lost_during_a_long_migration_cancels_and_rolls_it_back(demo, run_cli):
    demo.add_revision(
        "003",
        "002",
        '    op.add_column("users", sa.Column("nick", sa.Text()))\n    op.execute("SELECT pg_sleep(20)")\n',
        '    op.drop_column("users", "nick")\n',
    )
    before_schema, before_rows = schema_of(demo.url), table_contents(demo.url)
    killed = []

    def kill_when_sleeping() -> None:
        from conftest import query

        sleeping = lambda: (
            query(demo.url, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(20)%%'")[0][0] == 1
        )
        if wait_for(sleeping, timeout=30):
            killed.append(terminate_lock_session(demo.url))

    killer = threading.Thread(target=kill_when_sleeping)
    killer.start()
    started = time.monotonic()
    code, out, err = run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)
    killer.join()
    assert killed == [1]
    assert time.monotonic() - started < 15, "the migration was cancelled, not waited for"
    assert code == 1, out + err
    assert "the run's lock on" in out and "was lost: the lock's session is gone" in out, out
    assert "proven" in out
    assert current_revision(demo.url) == ["000"]
    assert schema_of(demo.url) == before_schema
    assert table_contents(demo.url) == before_rows


def test_no_rollback_without_the_lock(demo, run_cli, monkeypatch):
    """The lock is lost after migrate and another session takes it at once: the rollback
    cannot hold the target, so nothing is rolled back unlocked; exit 3, naming the holder."""
    plan = demo.write_plan(with_fault_plugin(demo.plan.read_text()).replace("  within: 5m", "  within: 2s", 1))
    assert "within: 2s" in plan.read_text()
    monkeypatch.setenv("PLANRUN_FAULT", "steal-lock:migrate")
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 3, out + err
    assert "could not be taken again within rollback.within: it is held by application 'another session'" in out
    assert "nothing is rolled back without it" in out
    assert "rollback: downgrade" not in out
    assert current_revision(demo.url) == ["002"]  # the migration stays as it was: a human decides
