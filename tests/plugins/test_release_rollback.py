"""``planrun rollback PLAN --to REV``: a release that succeeded, undone as a run of its own,
under the same lock, backup, journal and proof as apply (whole table contents compared)."""

from __future__ import annotations

from conftest import current_revision, query, schema_of, table_contents

ROLLBACK_CHECK = (
    "  post:\n"
    "    - {name: no description_new any more, when: rollback, expect: 0,\n"
    "       sql: \"SELECT count(*) FROM information_schema.columns WHERE column_name = 'description_new'\"}\n"
)


def test_rollback_undoes_a_release_that_succeeded_and_records_it(demo, run_cli):
    before_schema, before_rows = schema_of(demo.url), table_contents(demo.url)
    assert run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)[0] == 0
    assert current_revision(demo.url) == ["002"]
    plan = demo.write_plan(demo.plan.read_text().replace("  post:\n", ROLLBACK_CHECK, 1))
    code, out, err = run_cli("rollback", plan, "--to", "000", "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err
    assert "002 -> 000 (2 revisions undone)" in out
    assert "✓ no description_new any more" in out and "every user has a status" not in out  # the release's own
    assert current_revision(demo.url) == ["000"]
    assert schema_of(demo.url) == before_schema and table_contents(demo.url) == before_rows
    assert query(demo.url, "SELECT revision, how FROM planrun.applied_revisions") == [("000", "adopted")]
    assert query(demo.url, "SELECT revision_from, revision_to, outcome FROM planrun.runs ORDER BY started_at")[-1] == (
        "002",
        "000",
        "success",
    )


def test_a_failed_rollback_is_rolled_forward_again_and_proven(demo, run_cli):
    """The rollback's own check fails: the run's rollback brings the database back to the
    release it started from (an upgrade), and proves it."""
    assert run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)[0] == 0
    released_schema, released_rows = schema_of(demo.url), table_contents(demo.url)
    failing = ROLLBACK_CHECK.replace("expect: 0", "expect: 1")
    plan = demo.write_plan(demo.plan.read_text().replace("  post:\n", failing, 1))
    code, out, err = run_cli("rollback", plan, "--to", "000", "--yes", "--state-dir", demo.state_dir)
    assert code == 1, out + err
    assert "rollback: downgrade" in out and "000 -> 002; proven: the schema is as before" in out
    assert current_revision(demo.url) == ["002"]
    assert schema_of(demo.url) == released_schema and table_contents(demo.url) == released_rows


def test_rollback_to_a_revision_that_is_not_behind_is_a_usage_error(demo, run_cli):
    assert run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)[0] == 0
    code, out, err = run_cli("rollback", demo.plan, "--to", "002", "--yes", "--state-dir", demo.state_dir)
    assert code == 0 and "already at 002; nothing to undo" in out, out + err
    code, out, err = run_cli("rollback", demo.plan, "--to", "nope", "--yes", "--state-dir", demo.state_dir)
    assert code == 2 and "rollback --to nope: " in out + err, out + err
    assert current_revision(demo.url) == ["002"]
