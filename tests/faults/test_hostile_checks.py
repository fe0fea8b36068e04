"""A check can never change data, leave its transaction or hurt another session.

Every escape is tried as a plan author would write it, in each place a check can stand (gate,
pre, post): the plan is refused with exit 2 and the check's line before anything connects, and
every table's content is the same afterwards. Then the server's own fence is attacked with the
guard out of the way, and the timeouts that keep a check from hanging a run.
"""

from __future__ import annotations

import psycopg2
import pytest

from conftest import current_revision, execute, query, table_contents

ESCAPES = {
    # the server runs only the text before a NUL: the reviewed query is not what would run
    "nul-hides-the-rest": ("SELECT 1\x00; DELETE FROM users", "its SQL holds a NUL character (at offset 8)"),
    # the two seen in the wild
    "commit-then-delete": ("SELECT 1; COMMIT; DELETE FROM users", "found 3 statements"),
    "rollback-then-update": ("SELECT 0; ROLLBACK; UPDATE users SET name = 'x'", "found 3 statements"),
    "terminate-other-sessions": (
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()) x",
        "may not call pg_terminate_backend()",
    ),
    # and more of the same family
    "delete-in-cte": ("WITH gone AS (DELETE FROM users RETURNING 1) SELECT count(*) FROM gone", "may not write"),
    "update-in-nested-cte": (
        "SELECT count(*) FROM (WITH u AS (UPDATE users SET name = 'x' RETURNING 1) SELECT * FROM u) s",
        "may not write",
    ),
    "set-config": ("SELECT set_config('default_transaction_read_only', 'off', false)", "may not call set_config()"),
    "schema-qualified-cancel": (
        "SELECT pg_catalog.pg_cancel_backend(pid) FROM pg_stat_activity",
        "may not call pg_cancel_backend()",
    ),
    "advisory-unlock-all": ("SELECT pg_advisory_unlock_all()", "may not call pg_advisory_unlock_all()"),
    "advisory-lock": ("SELECT pg_advisory_lock(1)", "may not call pg_advisory_lock()"),
    "dblink": ("SELECT * FROM dblink('dbname=postgres', 'DELETE FROM users') AS t(x int)", "may not call dblink()"),
    "query-to-xml": (
        "SELECT query_to_xml('DELETE FROM users RETURNING 1', true, true, '')",
        "may not call query_to_xml()",
    ),
    "notify": ("SELECT pg_notify('chan', 'hi')", "may not call pg_notify()"),
    "lo-export": ("SELECT lo_export(1, '/tmp/x')", "may not call lo_export()"),
    "reload-conf": ("SELECT pg_reload_conf()", "may not call pg_reload_conf()"),
    "switch-wal": ("SELECT pg_switch_wal()", "may not call pg_switch_wal()"),
    "long-sleep": ("SELECT pg_sleep(600)", "may not call pg_sleep() for more than 1s"),
    "sleep-for": ("SELECT pg_sleep_for('10 minutes')", "may not call pg_sleep_for()"),
    "nextval": ("SELECT nextval('users_id_seq')", "may not call nextval()"),
    "for-update": ("SELECT count(*) FROM (SELECT * FROM users FOR UPDATE) x", "may not lock rows"),
    "select-into": ("SELECT * INTO stolen FROM users", "may not create tables"),
    "explain-analyze-delete": ("EXPLAIN ANALYZE DELETE FROM users", "found EXPLAIN"),
    "plain-delete": ("DELETE FROM users", "found DELETE"),
    "set-session": ("SET default_transaction_read_only = off", "found SET"),
    "do-block": ("DO $$ BEGIN DELETE FROM users; END $$", "found DO"),
    "copy-to-program": ("COPY users TO PROGRAM 'rm -rf /tmp/x'", "found COPY"),
    "truncate": ("TRUNCATE users", "found TRUNCATE"),
    "call-procedure": ("CALL do_harm()", "found CALL"),
    "trailing-statement": ("SELECT count(*) FROM users; DROP TABLE users", "found 2 statements"),
}

PLAN = """\
version: 1
name: hostile
target: {{url: "${{DATABASE_URL}}", alembic: {{config: ../migrations/alembic.ini}}}}
{phase}
checks:
  {where}:
    - {{name: innocent, sql: "SELECT count(*) FROM users", expect: "> 0"}}
    - name: hostile
      sql: {sql}
      expect: "> -1"
"""


@pytest.mark.parametrize("name", sorted(ESCAPES))
def test_an_escaping_check_is_refused_before_anything_runs(demo, run_cli, name):
    sql, reason = ESCAPES[name]
    before, revision = table_contents(demo.url), current_revision(demo.url)
    for where in ("gate", "pre", "post"):
        phase = "phase: contract" if where == "gate" else ""
        text = PLAN.format(phase=phase, where=where, sql=_yaml_string(sql))
        if where == "gate":
            text += "  pre: []\n"
        plan = demo.write_plan(text, f"{where}.yaml")
        code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
        assert code == 2, (where, out, err)
        assert f"{where}.yaml:9:12: checks.{where}[1].sql: refused: " in err, (where, err)
        assert reason in err, (where, err)
    assert table_contents(demo.url) == before
    assert current_revision(demo.url) == revision
    assert not list(demo.root.glob("state/runs/*.jsonl")), "refused before a run started"


def _yaml_string(sql: str) -> str:
    if "\x00" in sql:  # YAML allows a NUL only as an escape of a double-quoted string
        return '"' + sql.replace("\\", "\\\\").replace('"', '\\"').replace("\x00", "\\0") + '"'
    return "'" + sql.replace("'", "''") + "'"


