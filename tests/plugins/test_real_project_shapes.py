"""Projects shaped like real ones (tests/projects/): planrun migrates and round-trips the
database it means, and only that one, whatever the application's env.py reads."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import planrun_process, query

PROJECTS = Path(__file__).resolve().parent.parent / "projects"


def _applies(run_cli, project: Path, db_url: str, monkeypatch, tmp_path, revision: str) -> None:
    """``planrun apply`` of the project's plan.yaml takes db_url to ``revision``."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    code, out, err = run_cli("apply", project / "plan.yaml", "--yes", "--state-dir", tmp_path / "state")
    assert code == 0, out + err
    assert query(db_url, "SELECT version_num FROM alembic_version") == [(revision,)]


def _untouched(url: str) -> bool:
    return query(url, "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace") == [(0,)]


def test_env_py_with_its_own_setting_that_honours_the_connection(run_cli, pg_cluster, db_url, monkeypatch, tmp_path):
    """Its URL comes from MYAPP_DATABASE_URL (here: another database, as a developer's shell
    would have it); planrun hands env.py its connection, so test and apply touch only theirs."""
    app_db = pg_cluster.create_database("myapp_" + tmp_path.name[-6:].lower().replace("-", "_"))
    monkeypatch.setenv("MYAPP_DATABASE_URL", app_db.replace("postgresql:", "postgresql+psycopg2:"))
    monkeypatch.setenv("DATABASE_URL", db_url)
    project = PROJECTS / "app_settings"
    code, out, err = run_cli("test", "--alembic-config", project / "alembic.ini", "--url", pg_cluster.url("postgres"))
    assert code == 0, out + err
    assert "2 of 2 revisions round-tripped; all passed" in out
    assert _untouched(app_db)
    code, out, err = run_cli("apply", project / "plan.yaml", "--yes", "--state-dir", tmp_path / "state")
    assert code == 0, out + err
    assert query(db_url, "SELECT version_num FROM alembic_version") == [("a2",)]
    assert query(
        db_url, "SELECT column_name FROM information_schema.columns WHERE table_name = 'accounts' ORDER BY 1"
    ) == [("email",), ("id",), ("name",)]
    assert _untouched(app_db)


def test_a_first_revision_that_alters_the_applications_own_tables_needs_prepare(run_cli, pg_cluster):
    project = PROJECTS / "bootstrap"
    server = pg_cluster.url("postgres")
    code, out, err = run_cli("test", "--alembic-config", project / "alembic.ini", "--url", server)
    assert code == 1 and 'relation "users" does not exist' in out, out + err
    code, out, err = run_cli("test", project / "plan.yaml", "--url", server)  # test.prepare: create_all.sql
    assert code == 0, out + err
    assert "1 of 1 revisions round-tripped; all passed" in out
    import sys

    command = (
        f'{sys.executable} -c "import os, psycopg2; c = '
        "psycopg2.connect(os.environ['DATABASE_URL'].replace('+psycopg2', '')); "
        "c.cursor().execute('CREATE TABLE users (id serial PRIMARY KEY, email text)'); c.commit()\""
    )
    code, out, err = run_cli("test", "--alembic-config", project / "alembic.ini", "--url", server, "--prepare", command)
    assert code == 0, out + err
    code, out, err = run_cli(
        "test", "--alembic-config", project / "alembic.ini", "--url", server, "--prepare", "exit 3"
    )
    assert code == 1 and "prepare failed: exit 3" in out, out + err


def test_zero_revisions_is_a_usage_error_naming_where_planrun_looked(run_cli, tmp_path):
    import shutil

    project = tmp_path / "empty"
    (project / "versions").mkdir(parents=True)
    for name in ("alembic.ini", "env.py"):
        shutil.copy(PROJECTS / "bootstrap" / name, project / name)
    code, out, err = run_cli("test", "--alembic-config", project / "alembic.ini")
    assert code == 2, out + err
    assert f"no revision found in {project / 'versions'}: nothing to test" in err
    assert "round-tripped" not in out and "0 heads" not in out


def _blank_project(tmp_path):
    import shutil

    project = tmp_path / "proj"
    (project / "versions").mkdir(parents=True)
    for name in ("alembic.ini", "env.py"):
        shutil.copy(PROJECTS / "bootstrap" / name, project / name)
    return project


