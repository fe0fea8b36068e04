"""``planrun apply`` on the demo project against a real PostgreSQL: success, failures that are
rolled back and proven, and the journal of every step."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg2

from conftest import current_revision, query, schema_of, table_contents

BROKEN_UPGRADE = """\
    op.add_column("users", sa.Column("nickname", sa.String(50)))
    # planrun: allow create-index-not-concurrently reason="5 rows"
    op.create_index("ix_users_nickname", "users", ["nickname"])
    op.execute("UPDATE products SET description = 'overwritten' WHERE id > 0")
    op.execute("SELECT 1/0")
"""


def journal(state_dir: str) -> list[dict]:
    (path,) = sorted(Path(state_dir, "runs").glob("*.jsonl"))[-1:]
    return [json.loads(line) for line in path.read_text().splitlines()]


def run_end(records: list[dict]) -> dict:
    return next(r for r in records if r["event"] == "run_end")


def test_apply_demo_reaches_head_and_journals_every_step(demo, run_cli):
    code, out, err = run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err
    assert current_revision(demo.url) == ["002"]
    assert query(demo.url, "SELECT DISTINCT status FROM users") == [("active",)]
    records = journal(demo.state_dir)
    ends = {r["step"]: r for r in records if r["event"] == "step_end"}
    assert list(ends) == ["lock", "pre-checks", "migrate", "post-checks"]
    assert all(r["outcome"] == "ok" and r["duration"] >= 0 for r in ends.values())
    assert [r["event"] for r in records if r["event"] in ("run_start", "run_end")] == ["run_start", "run_end"]
    assert run_end(records)["outcome"] == "success"
    applied = [r["revision"] for r in records if r["event"] == "revision_applied"]
    assert applied == ["001", "002"]
    assert all(len(r["sha256"]) == 64 for r in records if r["event"] == "revision_applied")
    for step in ("lock", "pre-checks", "migrate", "post-checks"):
        assert step in out
    assert "000 -> 002 (2 revisions)" in out


def test_revision_failing_half_way_is_rolled_back_and_proven(demo, run_cli):
    demo.add_revision("003", "002", BROKEN_UPGRADE, '    op.drop_column("users", "nickname")\n')
    before_schema, before_rows = schema_of(demo.url), table_contents(demo.url)
    code, out, err = run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 1, out + err
    assert "revision 003 (versions/003_test.py) failed during upgrade: DivisionByZero: division by zero" in out
    assert "rollback: downgrade" in out and "proven" in out
    assert current_revision(demo.url) == ["000"]
    assert schema_of(demo.url) == before_schema
    assert table_contents(demo.url) == before_rows
    records = journal(demo.state_dir)
    rollback = next(r for r in records if r["event"] == "rollback_end")
    assert rollback["ok"] is True and rollback["method"] == "downgrade" and rollback["duration"] > 0
    assert run_end(records)["outcome"] == "failed" and run_end(records)["exit_code"] == 1


def test_failing_post_check_rolls_back(demo, run_cli):
    plan = demo.write_plan(demo.plan.read_text().replace("values: [active, suspended]", "values: [suspended]"))
    before_schema, before_rows = schema_of(demo.url), table_contents(demo.url)
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 1, out + err
    assert "1 of 5 post-checks failed: values_in users.status: values outside ['suspended']: 'active' x5" in out
    assert current_revision(demo.url) == ["000"]
    assert schema_of(demo.url) == before_schema
    assert table_contents(demo.url) == before_rows


def test_rollback_that_leaves_a_trace_is_reported_as_failed(demo, run_cli):
    # 003 builds an index outside the migration's transaction, then fails: the downgrade of
    # 002 and 001 cannot remove it, so the proof must fail and the exit code say a human must act.
    demo.add_revision(
        "003",
        "002",
        """\
    with op.get_context().autocommit_block():
        op.execute("CREATE INDEX CONCURRENTLY ix_products_title ON products (title)")
    op.execute("SELECT 1/0")
