"""A check calls only what the catalog says cannot write (issue 26, item 1).

The text guard sees only the check's own SQL; ``default_transaction_read_only`` stops only
direct writes. Each case here is a function or view a database really holds, behind a check
that reads innocently, and each once changed data while the run said success: a function that
writes through ``dblink_exec`` (another connection, outside the read-only transaction), the
same as ``SECURITY DEFINER``, a ``LANGUAGE sql`` wrapper, a function declared ``STABLE`` that
lies, one running ``COPY ... TO PROGRAM``, a view whose definition calls one, the built-in
``row_count_unchanged`` on such a view, an operator whose function writes. Every table's whole
content, the revision and the file system are compared before and after."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import current_revision, execute, table_contents

PLAN = """\
version: 1
name: fenced
target: {{url: "${{DATABASE_URL}}", alembic: {{config: ../migrations/alembic.ini}}}}
checks:
{trust}  pre:
    - {check}
"""


def _harm(url: str) -> str:
    """SQL creating ``harm()``: it deletes every user through a connection of its own."""
    parts = urlsplit(url)
    conninfo = (
        f"host={parts.hostname} port={parts.port} dbname={parts.path.lstrip('/')} user={parts.username} "
        f"password={parts.password}"
    )
    return (
        "CREATE EXTENSION IF NOT EXISTS dblink;"
        "CREATE FUNCTION harm() RETURNS int LANGUAGE plpgsql AS $f$ BEGIN "
        f"PERFORM dblink_exec('{conninfo}', 'DELETE FROM users'); RETURN 0; END $f$;"
    )


CASES = {
    "dblink-function": ("", "SELECT harm()", "harm()"),
    "security-definer": (
        "CREATE FUNCTION as_owner() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT harm()';",
        "SELECT as_owner()",
        "as_owner(): SECURITY DEFINER",
    ),
    "sql-wrapper": (
        "CREATE FUNCTION wrapper() RETURNS int LANGUAGE sql AS 'SELECT harm()';",
        "SELECT wrapper()",
        "wrapper()",
    ),
    "stable-liar": (
        "CREATE FUNCTION liar() RETURNS int LANGUAGE plpgsql STABLE AS $f$ BEGIN RETURN harm(); END $f$;",
        "SELECT liar()",
        "liar()",
    ),
    "view": (
        "CREATE VIEW innocent AS SELECT harm() AS x;",
        "SELECT count(*) FROM innocent",
        "harm() (through the view public.innocent)",
    ),
    "view-of-a-view": (
        "CREATE VIEW innocent AS SELECT harm() AS x; CREATE VIEW nicer AS SELECT * FROM innocent;",
        "SELECT count(*) FROM nicer",
        "(through the view public.innocent, through the view public.nicer)",
    ),
    "operator": (
        "CREATE FUNCTION harm_op(int, int) RETURNS boolean LANGUAGE sql AS 'SELECT harm() = 0';"
        "CREATE OPERATOR === (LEFTARG = int, RIGHTARG = int, FUNCTION = harm_op);",
        "SELECT count(*) FROM users WHERE 1 === 1",
        "harm_op(integer, integer) (through the operator ===)",
    ),
    "builtin-behind-a-view": (
        "CREATE VIEW sessions_gone AS SELECT pg_terminate_backend(pid) AS x FROM pg_stat_activity "
        "WHERE pid <> pg_backend_pid();",
        "SELECT count(*) FROM sessions_gone",
        "may not call pg_terminate_backend(): it ends or signals other sessions "
        "(through the view public.sessions_gone)",
    ),
}


def _yaml(sql: str) -> str:
    return "'" + sql.replace("'", "''") + "'"


def _check(sql: str) -> str:
    return "{name: innocent, sql: " + _yaml(sql) + ', expect: "> -1"}'


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_check_reaching_a_writing_function_is_refused_and_nothing_changes(demo, run_cli, name):
    setup, sql, named = CASES[name]
    execute(demo.url, _harm(demo.url) + setup)
    before, revision = table_contents(demo.url), current_revision(demo.url)
    plan = demo.write_plan(PLAN.format(trust="", check=_check(sql)))
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 2, out + err
    assert "check innocent" in out and named in out, out
    assert table_contents(demo.url) == before
    assert current_revision(demo.url) == revision


def test_row_count_unchanged_on_a_view_that_writes_is_refused_before_anything_changes(demo, run_cli):
    execute(demo.url, _harm(demo.url) + "CREATE VIEW innocent AS SELECT harm() AS x;")
    before, revision = table_contents(demo.url), current_revision(demo.url)
    text = PLAN.format(trust="", check=_check("SELECT 1"))
    plan = demo.write_plan(text.replace("  pre:\n", "  post:\n    - {row_count_unchanged: innocent}\n  pre:\n"))
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 1, out + err
    assert "harm() (through the view public.innocent)" in out, out
    assert table_contents(demo.url) == before
    assert current_revision(demo.url) == revision


def test_copy_to_program_inside_a_function_is_refused(demo, run_cli, tmp_path):
    marker = Path("/tmp") / f"planrun-fence-{tmp_path.name}"
    execute(
        demo.url,
        "CREATE FUNCTION exfiltrate() RETURNS int LANGUAGE plpgsql AS $f$ BEGIN "
        f"EXECUTE 'COPY (SELECT 1) TO PROGRAM ''touch {marker}'''; RETURN 0; END $f$;",
    )
    before = table_contents(demo.url)
    plan = demo.write_plan(PLAN.format(trust="", check=_check("SELECT exfiltrate()")))
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    try:
        assert code == 2, out + err
        assert not marker.exists()
    finally:
        marker.unlink(missing_ok=True)
    assert table_contents(demo.url) == before


def test_a_function_the_plan_trusts_by_name_runs(demo, run_cli):
    execute(demo.url, "CREATE FUNCTION balance_ok(n int) RETURNS int LANGUAGE sql STABLE AS 'SELECT n';")
    check = _check("SELECT balance_ok(1)")
    refused = demo.write_plan(PLAN.format(trust="", check=check), "refused.yaml")
    code, out, err = run_cli("apply", refused, "--yes", "--state-dir", demo.state_dir)
    assert code == 2, out + err
    assert "balance_ok(integer)" in out and "checks.trust" in out, out
    trusted = demo.write_plan(
        PLAN.format(
            trust='  trust: [{function: "public.balance_ok(int)", reason: "returns its argument"}]\n', check=check
        ),
        "trusted.yaml",
    )
    code, out, err = run_cli("apply", trusted, "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err
    assert "✓ innocent: got 1" in out


def test_trust_cannot_let_a_connection_opening_extension_in(demo, run_cli):
    execute(demo.url, _harm(demo.url))
    before = table_contents(demo.url)
    plan = demo.write_plan(
        PLAN.format(
            trust='  trust: [{function: "public.harm()", reason: "it is fine"}, '
            '{function: "public.dblink_exec(text, text)", reason: "so is this"}]\n',
            check=_check("SELECT dblink_exec('dbname=x', 'DELETE FROM users')"),
        )
    )
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 2, out + err
    assert "dblink" in out + err
    assert table_contents(demo.url) == before


def test_a_trusted_name_that_does_not_exist_is_a_located_refusal(demo, run_cli):
    plan = demo.write_plan(
        PLAN.format(trust='  trust: [{function: "public.nowhere(int)", reason: "x"}]\n', check=_check("SELECT 1"))
    )
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 2, out + err
    assert "checks.trust: public.nowhere(int)" in out and "no such function" in out, out


def test_ordinary_checks_still_run(demo, run_cli):
    """Built-ins that are not volatile, the short list of volatile ones that cannot write,
    tables, and views over them: allowed."""
    execute(demo.url, "CREATE VIEW named AS SELECT lower(name) AS name, now() AS at FROM users;")
    sql = "SELECT count(*) FROM named WHERE name <> md5(random()::text) AND at <= clock_timestamp()"
    plan = demo.write_plan(PLAN.format(trust="", check=_check(sql)))
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err


@pytest.mark.parametrize("name", ["dblink-function", "view-of-a-view", "operator", "builtin-behind-a-view"])
def test_without_a_probe_view_the_names_are_resolved_and_refused_as_strictly(demo, name):
    """Where no temporary view can be made (a standby; a connection already in a transaction
    with no way to open another), the names in the query are resolved instead."""
    from planrun.plugins.checks.fence import refusal
    from planrun.plugins.pg.connect import connect

    setup, sql, named = CASES[name]
    execute(demo.url, _harm(demo.url) + setup)
    before = table_contents(demo.url)
    conn = connect(demo.url, readonly=True)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT 1")  # inside a transaction now: no probe on this connection
        reason = refusal(conn, sql)
        assert reason is not None and named in reason, reason
        assert refusal(conn, "SELECT count(*) FROM users WHERE name = 'x' AND id > 0") is None
    finally:
        conn.close()
    assert table_contents(demo.url) == before


def test_trust_cannot_let_any_function_of_such_an_extension_in(demo, run_cli):
    """Past the text guard's list (dblink_get_connections is not on it), the catalog still says
    which extension a function belongs to."""
    execute(demo.url, "CREATE EXTENSION IF NOT EXISTS dblink")
    plan = demo.write_plan(
        PLAN.format(
            trust='  trust: [{function: "public.dblink_get_connections()", reason: "it only lists"}]\n',
            check=_check("SELECT count(*) FROM users WHERE dblink_get_connections() IS NULL"),
        )
    )
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 2, out + err
    assert "public.dblink_get_connections(): it comes from the extension dblink, which opens connections" in out, out