def test_keep_going_reports_every_revision_after_a_trace_and_a_raising_downgrade(run_cli, pg_cluster, tmp_path):
    """A downgrade that leaves an enum type behind, then one that raises, then one that passes:
    each is reported for what it is (the second is not hidden behind the first)."""
    from conftest import write_revision

    project = _blank_project(tmp_path)
    versions = project / "versions"
    write_revision(
        versions,
        "e1",
        None,
        "    op.execute(\"CREATE TYPE mood AS ENUM ('ok', 'sad')\")\n"
        '    op.execute("CREATE TABLE people (id int PRIMARY KEY, mood mood)")\n',
        '    op.execute("DROP TABLE people")  # the type is left behind\n',
    )
    write_revision(
        versions,
        "e2",
        "e1",
        '    op.add_column("people", sa.Column("name", sa.Text))\n',
        '    op.drop_colum("people", "name")  # a typo: AttributeError\n',
    )
    write_revision(
        versions,
        "e3",
        "e2",
        '    op.add_column("people", sa.Column("age", sa.Integer))\n',
        '    op.drop_column("people", "age")\n',
    )
    code, out, err = run_cli(
        "test",
        "--alembic-config",
        project / "alembic.ini",
        "--url",
        pg_cluster.url("postgres"),
        "--keep-going",
        "--json-report",
        tmp_path / "r.json",
    )
    assert code == 1, out + err
    assert "1 of 3 revisions round-tripped, 2 failed; FAILED" in out, out
    import json

    cases = {
        c["revision"]: c for c in json.loads((tmp_path / "r.json").read_text())["cases"] if c["suite"] == "stairway"
    }
    assert cases["e1"]["outcome"] == "failed" and "type public.mood" in " ".join(cases["e1"]["details"]), cases["e1"]
    assert cases["e2"]["outcome"] == "failed" and "AttributeError" in cases["e2"]["message"], cases["e2"]
    assert cases["e3"]["outcome"] == "passed", cases["e3"]


def test_keep_going_names_the_revisions_a_broken_upgrade_cuts_off(run_cli, pg_cluster, tmp_path):
    from conftest import write_revision

    project = _blank_project(tmp_path)
    versions = project / "versions"
    write_revision(
        versions,
        "u1",
        None,
        '    op.execute("CREATE TABLE things (id int PRIMARY KEY)")\n',
        '    op.execute("DROP TABLE things")\n',
    )
    write_revision(versions, "u2", "u1", '    op.execute("SELECT 1/0")\n')
    write_revision(
        versions,
        "u3",
        "u2",
        '    op.add_column("things", sa.Column("name", sa.Text))\n',
        '    op.drop_column("things", "name")\n',
    )
    code, out, err = run_cli(
        "test", "--alembic-config", project / "alembic.ini", "--url", pg_cluster.url("postgres"), "--keep-going"
    )
    assert code == 1, out + err
    assert "1 of 3 revisions round-tripped, 1 failed, 1 not reached; FAILED" in out, out
    assert "u2 does not upgrade: the revisions built on it are not reached" in out


def test_quiet_by_default_loud_on_failure(run_cli, pg_cluster, tmp_path):
    """What a project prints (here: 200 lines a revision, as an app's structured logging would)
    is captured per case: shown for the failing case only, everything with -v."""
    from conftest import write_revision

    project = _blank_project(tmp_path)
    chatty = (
        '    import logging\n    for i in range(200):\n        print(f"chatty {i}")\n'
        '    logging.getLogger("app").warning("app says hello")\n'
    )
    write_revision(
        project / "versions",
        "q1",
        None,
        chatty + '    op.execute("CREATE TABLE a (id int)")\n',
        '    op.execute("DROP TABLE a")\n',
    )
    write_revision(project / "versions", "q2", "q1", '    print("about to fail")\n    op.execute("SELECT 1/0")\n')
    server = pg_cluster.url("postgres")
    code, out, err = run_cli(
        "test", "--alembic-config", project / "alembic.ini", "--url", server, "--junit-xml", tmp_path / "j.xml"
    )
    assert code == 1, out + err
    assert "chatty" not in out + err, "a passing case's output is not shown"
    assert "    | about to fail" in out
    assert "about to fail" in (tmp_path / "j.xml").read_text()
    code, out, err = run_cli("test", "--alembic-config", project / "alembic.ini", "--url", server, "-v")
    assert "chatty 199" in out + err


def test_a_project_folder_that_is_not_a_plan_name(run_cli, pg_cluster, tmp_path):
    """optuna ships its project in a folder named ``_rdb``: --alembic-config must not trip over
    the plan name it derives from it."""
    import shutil

    from conftest import write_revision

    project = tmp_path / "_rdb"
    (project / "versions").mkdir(parents=True)
    for name in ("alembic.ini", "env.py"):
        shutil.copy(PROJECTS / "bootstrap" / name, project / name)
    write_revision(
        project / "versions",
        "r1",
        None,
        '    op.execute("CREATE TABLE t (id int)")\n',
        '    op.execute("DROP TABLE t")\n',
    )
    code, out, err = run_cli("test", "--alembic-config", project / "alembic.ini", "--url", pg_cluster.url("postgres"))
    assert code == 0, out + err
    assert "1 of 1 revisions round-tripped; all passed" in out


def test_a_pyproject_only_configuration(run_cli, pg_cluster, db_url, monkeypatch, tmp_path):
    project = PROJECTS / "pyproject_only"
    assert not (project / "alembic.ini").exists()
    code, out, err = run_cli("test", project / "plan.yaml", "--url", pg_cluster.url("postgres"))
    assert code == 0, out + err
    assert "1 of 1 revisions round-tripped" in out
    _applies(run_cli, project, db_url, monkeypatch, tmp_path, "p1")