""",
    )
    code, out, err = run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 3, out + err
    assert "- " not in out.split("rollback: downgrade")[0][-5:]
    assert "schema: added: index public.ix_products_title" in out
    assert "ROLLBACK FAILED" in out and "A human must act" in out


def test_lock_timeout_stops_a_migration_stuck_behind_another_session(demo, run_cli):
    plan = demo.write_plan(demo.plan.read_text().replace("lock_timeout: 3s", "lock_timeout: 500ms"))
    blocker = psycopg2.connect(demo.url)
    try:
        blocker.cursor().execute("LOCK TABLE users IN ACCESS SHARE MODE")
        code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
        assert blocker.status == psycopg2.extensions.STATUS_IN_TRANSACTION  # the other session is untouched
    finally:
        blocker.rollback()
        blocker.close()
    assert code == 1, out + err
    assert "revision 001 (versions/001_add_user_status.py) failed during upgrade: LockNotAvailable" in out
    assert "waited longer than migrate.lock_timeout" in out
    assert current_revision(demo.url) == ["000"]


def test_password_never_printed_or_journaled(demo, run_cli):
    demo.add_revision("003", "002", BROKEN_UPGRADE)
    code, out, err = run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 1
    password = psycopg2.extensions.parse_dsn(demo.url)["password"]
    assert password not in out + err
    for path in Path(demo.state_dir).rglob("*"):
        if path.is_file():
            assert password not in path.read_text()


def test_history_lists_past_runs(demo, run_cli):
    run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)
    code, out, _ = run_cli("history", "--state-dir", demo.state_dir, "--json")
    (run,) = json.loads(out)["runs"]
    assert code == 0 and run["outcome"] == "success" and run["plan"] == "demo-users-products"


def test_format_json_is_one_document_on_stdout_for_every_command(demo, run_cli):
    """--format json (or --json) means the same everywhere: one JSON document on stdout when
    the command ends, its progress on stderr."""
    code, out, err = run_cli("validate", demo.plan, "--format", "json")
    assert code == 0 and json.loads(out)["steps"][:2] == ["lock", "pre-checks"], out + err
    code, out, err = run_cli("plan", demo.plan, "--format", "json")
    dry = json.loads(out)
    assert code == 0 and dry["ok"] and any(s["title"] == "revisions" for s in dry["sections"]), out + err
    assert "dry run" in err  # the progress, for people, on stderr
    code, out, err = run_cli("apply", demo.plan, "--yes", "--format", "json", "--state-dir", demo.state_dir)
    result = json.loads(out)
    assert code == 0 and (result["outcome"], result["exit_code"]) == ("success", 0), out + err
    assert "✓ migrate" in err
    code, out, err = run_cli("status", demo.plan, "--format", "json")
    assert code == 0 and json.loads(out)["ok"] is True, out + err
    code, out, err = run_cli("history", "--state-dir", demo.state_dir, "--format", "json")
    assert [r["run_id"] for r in json.loads(out)["runs"]] == [result["run_id"]]
    code, out, err = run_cli("plugins", "--format", "json")
    assert code == 0 and "migrate" in [p["name"] for p in json.loads(out)["plugins"]]


def test_dry_run_shows_revisions_and_sql_and_changes_nothing(demo, run_cli):
    before = schema_of(demo.url)
    code, out, err = run_cli("plan", demo.plan, "--state-dir", demo.state_dir)
    assert code == 0, err
    assert "current: 000" in out and "target:  002" in out
    assert "pending: 001  add users.status" in out
    assert "ALTER TABLE users ADD COLUMN status VARCHAR(20) DEFAULT 'active' NOT NULL;" in out
    assert "migrate: migrate" in out and "lock: lock" in out
    assert schema_of(demo.url) == before and current_revision(demo.url) == ["000"]
    assert not Path(demo.state_dir).exists()


def _applied_to_001(demo, run_cli):
    """The demo applied up to 001 by a plan to 001 (without 002's post-check); that plan."""
    plan = demo.write_plan(
        demo.plan.read_text()
        .replace("to: head", "to: '001'")
        .replace(
            '    - {name: description_new equals description, sql: "SELECT count(*) FROM products WHERE '
            'description_new IS DISTINCT FROM description", expect: 0}\n',
            "",
        )
    )
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err
    return plan


def test_changed_revision_file_is_flagged_by_plan_and_refused_by_apply(demo, run_cli):
    _applied_to_001(demo, run_cli)
    revision = demo.versions / "001_add_user_status.py"
    text = revision.read_text()
    assert 'server_default="active"' in text
    revision.write_text(text.replace('server_default="active"', 'server_default="enabled"'))
    code, out, err = run_cli("plan", demo.plan, "--state-dir", demo.state_dir)
    assert code == 2
    assert "revision 001 (versions/001_add_user_status.py) was applied by run" in out
    assert "the migration history must not be rewritten" in out
    code, out, err = run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 2, out
    assert "refused to start" in out
    assert current_revision(demo.url) == ["001"]


def test_env_py_that_ignores_the_url_is_noticed(demo, run_cli, pg_cluster, monkeypatch):
    other = pg_cluster.create_database("elsewhere_" + demo.url.rsplit("_", 1)[-1])
    monkeypatch.setenv("APP_DATABASE_URL", other.replace("postgresql:", "postgresql+psycopg2:"))
    env = demo.root / "migrations" / "env.py"
    env.write_text(
        env.read_text().replace(  # ignores both the URL and config.attributes["connection"]
            'config.attributes.get("connection") or engine_from_config(\n        '
            'config.get_section(config.config_ini_section, {}), prefix="sqlalchemy."',
            'engine_from_config(\n        {"sqlalchemy.url": __import__("os").environ["APP_DATABASE_URL"]}, '
            'prefix="sqlalchemy."',
        )
    )
    assert "APP_DATABASE_URL" in env.read_text() and "attributes" not in env.read_text()
    code, out, err = run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 2, out + err
    assert "refused to start: a look at env.py refused: env.py connected to database 'elsewhere_" in out
    assert "nothing was run there" in out and "config.attributes['connection']" in out
    # the other database was never touched: not even Alembic's version table
    assert query(other, "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace") == [(0,)]
    assert current_revision(demo.url) == ["000"]


def test_a_target_behind_the_current_revision_is_a_usage_error_that_says_how_to_go_back(demo, run_cli):
    """'How do I roll back yesterday's release?': migrate.to behind the database is refused by
    plan and apply (exit 2, nothing changed), with the ways back named; never an internal error."""
    from conftest import table_contents

    code, out, err = run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 0, out + err
    before = table_contents(demo.url)
    behind = demo.write_plan(demo.plan.read_text().replace("to: head", 'to: "001"'))
    for verb in (("plan",), ("apply", "--yes", "--state-dir", demo.state_dir)):
        code, out, err = run_cli(verb[0], behind, *verb[1:])
        assert code == 2, out + err
        assert "migrate.to: 001 is behind the database's current revision (002): apply only upgrades" in out + err
        assert "planrun rollback PLAN --to 001" in out + err
        assert "internal error" not in out + err and "RangeNotAncestorError" not in out + err
    assert table_contents(demo.url) == before


def test_a_database_that_cannot_be_reached_has_its_own_exit_code(run_cli, monkeypatch, tmp_path):
    """Exit 5, not 1 (which says the run failed and the database is where it started) nor 4:
    plan, apply, status and lint --url, each naming the server and never the password."""
    from conftest import ROOT
    from planrun.engine.errors import EXIT_UNREACHABLE

    away = "postgresql://planrun:hunter2-pw@127.0.0.1:1/gone"
    monkeypatch.setenv("DATABASE_URL", away)
    plan = ROOT / "plans" / "demo.yaml"
    for args in (
        ("plan", plan),
        ("apply", plan, "--yes", "--state-dir", tmp_path / "state"),
        ("status", plan),
        ("lint", plan, "--url", away),
    ):
        code, out, err = run_cli(*args)
        assert code == EXIT_UNREACHABLE, (args, out + err)
        assert "127.0.0.1:1/gone" in out + err and "hunter2-pw" not in out + err
    from planrun.engine.cli import build_parser

    assert f"{EXIT_UNREACHABLE}  the database could not be reached before" in build_parser().format_help()


def test_a_harmless_change_to_an_applied_file_is_repaired_with_who_when_and_why(demo, run_cli, monkeypatch):
    """`ruff format migrations/` (here: an appended comment) makes every later apply refuse; the
    refusal names planrun repair, which records the file as it is now with the reason and the
    person, after which apply goes on. A repair needs a reason and a changed, applied file."""
    plan = _applied_to_001(demo, run_cli)
    revision = demo.versions / "001_add_user_status.py"
    revision.write_text(revision.read_text() + "\n# formatted\n")
    code, out, err = run_cli("plan", plan, "--state-dir", demo.state_dir)
    assert code == 2 and "planrun repair PLAN 001 --reason" in out, out + err
    code, out, err = run_cli("repair", plan, "001", "--reason", "   ", "--state-dir", demo.state_dir)
    assert code == 2 and "--reason must say why" in err, out + err
    code, out, err = run_cli("repair", plan, "002", "--reason", "x", "--state-dir", demo.state_dir)
    assert code == 2 and "revision 002 is not applied" in err, out + err
    monkeypatch.setenv("PLANRUN_ACTOR", "ada@example.org")
    code, out, err = run_cli("repair", plan, "001", "--reason", "ruff format", "--state-dir", demo.state_dir)
    assert code == 0 and "repaired by ada@example.org: ruff format" in out, out + err
    assert query(demo.url, "SELECT revision, reason, repaired_by FROM planrun.repairs") == [
        ("001", "ruff format", "ada@example.org")
    ]
    assert query(demo.url, "SELECT how FROM planrun.applied_revisions WHERE revision = '001'") == [("repaired",)]
    code, out, err = run_cli("plan", plan, "--state-dir", demo.state_dir)
    assert code == 0, out + err
    code, out, err = run_cli("repair", plan, "001", "--reason", "again", "--state-dir", demo.state_dir)
    assert code == 2 and "nothing to repair" in err, out + err
    revision.write_text(revision.read_text().replace('server_default="active"', 'server_default="enabled"'))
    code, out, err = run_cli("plan", plan, "--state-dir", demo.state_dir)
    assert code == 2 and "must not be rewritten" in out  # a repair accepts one change, not every later one


def test_what_alembic_and_env_py_print_is_captured_and_shown_on_failure(demo):
    """env.py calls fileConfig, and alembic.ini logs Alembic at INFO (a line per revision): quiet by
    default, shown with -v, and shown (the last lines) when the migration fails. In processes of
    their own: logging handlers outlive a command run in-process."""
    from conftest import planrun_process

    def planrun(*args):
        return planrun_process(*args, "--state-dir", demo.state_dir)

    ini = demo.root / "migrations" / "alembic.ini"  # as `alembic init` writes it: alembic at INFO
    ini.write_text(ini.read_text().replace("[logger_alembic]\nlevel = WARNING", "[logger_alembic]\nlevel = INFO"))
    code, out = planrun("plan", demo.plan)
    assert code == 0 and "INFO  [alembic" not in out, out
    code, out = planrun("plan", demo.plan, "-v")
    assert code == 0 and "INFO  [alembic.runtime.migration]" in out, out
    demo.add_revision("003", "002", '    op.execute("SELECT no_such_function()")\n')
    code, out = planrun("apply", demo.plan, "--yes")
    assert code == 1, out
    assert "what Alembic and env.py printed during the upgrade" in out and "Running upgrade 002 -> 003" in out, out


def test_the_question_shows_the_steps_and_the_pending_revisions_first(demo, monkeypatch):
    """On a terminal, apply asks before it runs; the question comes after what it is about."""
    import argparse
    import io

    import pytest

    from planrun.engine import api
    from planrun.engine.commands import confirmation
    from planrun.engine.context import RunOptions
    from planrun.engine.errors import UsageError

    asked = []
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda question: asked.append(question) or "n")
    confirm = confirmation(argparse.Namespace(yes=False), "Apply plan {plan} to {target}? [y/N] ")
    shown = io.StringIO()
    with pytest.raises(UsageError):
        api.apply(str(demo.plan), options=RunOptions(state_dir=demo.state_dir), confirm=confirm, stream=shown)
    text = shown.getvalue()
    assert asked and asked[0].startswith("Apply plan demo-users-products to ")
    assert "migrate: migrate" in text and "pending: 001" in text and "pending: 002" in text, text
    assert current_revision(demo.url) == ["000"]


