"""The migration's backend is terminated from outside (an operator, a watchdog) in the middle of
a revision and in the middle of a batched backfill: the run fails, says what had been
committed (whole revisions, backfill rows), rolls everything back and proves it."""

from __future__ import annotations

import threading

import psycopg2

from conftest import current_revision, schema_of, table_contents
from faults import BACKFILLED_AT_LEAST, add_backfill_revision
from planrun.plugins.clusters.cluster import wait_for


def terminate_migration_when(url: str, condition_sql: str) -> threading.Thread:
    """A thread that ends the migration's backend once ``condition_sql`` is true. Its own
    connection is named: in-process, the migration's PGAPPNAME is in the environment too."""

    def ask(sql: str):
        conn = psycopg2.connect(url, application_name="test terminator")
        conn.autocommit = True
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchone()[0]
        finally:
            conn.close()

    def run() -> None:
        assert wait_for(lambda: ask(condition_sql), timeout=30, interval=0.02)
        assert (
            ask(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name LIKE 'planrun "
                "migrate %'"
            )
            == 1
        )

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_terminated_mid_revision(demo, run_cli):
    demo.add_revision(
        "003",
        "002",
        '    op.add_column("users", sa.Column("nick", sa.Text()))\n    op.execute("SELECT pg_sleep(30)")\n',
        '    op.drop_column("users", "nick")\n',
    )
    before_schema, before_rows = schema_of(demo.url), table_contents(demo.url)
    killer = terminate_migration_when(
        demo.url, "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)'"
    )
    code, out, err = run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)
    killer.join()
    assert code == 1, out + err
    assert "revision 003 (versions/003_test.py) failed during upgrade: OperationalError: " in out, out
    assert "committed before the failure: revisions 001, 002" in out
    assert "002 -> 000; proven" in out
    assert current_revision(demo.url) == ["000"]
    assert schema_of(demo.url) == before_schema and table_contents(demo.url) == before_rows


def test_terminated_mid_backfill(demo, run_cli):
    add_backfill_revision(demo, pause=0.02)
    before_schema, before_rows = schema_of(demo.url), table_contents(demo.url)
    killer = terminate_migration_when(demo.url, BACKFILLED_AT_LEAST.format(n=500))
    code, out, err = run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)
    killer.join()
    assert code == 1, out + err
    assert (
        "committed before the failure: revisions 001, 002; revision 003 committed part of its work outside its "
        "transaction (backfill events.label: " in out
    ), out
    assert " of 3000 rows)" in out
    assert "PendingRollbackError" not in out, "the root cause is reported, not SQLAlchemy's pool error"
    assert "proven" in out
    assert current_revision(demo.url) == ["000"]
    assert schema_of(demo.url) == before_schema and table_contents(demo.url) == before_rows