def test_version_locations_that_env_py_sets_while_it_runs(run_cli, pg_cluster):
    """One folder of revisions per dialect, chosen by env.py: planrun finds the postgresql ones
    (and not zero, nor the sqlite ones)."""
    project = PROJECTS / "runtime_locations"
    code, out, err = run_cli("test", "--alembic-config", project / "alembic.ini", "--url", pg_cluster.url("postgres"))
    assert code == 0, out + err
    assert "1 of 1 revisions round-tripped; all passed" in out and "notes (postgresql)" in out


def test_version_locations_that_env_py_sets_inside_an_anyio_worker(run_cli, pg_cluster, db_url, monkeypatch, tmp_path):
    """env.py finds its revisions folder, and migrates, only inside the application's AnyIO worker
    thread (issue 27, item 1): without the runner the message once crashed joining Paths (exit
    4); it says where it looked (exit 2). With the plan's runner, env.py is probed in that thread
    and every revision is found."""
    project = PROJECTS / "anyio_runtime_locations"
    code, out, err = run_cli("test", "--alembic-config", project / "alembic.ini", "--url", pg_cluster.url("postgres"))
    assert code == 2 and "no revision found in" in err and "internal error" not in out + err, out + err
    code, out, err = run_cli("test", project / "plan.yaml", "--url", pg_cluster.url("postgres"))  # runner: anyio
    assert code == 0, out + err
    assert "1 of 1 revisions round-tripped; all passed" in out
    _applies(run_cli, project, db_url, monkeypatch, tmp_path, "s1")


def test_an_async_env_py_on_asyncpg(run_cli, pg_cluster, db_url, monkeypatch, tmp_path):
    """Alembic's async template: asyncio.run() of an asyncpg engine. The target guard checks
    asyncpg's connections too."""
    project = PROJECTS / "async_env"
    code, out, err = run_cli("test", "--alembic-config", project / "alembic.ini", "--url", pg_cluster.url("postgres"))
    assert code == 0, out + err
    assert "1 of 1 revisions round-tripped; all passed" in out
    _applies(run_cli, project, db_url, monkeypatch, tmp_path, "s1")


def test_an_async_env_py_that_needs_an_anyio_worker_thread(run_cli, pg_cluster, db_url, monkeypatch, tmp_path):
    project = PROJECTS / "anyio_env"
    code, out, err = run_cli("test", "--alembic-config", project / "alembic.ini", "--url", pg_cluster.url("postgres"))
    assert code == 1 and "NoEventLoopError" in out, out + err  # as under plain alembic: it needs its runner
    code, out, err = run_cli("test", project / "plan.yaml", "--url", pg_cluster.url("postgres"))  # runner: anyio
    assert code == 0, out + err
    assert "1 of 1 revisions round-tripped; all passed" in out
    _applies(run_cli, project, db_url, monkeypatch, tmp_path, "s1")


def test_a_failed_data_proof_says_which_column_lost_its_values(run_cli, pg_cluster, tmp_path):
    """The downgrade re-adds a dropped column empty: the report names the column and how
    many values it lost, not two hashes."""
    from conftest import write_revision

    project = _blank_project(tmp_path)
    versions = project / "versions"
    write_revision(
        versions,
        "f1",
        None,
        '    op.execute("CREATE TABLE people (id int PRIMARY KEY, fullname text)")\n'
        "    op.execute(\"INSERT INTO people SELECT g, 'person ' || g FROM generate_series(1, 50) g\")\n",
        '    op.execute("DROP TABLE people")\n',
    )
    write_revision(
        versions,
        "f2",
        "f1",
        '    op.drop_column("people", "fullname")\n',
        '    op.add_column("people", sa.Column("fullname", sa.Text))  # the values are not coming back\n',
    )
    code, out, err = run_cli("test", "--alembic-config", project / "alembic.ini", "--url", pg_cluster.url("postgres"))
    assert code == 1, out + err
    assert "downgrade left a trace: changed table public.people: column fullname: 50 values -> 0" in out, out


def test_lint_runs_a_revision_that_reads_the_database_after_test_prepare(run_cli, pg_cluster, tmp_path):
    """The bootstrap shape (the application creates users before revision 1) with a second
    revision that inspects the database: lint runs it on a scratch database prepared by the
    plan's test.prepare, as planrun test does; without the plan the run cannot start, and the
    revision stays not-linted with the hint."""
    import json
    import shutil

    project = tmp_path / "bootstrap"
    shutil.copytree(PROJECTS / "bootstrap", project, ignore=shutil.ignore_patterns("__pycache__"))
    (project / "versions" / "b2_index.py").write_text(
        '"""index user names if missing"""\nfrom alembic import op\nimport sqlalchemy as sa\n\n'
        'revision = "b2"\ndown_revision = "b1"\n\n\ndef upgrade():\n'
        '    if "ix_users_name" not in [ix["name"] for ix in sa.inspect(op.get_bind()).get_indexes("users")]:\n'
        '        op.create_index("ix_users_name", "users", ["name"])\n\n\n'
        'def downgrade():\n    op.drop_index("ix_users_name")\n'
    )
    server = pg_cluster.url("postgres")
    code, out, err = run_cli("lint", project / "plan.yaml", "--url", server, "--from", "b1", "--format", "json")
    report = json.loads(out)
    assert report["captured"] == ["b2"], out + err
    (hit,) = [f for f in report["findings"] if f["rule"] == "create-index-not-concurrently"]
    assert (hit["path"], hit["line"]) == ("bootstrap/versions/b2_index.py", 11)  # the op.create_index

    code, out, err = run_cli("lint", "--alembic-config", project / "alembic.ini", "--url", server, "--format", "json")
    (not_linted,) = [f for f in json.loads(out)["findings"] if f["rule"] == "not-linted"]
    assert 'relation "users" does not exist' in not_linted["message"]
    assert not_linted["message"].endswith("name them in test.prepare))")