def test_a_revision_failing_after_its_own_code_is_still_undone_by_its_downgrade(demo, run_cli):
    """Revision 002 commits part of its work outside its transaction (its backfill), then the
    failure comes from Alembic's own write of the version table, outside the revision's file
    (an abort heard between the last batch and the stamp did this in CI). The failed revision
    is still 002: its downgrade must run, or its column and dual-write trigger stay behind."""
    from conftest import execute

    execute(
        demo.url,
        "CREATE SEQUENCE refusals; "  # a sequence is not rolled back: the stamp planrun adds later passes
        "CREATE FUNCTION refuse_002() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.version_num = '002' AND nextval('refusals') = 1 THEN RAISE EXCEPTION 'no 002 here'; END IF; "
        "RETURN NEW; END $$; "
        "CREATE TRIGGER refuse_002 BEFORE INSERT OR UPDATE ON alembic_version "
        "FOR EACH ROW EXECUTE FUNCTION refuse_002()",
    )
    before_schema, before_rows = schema_of(demo.url), table_contents(demo.url)
    code, out, err = run_cli("apply", demo.plan, "--yes", "--state-dir", demo.state_dir)
    assert code == 1, out + err
    assert "revision 002 (versions/002_" in out and "no 002 here" in out, out
    assert "its downgrade ran too" in out and "proven" in out, out
    assert current_revision(demo.url) == ["000"]
    assert schema_of(demo.url) == before_schema
    assert table_contents(demo.url) == before_rows
