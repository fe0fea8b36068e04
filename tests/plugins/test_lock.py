"""The run's advisory lock: two applies on one database, exactly one runs."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import current_revision, query
from faults import run_pid
from planrun.plugins.clusters.cluster import wait_for
from planrun.plugins.lock import LOCK_CLASS, LOCK_OBJECT


def _lock_held(url: str) -> bool:
    rows = query(
        url,
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = %s AND objid = %s",
        (LOCK_CLASS, LOCK_OBJECT),
    )
    return rows[0][0] == 1


def _start_slow_apply(demo):
    demo.add_revision("003", "002", '    op.execute("SELECT pg_sleep(4)")\n')
    env = dict(os.environ, DATABASE_URL=demo.url)
    return subprocess.Popen(
        [sys.executable, "-m", "planrun.engine.cli", "apply", str(demo.plan), "--yes", "--state-dir", demo.state_dir],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_second_apply_fails_at_once_naming_the_holder(demo, run_cli):
    first = _start_slow_apply(demo)
    try:
        assert wait_for(lambda: _lock_held(demo.url), timeout=30)
        code, out, err = run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)
        assert code == 1, out + err
        assert "is locked by planrun run=" in out
        assert f"pid={run_pid(first)}" in out  # the run's own process (planrun's supervised child)
        assert "pass --wait 5m to wait for it" in out
    finally:
        output, _ = first.communicate(timeout=60)
    assert first.returncode == 0, output
    assert current_revision(demo.url) == ["003"]


def test_second_apply_with_wait_runs_after_the_first(demo, run_cli):
    first = _start_slow_apply(demo)
    try:
        assert wait_for(lambda: _lock_held(demo.url), timeout=30)
        code, out, err = run_cli("apply", demo.plan, "--yes", "--wait", "30s", "--state-dir", demo.state_dir)
    finally:
        first.communicate(timeout=60)
    assert first.returncode == 0
    assert code == 0, out + err
    assert "already at 003; nothing to do" in out


def test_lock_is_released_when_the_runner_dies(demo, run_cli):
    first = _start_slow_apply(demo)
    assert wait_for(lambda: _lock_held(demo.url), timeout=30)
    first.kill()
    first.wait()
    assert wait_for(lambda: not _lock_held(demo.url), timeout=10)