def test_a_revision_without_downgrade_is_named_and_never_rolled_back_by_downgrade(
    run_cli, pg_cluster, db_url, monkeypatch, tmp_path
):
    """A revision with no downgrade() at all (issue 27, item 9) was "downgrade failed before any
    revision ran (env.py or the connection): AttributeError ..." and "downgrade() is empty". It
    is named for what it is, with the way that can undo it, and a plan that could roll it back
    only by downgrade is refused before anything changes."""
    project = PROJECTS / "no_downgrade"
    code, out, err = run_cli("test", "--alembic-config", project / "alembic.ini", "--url", pg_cluster.url("postgres"))
    assert code == 1, out + err
    assert "revision n1 (versions/n1_notes.py) has no downgrade(): rollback.strategy downgrade cannot undo it" in out
    assert "revision n1 (versions/n1_notes.py) has no downgrade(); roll it back by restore" in out, out
    assert "failed before any revision ran" not in out and "downgrade() is empty" not in out
    monkeypatch.setenv("DATABASE_URL", db_url)
    code, out, err = run_cli("apply", project / "plan.yaml", "--yes", "--state-dir", tmp_path / "state")
    assert code == 2, out + err
    assert "has no downgrade(): rollback.strategy downgrade cannot undo it; use restore" in out, out
    assert _untouched(db_url)


def _stairway_cases(report: Path) -> dict:
    import json

    return {c["revision"]: c for c in json.loads(report.read_text())["cases"] if c["suite"] == "stairway"}


def test_revisions_after_one_that_upgrades_only_inside_one_command_are_reached(run_cli, pg_cluster, tmp_path):
    """s2 recreates the enum type s1 made: fine inside one `alembic upgrade head`, a failure from
    a database at s1. It is reported as failed; s3 and s4 are still tested, the database brought
    to s2 in one command from base, and the report says so."""
    project = PROJECTS / "shared_enum"
    report = tmp_path / "r.json"
    server = pg_cluster.url("postgres")
    code, out, err = run_cli(
        "test", "--alembic-config", project / "alembic.ini", "--url", server, "--keep-going", "--json-report", report
    )
    assert code == 1, out + err
    cases = _stairway_cases(report)
    assert cases["s2"]["outcome"] == "failed" and 'type "status" already exists' in cases["s2"]["message"]
    assert cases["s3"]["outcome"] == cases["s4"]["outcome"] == "passed", cases
    assert "3 of 4 revisions round-tripped, 1 failed; FAILED" in out, out
    assert "s2 does not upgrade revision by revision, but does in one command from base" in out, out
    code, out, err = run_cli("test", "--alembic-config", project / "alembic.ini", "--url", server)
    assert code == 1 and "stopped at s2" in out, out + err


def test_test_from_starts_the_stairway_after_that_revision(run_cli, pg_cluster, tmp_path):
    """f2's downgrade forgets its column; with test.from: f2 only f3 and f4 are round-tripped,
    from a database brought to f2 in one command with f1's fixture loaded (the post-check that
    counts its row passes at the last revision)."""
    project = PROJECTS / "start_from"
    server = pg_cluster.url("postgres")
    for extra in ((), ("--keep-going",)):
        report = tmp_path / f"r{len(extra)}.json"
        code, out, err = run_cli("test", project / "plan.yaml", "--url", server, "--json-report", report, *extra)
        assert code == 0, out + err
        assert "2 of 2 revisions round-tripped; all passed" in out, out
        assert sorted(_stairway_cases(report)) == ["f3", "f4"]
        assert "upgrade to f2 in one command" in out
    plan = tmp_path / "plan.yaml"
    plan.write_text((project / "plan.yaml").read_text().replace("from: f2", "from: f1"))
    for name in ("alembic.ini", "env.py", "accounts.sql"):
        (tmp_path / name).write_text((project / name).read_text())
    (tmp_path / "versions").symlink_to(project / "versions")
    code, out, err = run_cli("test", plan, "--url", server, "--keep-going")
    assert code == 1, out + err  # f2's downgrade is now in the range
    assert "f2" in out and "downgrade left a trace" in out and "email" in out, out


def test_revisions_after_one_that_never_upgrades_are_not_reached(run_cli, pg_cluster, tmp_path):
    from conftest import write_revision

    project = _blank_project(tmp_path)
    write_revision(project / "versions", "x1", None, '    op.execute("SELECT no_such_function()")\n')
    write_revision(project / "versions", "x2", "x1", '    op.execute("SELECT 1")\n')
    code, out, err = run_cli(
        "test", "--alembic-config", project / "alembic.ini", "--url", pg_cluster.url("postgres"), "--keep-going"
    )
    assert code == 1, out + err
    assert "0 of 2 revisions round-tripped, 1 failed, 1 not reached; FAILED" in out, out


