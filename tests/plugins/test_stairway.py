"""``planrun test``: the stairway on the demo, on a project with a branch and a merge, and on
hand-made faulty revisions, each caught with a precise message."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import copy_demo_migrations

ROOT = Path(__file__).resolve().parent.parent.parent
BRANCHY = ROOT / "tests" / "projects" / "branchy"


def server_url(pg_cluster) -> str:
    return pg_cluster.url("postgres")


def test_demo_round_trips_every_revision_with_fixtures(run_cli, pg_cluster, tmp_path):
    code, out, err = run_cli(
        "test",
        ROOT / "plans" / "demo.yaml",
        "--url",
        server_url(pg_cluster),
        "--junit-xml",
        tmp_path / "j.xml",
        "--json-report",
        tmp_path / "r.json",
    )
    assert code == 0, out + err
    assert "4 of 4 revisions round-tripped; all passed" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["ok"] and report["round_tripped"] == 4
    cases = ET.parse(tmp_path / "j.xml").getroot().findall(".//testsuite[@name='stairway']/testcase")
    assert [c.get("name").split()[0] for c in cases] == ["000", "001", "002", "003"]
    assert not [db for db in pg_cluster_databases(pg_cluster) if db.startswith("planrun_test_")]


def pg_cluster_databases(pg_cluster) -> list[str]:
    from conftest import query

    return [name for (name,) in query(pg_cluster.url("postgres"), "SELECT datname FROM pg_database")]


def test_default_is_a_throwaway_cluster(run_cli):
    code, out, err = run_cli("test", "--alembic-config", ROOT / "migrations" / "alembic.ini")
    assert code == 0, out + err
    assert "4 of 4 revisions round-tripped" in out


def test_branch_and_merge_round_trip_with_env_py_reading_the_environment(run_cli, pg_cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://production-must-not-be-touched/none")
    code, out, err = run_cli(
        "test",
        "--alembic-config",
        BRANCHY / "alembic.ini",
        "--url",
        server_url(pg_cluster),
        "--json-report",
        tmp_path / "r.json",
    )
    assert code == 0, out + err
    report = json.loads((tmp_path / "r.json").read_text())
    order = [c["revision"] for c in report["cases"] if c["suite"] == "stairway"]
    assert (
        sorted(order) == ["a1", "b1", "c1", "d1", "m1"]
        and order[0] == "a1"
        and order.index("m1") > max(order.index("b1"), order.index("c1"))
    )
    assert "5 of 5 revisions round-tripped; all passed" in out


@pytest.fixture
def project(tmp_path):
    """A copy of the demo project to add faulty revisions to."""
    target = tmp_path / "migrations"
    copy_demo_migrations(target)

    def add(revision: str, down: str, upgrade: str, downgrade: str, doc: str = "a test revision") -> None:
        (target / "versions" / f"{revision}_faulty.py").write_text(
            f'"""{doc}"""\nfrom alembic import op\nimport sqlalchemy as sa\n\n'
            f"revision = {revision!r}\ndown_revision = {down!r}\n"
            f"branch_labels = None\ndepends_on = None\n\n\ndef upgrade():\n{upgrade}\n\ndef downgrade():\n{downgrade}\n"
        )

    add.ini = target / "alembic.ini"
    return add


def run_faulty(run_cli, pg_cluster, project, *extra):
    plan = project.ini.parent / "plan.yaml"
    plan.write_text(
        "version: 1\nname: faulty\ntarget: {url: '${DATABASE_URL}', alembic: {config: alembic.ini}}\n"
        f"test: {{fixtures: [{{file: {ROOT / 'tests' / 'fixtures' / 'sample_data.sql'}, revision: '000'}}]}}\n"
    )
    return run_cli("test", plan, "--url", server_url(pg_cluster), *extra)


FAULTS = {
    "downgrade forgets an index": (
        '    op.create_index("ix_users_name", "users", ["name"])\n',
        '    op.execute("SELECT 1")\n',
        "downgrade left a trace: added: index public.ix_users_name",
    ),
    "downgrade drops a column the upgrade did not add": (
        '    op.add_column("users", sa.Column("nickname", sa.Text))\n',
        '    op.drop_column("users", "nickname")\n    op.drop_column("users", "name")\n',
        "downgrade left a trace: removed: column public.users.name",
    ),
    "downgrade loses rows": (
        '    op.execute("UPDATE users SET name = upper(name)")\n',
        '    op.execute("UPDATE users SET name = lower(name)")\n    op.execute("DELETE FROM users WHERE id > 3")\n',
        "downgrade left a trace: changed table public.users: 2 rows missing (5 -> 3, keys id 1..5 -> 1..3)",
    ),
    "downgrade loses rows in an autocommit block (the write watch cannot see it; a scan must)": (
        '    op.create_index("ix_users_name", "users", ["name"])\n',
        '    op.drop_index("ix_users_name", table_name="users")\n'
        # the sleep lets the server flush its per-backend counters after the DELETE, so only the
        # fallback (autocommit seen: scan) can find it
        '    with op.get_context().autocommit_block():\n        op.execute("DELETE FROM users WHERE id > 3")\n'
        '        op.execute("SELECT pg_sleep(1.1)")\n        op.execute("SELECT 1")\n',
        "downgrade left a trace: changed table public.users: 2 rows missing (5 -> 3, keys id 1..5 -> 1..3)",
    ),
    "upgrade not repeatable": (  # a sequence's next value in a column of its own: new each time
        "    op.execute(\"INSERT INTO products (sku, title, price_cents, description_new) VALUES ('X-1', 'extra', "
        "nextval('products_id_seq'), '')\")\n",
        "    op.execute(\"DELETE FROM products WHERE sku = 'X-1'\")\n",
        "upgrade is not repeatable: changed table public.products: values changed in place: 1 of 5 rows, in column "
        "price_cents",
    ),
    "column type changed by the round trip": (
        '    op.alter_column("users", "name", type_=sa.Text)\n',
        '    op.alter_column("users", "name", type_=sa.String(200))\n',
        "downgrade left a trace: changed column public.users.name: character varying(120) not null -> character "
        "varying(200) not null",
    ),
}


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.split(" (")[0].replace(" ", "-"))
def test_faulty_revision_is_caught_with_a_precise_message(run_cli, pg_cluster, project, fault):
    upgrade, downgrade, message = FAULTS[fault]
    project("003", "002", upgrade, downgrade)
    code, out, err = run_faulty(run_cli, pg_cluster, project)
    assert code == 1, out + err
    assert message in out, out
    assert "3 of 4 revisions round-tripped, 1 failed; FAILED" in out


def test_empty_downgrade_is_a_failed_graph_check(run_cli, pg_cluster, project):
    project("003", "002", '    op.add_column("users", sa.Column("nickname", sa.Text))\n', "    pass\n")
    code, out, err = run_faulty(run_cli, pg_cluster, project)
    assert code == 1
    assert "graph no empty downgrade: revision 003 (versions/003_faulty.py): downgrade() is empty" in out
    assert "downgrade left a trace: added: column public.users.nickname" in out


def test_two_heads_is_a_failed_graph_check(run_cli, pg_cluster, project):
    project(
        "003",
        "001",
        '    op.add_column("users", sa.Column("nickname", sa.Text))\n',
        '    op.drop_column("users", "nickname")\n',
    )
    code, out, err = run_faulty(run_cli, pg_cluster, project)
    assert code == 1
    assert "graph single head: 2 heads: 002, 003 (merge them, or declare test.heads)" in out


def test_downgrade_that_raises_is_reported_and_keep_going_continues(run_cli, pg_cluster, project, tmp_path):
    project(
        "003",
        "002",
        '    op.add_column("users", sa.Column("nickname", sa.Text))\n',
        '    raise NotImplementedError("this migration cannot be undone")\n',
    )
    project(
        "004",
        "003",
        '    op.add_column("users", sa.Column("age", sa.Integer))\n',
        '    op.drop_column("users", "age")\n',
    )
    code, out, err = run_faulty(run_cli, pg_cluster, project)
    assert code == 1
    assert (
        "downgrade failed: revision 003 (versions/003_faulty.py) failed during downgrade of 003: "
        "NotImplementedError: this migration cannot be undone" in out
    )
    assert "stopped at 003 (use --keep-going" in out
    code, out, err = run_faulty(run_cli, pg_cluster, project, "--keep-going", "--junit-xml", tmp_path / "j.xml")
    assert code == 1
    assert "4 of 5 revisions round-tripped, 1 failed; FAILED" in out
    suite = ET.parse(tmp_path / "j.xml").getroot().find(".//testsuite[@name='stairway']")
    assert suite.get("tests") == "5" and suite.get("failures") == "1"


def test_a_revision_found_unrepeatable_after_the_next_one_ran_still_stops_the_climb(run_cli, pg_cluster, project):
    """The repeatability comparison is concluded after the next revision's round trip (its
    snapshot overlaps the next command): without --keep-going that next result is dropped."""
    project(
        "003",
        "002",
        "    op.execute(\"INSERT INTO products (sku, title, price_cents, description_new) VALUES ('X-1', 'extra', "
        "nextval('products_id_seq'), '')\")\n",
        "    op.execute(\"DELETE FROM products WHERE sku = 'X-1'\")\n",
    )
    project(
        "004",
        "003",
        '    op.add_column("users", sa.Column("age", sa.Integer))\n',
        '    op.drop_column("users", "age")\n',
    )
    code, out, err = run_faulty(run_cli, pg_cluster, project)
    assert code == 1
    assert "upgrade is not repeatable: changed table public.products" in out
    assert "stopped at 003 (use --keep-going" in out
    assert "004 a test revision" not in out
    code, out, err = run_faulty(run_cli, pg_cluster, project, "--keep-going")
    assert code == 1
    assert "004 a test revision" in out and "4 of 5 revisions round-tripped, 1 failed; FAILED" in out


def test_an_env_py_that_migrates_another_database_never_passes(run_cli, pg_cluster, tmp_path, monkeypatch):
    """env.py connects to the application's own database whatever planrun gives it. The round
    trip must not pass on the untouched scratch database (it once reported "123 of 124
    revisions round-tripped"), and the other database must not be touched at all."""
    from conftest import query

    project = copy_demo_migrations(tmp_path / "migrations")
    other = pg_cluster.create_database("app_own_" + tmp_path.name[-8:].lower().replace("-", "_"))
    monkeypatch.setenv("APP_DATABASE_URL", other.replace("postgresql:", "postgresql+psycopg2:"))
    env = project / "env.py"
    env.write_text(
        env.read_text().replace(
            'config.attributes.get("connection") or engine_from_config(\n        '
            'config.get_section(config.config_ini_section, {}), prefix="sqlalchemy."',
            'engine_from_config(\n        {"sqlalchemy.url": __import__("os").environ["APP_DATABASE_URL"]}, '
            'prefix="sqlalchemy."',
        )
    )
    assert "APP_DATABASE_URL" in env.read_text()
    code, out, err = run_cli(
        "test", "--alembic-config", project / "alembic.ini", "--url", server_url(pg_cluster), "--keep-going"
    )
    assert code == 2, out + err  # refused outright: no report at all, least of all a passing one
    assert "upgrade to 000 refused: env.py connected to database 'app_own_" in err and "nothing was run there" in err
    assert "round-tripped" not in out
    assert query(other, "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace") == [(0,)]


def test_one_connection_serves_every_command_and_each_starts_clean(run_cli, pg_cluster, tmp_path, monkeypatch):
    """The stairway lends env.py one connection for all its Alembic commands (it opened one per
    command), reset between them: a revision's ``SET search_path`` does not follow it into the
    next command, where an unqualified table would then land in the wrong schema."""
    from conftest import write_revision

    project = copy_demo_migrations(tmp_path / "migrations")
    env = project / "env.py"
    env.write_text(
        env.read_text().replace(
            "    with connectable.connect() as connection:\n",
            "    with connectable.connect() as connection:\n"
            "        import os\n"
            "        look = \"SELECT pg_backend_pid(), current_setting('search_path')\"\n"
            "        seen = connection.exec_driver_sql(look).one()\n"
            "        connection.commit()  # the look began a transaction: the migration's own must start clean\n"
            "        with open(os.environ['SEEN_FILE'], 'a') as seen_file:\n"
            "            seen_file.write(f'{seen[0]} {seen[1]}\\n')\n",
        )
    )
    write_revision(
        project / "versions",
        "004",
        "002",
        '    op.execute("CREATE SCHEMA leak")\n    op.execute("SET search_path TO leak, public")\n',
        '    op.execute("DROP SCHEMA leak")\n',
    )
    write_revision(
        project / "versions",
        "005",
        "004",
        '    op.execute("CREATE TABLE t5 (id int)")\n',
        '    op.execute("DROP TABLE t5")\n',
    )
    seen_file = tmp_path / "seen.txt"
    monkeypatch.setenv("SEEN_FILE", str(seen_file))
    code, out, err = run_cli("test", "--alembic-config", project / "alembic.ini", "--url", server_url(pg_cluster))
    assert code == 0, out + err
    assert "5 of 5 revisions round-tripped; all passed" in out
    seen = [line.split(" ", 1) for line in seen_file.read_text().splitlines()]
    climb = seen[:15]  # up, down, up again for each of the five revisions
    assert len({pid for pid, _ in climb}) == 1, seen  # one connection, lent again and again
    assert {path for _, path in seen} == {'"$user", public'}, seen  # each command starts clean