def test_the_server_fence_holds_without_the_guard(demo):
    """Defence in depth: the checks' connection itself refuses writes in every transaction, even
    one the SQL opened itself after leaving planrun's."""
    from planrun.plugins.pg.connect import connect

    before = table_contents(demo.url)
    conn = connect(demo.url, readonly=True, autocommit=True)
    try:
        with conn.cursor() as cursor, pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
            cursor.execute("SELECT 1; COMMIT; DELETE FROM users")
    finally:
        conn.close()
    assert table_contents(demo.url) == before


def test_a_check_helper_refuses_what_the_plan_guard_refuses(demo):
    """Check plugins reach the database through the same helpers, which apply the same rules."""
    from types import SimpleNamespace

    from planrun.plugins.checks.guard import UnsafeCheck
    from planrun.plugins.checks.readonly import scalar

    ctx = SimpleNamespace(target_url=demo.url, run_id="t", plan=SimpleNamespace(checks=None))
    before = table_contents(demo.url)
    with pytest.raises(UnsafeCheck, match="found 2 statements"):
        scalar(ctx, "SELECT 1; DELETE FROM users")
    with pytest.raises(UnsafeCheck, match="pg_terminate_backend"):
        scalar(ctx, "SELECT pg_terminate_backend(%s)", (1,))
    assert scalar(ctx, "SELECT count(*) FROM users WHERE name <> %s", ("nobody",)) == 5
    assert table_contents(demo.url) == before


def test_a_check_behind_a_lock_fails_fast_instead_of_hanging(demo, run_cli):
    plan = demo.write_plan(demo.plan.read_text().replace("checks:\n", "checks:\n  lock_timeout: 300ms\n", 1))
    blocker = psycopg2.connect(demo.url)
    try:
        with blocker.cursor() as cursor:
            cursor.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    finally:
        blocker.rollback()
        blocker.close()
    assert code == 1, out + err
    assert "LockNotAvailable" in out or "lock timeout" in out, out  # ended by checks.lock_timeout, not a hang
    assert current_revision(demo.url) == ["000"]


def test_a_slow_check_is_stopped_by_its_statement_timeout(demo, run_cli):
    plan = demo.write_plan(
        demo.plan.read_text()
        .replace("checks:\n", "checks:\n  statement_timeout: 200ms\n", 1)
        .replace(
            '"SELECT count(*) FROM users", expect: "> 0"', '"SELECT count(*) FROM users, pg_sleep(0.9)", expect: "> 0"'
        )
    )
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 1, out + err
    assert "statement timeout" in out, out
    assert current_revision(demo.url) == ["000"]
    assert query(demo.url, "SELECT count(*) FROM users") == [(5,)]


def test_checks_url_password_is_never_printed(demo, run_cli, monkeypatch):
    """checks.url may carry its own password: it reaches neither the console nor the journal."""
    from urllib.parse import urlsplit

    parts = urlsplit(demo.url)
    execute(demo.url, "CREATE ROLE checker LOGIN PASSWORD 'hunter2-checker'; GRANT pg_read_all_data TO checker")
    try:
        checker = f"postgresql://checker:hunter2-checker@{parts.hostname}:{parts.port}{parts.path}"
        monkeypatch.setenv("CHECKS_URL", checker)
        # a check whose value happens to be the password (any text may carry it): it is printed
        # in the check's result, so only the redactor, which must know checks.url's password, hides it
        execute(demo.url, "CREATE TABLE vault (secret text); INSERT INTO vault VALUES ('hunter2-checker')")
        plan = demo.write_plan(
            demo.plan.read_text()
            .replace("checks:\n", "checks:\n  url: ${CHECKS_URL}\n", 1)
            .replace('expect: "> 0"}', 'expect: "< 0"}')
            .replace("  pre:\n", '  pre:\n    - {name: leaks, sql: "SELECT secret FROM vault", expect: 0}\n', 1)
        )
        code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
        assert code == 1, out + err
        journal = "".join(p.read_text() for p in (demo.root.parent / "state" / "runs").glob("*.jsonl"))
        for text in (out, err, journal):
            assert "hunter2-checker" not in text
        assert "there are users to migrate: got 5, expected < 0" in out
        assert "leaks: got ***, expected" in out
    finally:
        execute(demo.url, "DROP OWNED BY checker; DROP ROLE checker")


def test_the_checks_of_a_phase_share_one_connection_and_a_failed_check_spoils_none_after_it(demo, run_cli):
    """The checks of one phase run on one fenced connection (each in a read-only transaction of
    its own): a check stopped by its statement timeout leaves the next one a clean transaction,
    and the next phase opens a connection of its own."""
    plan = demo.write_plan(
        demo.plan.read_text()
        .replace("checks:\n", "checks:\n  statement_timeout: 200ms\n", 1)
        .replace(
            "  post:\n",
            "    - {name: first pid, sql: 'SELECT pg_backend_pid()', expect: '> 0'}\n"
            "  post:\n"
            "    - {name: post pid, sql: 'SELECT pg_backend_pid()', expect: '> 0'}\n"
            "    - {name: slow, sql: 'SELECT count(*) FROM users, pg_sleep(0.9)', expect: '> 0'}\n"
            "    - {name: after the slow one, sql: 'SELECT pg_backend_pid()', expect: '> 0'}\n",
            1,
        )
    )
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 1, out + err  # the slow post-check failed: rolled back
    assert "✗ slow: " in out and "statement timeout" in out and "✓ after the slow one" in out, out
    from planrun.engine.journal import read_journals

    ran = {r["check"]: r for records in read_journals(demo.state_dir) for r in records if r.get("event") == "check"}
    assert ran["post pid"]["actual"] == ran["after the slow one"]["actual"]  # one connection, still usable
    assert ran["first pid"]["actual"] != ran["post pid"]["actual"]  # each phase its own
    assert current_revision(demo.url) == ["000"]