def test_seed_rows_filled_by_volatile_defaults_are_repeatable_and_real_changes_are_named(run_cli, pg_cluster, tmp_path):
    """r1 seeds a row whose created_at, stamped and uid come from now(), CURRENT_TIMESTAMP and
    gen_random_uuid(): repeatable, those columns compared by presence and type, and the report
    names them (not id: its sequence starts again with the table). r2 renames the row with a
    timestamp: not repeatable, naming the row count and the column. r3 moves created_at and its
    downgrade does not move it back: a volatile default does not hide that from the downgrade's
    comparison. The drift check still runs after the failures."""
    project = PROJECTS / "seed_rows"
    report = tmp_path / "r.json"
    code, out, err = run_cli(
        "test",
        "--alembic-config",
        project / "alembic.ini",
        "--url",
        pg_cluster.url("postgres"),
        "--keep-going",
        "--json-report",
        report,
    )
    assert code == 1, out + err
    cases = _stairway_cases(report)
    assert cases["r1"]["outcome"] == "passed", cases["r1"]
    (remark,) = cases["r1"]["remarks"]
    assert "public.projects.created_at, public.projects.stamped, public.projects.uid:" in remark, remark
    assert "projects.id" not in remark
    assert cases["r2"]["outcome"] == "failed"
    assert (
        "upgrade is not repeatable: changed table public.projects: values changed in place: 1 of 1 rows, in column name"
        in cases["r2"]["message"]
    )
    assert "fixtures must be deterministic" in " ".join(cases["r2"]["details"])
    assert cases["r3"]["outcome"] == "failed"
    assert "downgrade left a trace" in cases["r3"]["message"] and "in column created_at" in cases["r3"]["message"]
    import json

    assert [c["suite"] for c in json.loads(report.read_text())["cases"]][-1] == "drift"


def test_two_heads_by_design_are_linted_applied_and_rolled_back_together(
    run_cli, pg_cluster, db_url, monkeypatch, tmp_path
):
    """The expand and contract branches of two_heads: lint reads both (with a plan or with only
    alembic.ini), apply with migrate.to: heads takes the database to both heads, and a failed
    post-check rolls both back to where the run started, every table as it was."""
    from conftest import execute, table_contents, upgrade

    project = PROJECTS / "two_heads"
    code, out, err = run_cli("lint", "--alembic-config", project / "alembic.ini")
    assert code == 0 and "4 revisions linted" in out, out + err
    code, out, err = run_cli("lint", project / "plan.yaml")
    assert code == 0 and "4 revisions linted" in out, out + err
    monkeypatch.setenv("DATABASE_URL", db_url)
    upgrade(project / "alembic.ini", db_url, "b1")
    execute(db_url, "INSERT INTO users (fullname) VALUES ('Ada Lovelace')")
    before = table_contents(db_url)
    failing = tmp_path / "failing.yaml"
    failing.write_text(
        (project / "plan.yaml").read_text().replace("alembic.ini", str(project / "alembic.ini"))
        + "checks:\n  post:\n    - {name: no users, sql: SELECT count(*) FROM users}\n"
    )
    code, out, err = run_cli("apply", failing, "--yes", "--state-dir", tmp_path / "state")
    assert code == 1 and "rolled back" in out + err, out + err
    assert query(db_url, "SELECT version_num FROM alembic_version") == [("b1",)]
    assert table_contents(db_url) == before
    code, out, err = run_cli("apply", project / "plan.yaml", "--yes", "--state-dir", tmp_path / "state")
    assert code == 0, out + err
    assert sorted(query(db_url, "SELECT version_num FROM alembic_version")) == [("c1",), ("e2",)]
    code, out, err = run_cli("test", project / "plan.yaml", "--url", pg_cluster.url("postgres"))
    assert code == 0 and "4 of 4 revisions round-tripped; all passed" in out, out + err


def test_lint_places_each_finding_on_the_call_that_emitted_it(run_cli, pg_cluster):
    """repeated_literals: later calls repeat the long names earlier ones spell out; each finding
    is on the line of the call that emitted its statement, rendered offline (q1, q2) or taken
    from a run on a scratch database (q3, whose loop's statement is reported once, counted)."""
    import json

    project = PROJECTS / "repeated_literals"
    code, out, err = run_cli(
        "lint", "--alembic-config", project / "alembic.ini", "--url", pg_cluster.url("postgres"), "--format", "json"
    )
    assert code == 1, out + err
    found = {(f["revision"], f["rule"]): f for f in json.loads(out)["findings"]}
    lines = {key: f["line"] for key, f in found.items()}
    assert lines[("q1", "int-primary-key")] == 17, lines
    assert lines[("q2", "missing-lock-timeout")] == 12
    assert lines[("q2", "statement-under-access-exclusive")] == 13
    assert lines[("q2", "set-not-null")] == 14
    assert lines[("q3", "missing-lock-timeout")] == 14
    assert lines[("q3", "update-without-where")] == 16
    assert "(20 statements from this line)" in found[("q3", "update-without-where")]["message"]
    assert sum(1 for f in json.loads(out)["findings"] if f["rule"] == "update-without-where") == 1


