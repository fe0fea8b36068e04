"""A migration stuck behind another session's lock: the failure names the blocker (pid,
application, user, state, for how long, its query), and ``migrate.lock_retries`` runs the
revision again with backoff before giving up."""

from __future__ import annotations

import threading
import time

import psycopg2

from conftest import current_revision, schema_of, table_contents

ALTER_USERS = '    op.add_column("users", sa.Column("nick", sa.Text()))\n'


def idle_in_transaction(url: str, application: str = "billing-worker"):
    """A session that took a lock on users and went idle without committing (the usual culprit)."""
    conn = psycopg2.connect(url, application_name=application)
    with conn.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM users WHERE id > 0")
    return conn


def apply_while_blocked(run_cli, demo, plan):
    """``planrun apply`` while an idle transaction holds a lock on users the whole time."""
    blocker = idle_in_transaction(demo.url)
    try:
        return run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    finally:
        blocker.rollback()
        blocker.close()


def test_a_lock_timeout_names_the_session_that_blocked_it(demo, run_cli):
    demo.add_revision("003", "002", ALTER_USERS, '    op.drop_column("users", "nick")\n')
    plan = demo.write_plan(demo.plan.read_text().replace("lock_timeout: 3s", "lock_timeout: 1s"))
    before_schema, before_rows = schema_of(demo.url), table_contents(demo.url)
    code, out, err = apply_while_blocked(run_cli, demo, plan)
    assert code == 1, out + err
    assert "canceling statement due to lock timeout (waited longer than migrate.lock_timeout for a lock)" in out
    assert (
        "blocked by pid " in out and "(application 'billing-worker', user postgres, idle in transaction for " in out
    ), out
    assert ": SELECT count(*) FROM users WHERE id > 0)" in out
    assert current_revision(demo.url) == ["000"]
    assert schema_of(demo.url) == before_schema and table_contents(demo.url) == before_rows


def _release_after_first_retry(blocker, state_dir: str) -> None:
    """End the blocking transaction once the run has journaled its first lock retry (not after a
    fixed time: a cold first run in a worker can take longer than any fixed time to get there)."""
    from pathlib import Path

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        journals = Path(state_dir, "runs").glob("*.jsonl")
        if any('"event": "lock_retry"' in path.read_text() for path in journals):
            break
        time.sleep(0.05)
    blocker.rollback()
    blocker.close()


def test_lock_retries_wait_out_a_short_blocker(demo, run_cli):
    demo.add_revision("003", "002", ALTER_USERS, '    op.drop_column("users", "nick")\n')
    plan = demo.write_plan(demo.plan.read_text().replace("lock_timeout: 3s", "lock_timeout: 500ms\n  lock_retries: 4"))
    blocker = idle_in_transaction(demo.url)
    release = threading.Thread(target=_release_after_first_retry, args=(blocker, demo.state_dir), daemon=True)
    release.start()
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    release.join(timeout=60)
    assert code == 0, out + err
    assert "trying again in 1s (retry 1 of 4, migrate.lock_retries)" in out
    assert current_revision(demo.url) == ["003"]


def test_lock_retries_give_up_after_the_last_one(demo, run_cli):
    demo.add_revision("003", "002", ALTER_USERS, '    op.drop_column("users", "nick")\n')
    plan = demo.write_plan(demo.plan.read_text().replace("lock_timeout: 3s", "lock_timeout: 200ms\n  lock_retries: 2"))
    before_rows = table_contents(demo.url)
    code, out, err = apply_while_blocked(run_cli, demo, plan)
    assert code == 1, out + err
    assert "retry 2 of 2" in out and "retry 3 of" not in out
    assert "blocked by pid " in out
    assert current_revision(demo.url) == ["000"] and table_contents(demo.url) == before_rows