def test_lint_json_stays_json_when_revisions_print_and_an_empty_revision_is_not_flagged(run_cli):
    """printing_revision prints at import, in upgrade() and in downgrade(); its first downgrade
    (to base) ends with Alembic's own DROP TABLE alembic_version; p2 is empty both ways."""
    import json

    code, out, err = run_cli(
        "lint", "--alembic-config", PROJECTS / "printing_revision" / "alembic.ini", "--format", "json"
    )
    assert code == 0, out + err
    report = json.loads(out)  # the whole of stdout is the document
    assert report["findings"] == [], report["findings"]
    assert "warning: this creates the notes table" not in out


def test_lint_hears_the_timeouts_env_py_sets_and_existing_type_in_a_batch(run_cli):
    import json

    code, out, err = run_cli(
        "lint", "--alembic-config", PROJECTS / "own_lock_timeout" / "alembic.ini", "--format", "json"
    )
    assert code == 0, out + err
    rules = {(f["revision"], f["rule"]) for f in json.loads(out)["findings"]}
    assert rules == {("o1", "varchar-length"), ("o2", "varchar-length")}, rules
    # from o1: only the batch's existing_type= tells the old type (o1 is not linted this time)
    code, out, err = run_cli(
        "lint", "--alembic-config", PROJECTS / "own_lock_timeout" / "alembic.ini", "--from", "o1", "--format", "json"
    )
    assert code == 0, out + err
    assert {(f["revision"], f["rule"]) for f in json.loads(out)["findings"]} == {("o2", "varchar-length")}


def test_alembics_own_drop_of_its_version_table_is_not_the_revisions():
    """Alembic before 1.16 ends an offline downgrade to base with DROP TABLE alembic_version."""
    from planrun.plugins.lint.statements import parse

    parsed = parse("p1", "downgrade", "DROP TABLE notes;\nDROP TABLE alembic_version;\n")
    assert [s.sql for s in parsed.statements] == ["DROP TABLE notes"]


def test_an_application_set_up_before_its_revisions_run(pg_cluster, db_url, tmp_path):
    """app_setup's revision reads a configuration object its CLI fills; target.alembic.setup
    runs that first for test, lint, plan and apply (without it, the revision fails)."""
    project = PROJECTS / "app_setup"
    server = pg_cluster.url("postgres")
    code, out = planrun_process("test", "--alembic-config", project / "alembic.ini", "--url", server)
    assert code == 1 and "NoSuchOptError" in out and "the application is not set up" in out, out
    code, out = planrun_process("test", project / "plan.yaml", "--url", server)
    assert code == 0 and "1 of 1 revisions round-tripped; all passed" in out, out
    code, out = planrun_process("lint", project / "plan.yaml")
    assert code == 0 and "1 revision linted" in out, out
    env = {"DATABASE_URL": db_url}
    code, out = planrun_process("plan", project / "plan.yaml", env=env)
    assert code == 0 and "CREATE TABLE audit_events" in out, out
    code, out = planrun_process("apply", project / "plan.yaml", "--yes", "--state-dir", tmp_path / "state", env=env)
    assert code == 0, out
    assert query(db_url, "SELECT column_default FROM information_schema.columns WHERE column_name = 'kept_days'") == [
        ("30",)
    ]
    wrong = tmp_path / "plan.yaml"
    wrong.write_text(
        (project / "plan.yaml")
        .read_text()
        .replace("alembic.ini", str(project / "alembic.ini"))
        .replace("setupapp.cli:prepare", "setupapp.cli:missing")
    )
    code, out = planrun_process("lint", wrong)
    assert code == 2 and "target.alembic.setup: cannot find setupapp.cli:missing: AttributeError" in out, out
    assert "Traceback" not in out


def test_an_env_py_that_migrates_its_own_sqlite_store_is_refused(run_cli, pg_cluster, tmp_path, monkeypatch):
    """own_sqlite's env.py ignores the URL and the connection and opens the application's
    SQLite store: refused at its first connection, a usage error (exit 2), the store untouched."""
    import sqlite3

    store = tmp_path / "store.db"
    monkeypatch.setenv("OWN_SQLITE_STORE", str(store))
    project = PROJECTS / "own_sqlite"
    code, out, err = run_cli("test", "--alembic-config", project / "alembic.ini", "--url", pg_cluster.url("postgres"))
    assert code == 2, out + err
    assert "env.py connected through sqlite3 to a database that is not PostgreSQL" in err, err
    assert "Traceback" not in out + err
    tables = sqlite3.connect(store).execute("SELECT name FROM sqlite_master").fetchall() if store.exists() else []
    assert tables == []


def test_an_alembic_before_1_16_reads_the_ini_and_names_what_it_cannot(monkeypatch, tmp_path):
    """ZenML pins Alembic 1.15, which has no toml_file: the ini is read without it, and a
    [tool.alembic] project is a located error, never a TypeError."""
    import pytest
    from alembic import config as alembic_config

    from planrun.engine.errors import ProjectError
    from planrun.plugins.alembic_project import project as project_module

    class OldConfig(alembic_config.Config):
        def __init__(self, file_=None, ini_section="alembic", output_buffer=None):
            super().__init__(file_, ini_section=ini_section, output_buffer=output_buffer)

    monkeypatch.setattr(project_module, "Config", OldConfig)
    ini = PROJECTS / "two_heads" / "alembic.ini"
    (tmp_path / "pyproject.toml").write_text("[tool.alembic]\nscript_location = 'x'\n")
    config = project_module._config(ini, "alembic", None)
    assert config.get_main_option("script_location")
    with pytest.raises(ProjectError, match=r"\[tool.alembic\] needs Alembic 1.16 or later"):
        project_module._config(tmp_path / "pyproject.toml", "alembic", None)


def test_an_irreversible_revision_marked_so_is_checked_for_what_it_can_be(run_cli, pg_cluster, tmp_path):
    """irreversible's i2 rounds prices with no way back, marked `allow empty-downgrade reason=`:
    lint allows it, the graph check does not count it, the stairway reports it irreversible
    (its upgrade run twice, the second time on a database rebuilt at i1, the results equal).
    The same revision made non-repeatable (the transaction id in it) fails; unmarked, it is an
    empty downgrade."""
    import json
    import shutil

    project = PROJECTS / "irreversible"
    server = pg_cluster.url("postgres")
    report = tmp_path / "r.json"
    code, out, err = run_cli(
        "test", "--alembic-config", project / "alembic.ini", "--url", server, "--json-report", report
    )
    assert code == 0, out + err
    assert "2 of 3 revisions round-tripped, 1 irreversible; all passed" in out
    cases = _stairway_cases(report)
    assert cases["i2"]["outcome"] == "irreversible" and "restore the backup" in cases["i2"]["remarks"][0]
    assert "timings" in cases["i2"] and "up_again" in cases["i2"]["timings"]
    code, out, err = run_cli("lint", "--alembic-config", project / "alembic.ini", "--format", "json")
    allowed = [f for f in json.loads(out)["findings"] if f["rule"] == "empty-downgrade"]
    assert [(f["revision"], f["severity"]) for f in allowed] == [("i2", "allowed")], allowed

    copy = tmp_path / "copy"
    shutil.copytree(project, copy)
    cents = copy / "versions" / "i2_cents.py"
    cents.write_text(cents.read_text().replace("round(amount * 100)", "round(amount * 100) + txid_current() % 100000"))
    code, out, err = run_cli("test", "--alembic-config", copy / "alembic.ini", "--url", server, "--keep-going")
    assert code == 1 and "upgrade is not repeatable: changed table public.prices" in out, out + err
    cents.write_text(cents.read_text().replace("# planrun: allow empty-downgrade", "# no marker"))
    code, out, err = run_cli("test", "--alembic-config", copy / "alembic.ini", "--url", server, "--keep-going")
    assert code == 1 and "i2 (versions/i2_cents.py): downgrade() is empty" in out, out + err


def test_checks_say_where_they_run(run_cli, pg_cluster, db_url, monkeypatch, tmp_path):
    """A post-check that needs production's rows (count(*) > 0) fails the stairway's empty
    scratch database unless it says `when: apply`; a `when: test` check never runs in apply."""
    from conftest import execute, upgrade

    project = PROJECTS / "two_heads"
    base = (project / "plan.yaml").read_text().replace("alembic.ini", str(project / "alembic.ini"))
    needs_rows = "    - {name: there are users, sql: SELECT count(*) FROM users, expect: '> 0'%s}\n"
    server = pg_cluster.url("postgres")
    for when, expected in (("", 1), (", when: apply", 0)):
        plan = tmp_path / f"plan{len(when)}.yaml"
        plan.write_text(base + "checks:\n  post:\n" + needs_rows % when)
        code, out, err = run_cli("test", plan, "--url", server)
        assert code == expected, out + err
    monkeypatch.setenv("DATABASE_URL", db_url)
    upgrade(project / "alembic.ini", db_url, "b1")
    execute(db_url, "INSERT INTO users (fullname) VALUES ('Ada')")
    plan = tmp_path / "apply.yaml"
    plan.write_text(
        base
        + "checks:\n  post:\n"
        + needs_rows % ", when: apply"
        + "    - {name: only in test, sql: SELECT 1, expect: 0, when: test}\n"
    )
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", tmp_path / "state")
    assert code == 0, out + err
    assert "there are users" in out and "only in test" not in out


def test_an_env_py_that_only_reads_its_own_variable_is_fixed_by_plan_keys_it_names(
    run_cli, pg_cluster, db_url, monkeypatch, tmp_path
):
    """app_settings with its env.py ignoring the connection too: it connects to MYAPP_DATABASE_URL
    whatever planrun hands it. The refusal names the plan keys; with them
    test and apply touch planrun's database only, env.py unedited (the variables planrun sets name
    the driver, so SQLAlchemy 2.1 does not look for psycopg 3)."""
    import shutil

    project = tmp_path / "app"
    shutil.copytree(PROJECTS / "app_settings", project)
    env = project / "env.py"
    env.write_text(env.read_text().replace('config.attributes.get("connection", None)', "None"))
    app_db = pg_cluster.create_database("own_" + tmp_path.name[-6:].lower().replace("-", "_"))
    monkeypatch.setenv("MYAPP_DATABASE_URL", app_db.replace("postgresql:", "postgresql+psycopg2:"))
    server = pg_cluster.url("postgres")
    code, out, err = run_cli("test", "--alembic-config", project / "alembic.ini", "--url", server)
    assert code == 2, out + err
    assert "env.py reads MYAPP_DATABASE_URL from the environment" in err
    assert 'test: {url_env: [MYAPP_DATABASE_URL]} (for test and lint) and target: {url: "${MYAPP_DATABASE_URL}"}' in err
    plan = project / "plan.yaml"
    plan.write_text(
        'version: 1\nname: app-settings\ntarget: {url: "${MYAPP_DATABASE_URL}", alembic: {config: alembic.ini}}\n'
        "test: {url_env: [MYAPP_DATABASE_URL]}\n"
    )
    code, out, err = run_cli("test", plan, "--url", server)
    assert code == 0 and "2 of 2 revisions round-tripped; all passed" in out, out + err
    assert _untouched(app_db)
    monkeypatch.setenv("MYAPP_DATABASE_URL", db_url)  # driverless, as planrun's own URLs are
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", tmp_path / "state")
    assert code == 0, out + err
    assert query(db_url, "SELECT version_num FROM alembic_version") == [("a2",)]


def test_the_newcomers_path_from_the_readme_on_the_most_common_app_shape(pg_cluster, db_url, tmp_path):
    """first_hour_app (`alembic init` at the root, env.py's URL from the settings module, a
    concurrent index, a rename, an irreversible data migration), from its root, as the README
    says: planrun init, planrun test, planrun apply. No edit of env.py or the settings."""
    import shutil

    app = tmp_path / "app_root"
    shutil.copytree(PROJECTS / "first_hour_app", app)
    before = {p: p.read_bytes() for p in app.rglob("*.py")}

    def planrun(*args, **env):
        return planrun_process(*args, cwd=app, env=env)

    code, out = planrun("init")
    assert code == 0 and "wrote plan.yaml" in out, out
    plan = (app / "plan.yaml").read_text()
    assert 'url: "${APP_DATABASE_URL}"' in plan and "url_env: [APP_DATABASE_URL]" in plan, plan
    assert "strategy: downgrade-then-restore" in plan, plan
    code, out = planrun("init")
    assert code == 2 and "never overwrites" in out
    code, out = planrun("test", "plan.yaml", "--url", pg_cluster.url("postgres"))
    assert code == 0 and "4 of 5 revisions round-tripped, 1 irreversible; all passed" in out, out
    assert "INFO  [alembic" not in out
    code, out = planrun("apply", "plan.yaml", "--yes", APP_DATABASE_URL=db_url)
    assert code == 0, out
    assert query(db_url, "SELECT version_num FROM alembic_version") == [("h5",)]
    assert {p: p.read_bytes() for p in app.rglob("*.py")} == before
    assert (app / ".planrun" / ".gitignore").exists()


READS_ITS_ROWS = '''"""every basic user becomes a starter, one by one (it reads rows: offline mode cannot render it)"""
import sqlalchemy as sa
from alembic import op

revision = "h6"
down_revision = "h5"
branch_labels = None
depends_on = None


def upgrade():
    for (user_id,) in op.get_bind().execute(sa.text("SELECT id FROM users WHERE plan = 'basic'")).fetchall():
        op.execute(f"UPDATE users SET plan = 'starter' WHERE id = {user_id}")
    op.execute("UPDATE users SET plan = 'starter'")


def downgrade():
    # planrun: allow empty-downgrade reason="starter and basic cannot be told apart"
    pass
'''


def test_lint_runs_a_data_migration_of_an_app_whose_settings_are_read_at_import(pg_cluster, db_url, tmp_path):
    """first_hour_app's settings module reads APP_DATABASE_URL once, at import. Lint renders
    every revision offline first (env.py imports the settings then), and runs the one that
    reads rows on a scratch database: the variable points there before the settings are first
    read, so the run reaches the scratch database and its statements are linted."""
    import shutil

    app = tmp_path / "app_root"
    shutil.copytree(PROJECTS / "first_hour_app", app)
    (app / "migrations" / "versions" / "h6_starter.py").write_text(READS_ITS_ROWS)
    assert planrun_process("init", cwd=app)[0] == 0
    plan = app / "plan.yaml"
    plan.write_text(plan.read_text().split("\nlint:")[0] + "\n")  # every revision judged (init set lint.since)
    code, out = planrun_process("lint", "plan.yaml", "--url", db_url, "--format", "json", cwd=app)
    findings = json.loads(out)["findings"]
    h6 = [f for f in findings if f["revision"] == "h6"]
    assert [f["rule"] for f in h6 if f["rule"] == "update-without-where"] == ["update-without-where"], h6
