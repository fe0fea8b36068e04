"""Rollback at any size: a backup scoped to the tables the migration touches, the table-scoped
restore after a downgrade, and the preflight that refuses a plan whose rollback cannot meet
rollback.within. The seed's incident, end to end: a revision drops a column holding data, the
post-check fails, the downgrade brings the column back empty, the scoped restore brings its
data back, proven; an unrelated table another connection wrote to during the run keeps it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import ROOT, execute, query, table_contents, upgrade, write_revision

CREATE = (
    '    op.create_table("customers", sa.Column("id", sa.Integer, primary_key=True),\n'
    '                    sa.Column("email", sa.Text, nullable=False), sa.Column("notes", sa.Text))\n'
    '    op.create_table("orders", sa.Column("id", sa.Integer, primary_key=True),\n'
    '                    sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id")),\n'
    '                    sa.Column("total", sa.Integer))\n'
    '    op.create_table("audit_log", sa.Column("id", sa.Integer, primary_key=True), sa.Column("message", sa.Text))\n'
)
# the incident: a column holding data dropped; meanwhile the application writes to another table
DROP_NOTES = (
    '    op.drop_column("customers", "notes")\n'
    '    op.drop_column("orders", "total")\n'
    "    if not op.get_context().as_sql:  # the application, on its own connection, during the run\n"
    "        import os, psycopg2\n"
    '        app = psycopg2.connect(os.environ["APP_URL"])\n'
    "        with app, app.cursor() as cursor:\n"
    "            cursor.execute(\"INSERT INTO audit_log (message) VALUES ('written during the run')\")\n"
    "        app.close()\n"
)
READD_NOTES = (
    '    op.add_column("orders", sa.Column("total", sa.Integer))\n'
    '    op.add_column("customers", sa.Column("notes", sa.Text))\n'
)


def _project(tmp_path: Path, db_url: str, monkeypatch, scope: str = "touched", within: str = "5m", extra: str = ""):
    root = tmp_path / "project"
    shutil.copytree(ROOT / "migrations", root, ignore=shutil.ignore_patterns("__pycache__", "versions"))
    (root / "versions").mkdir()
    write_revision(
        root / "versions", "a1", None, CREATE, '    op.drop_table("orders")\n    op.drop_table("customers")\n'
    )
    write_revision(root / "versions", "a2", "a1", DROP_NOTES, READD_NOTES)
    upgrade(root / "alembic.ini", db_url, "a1")
    execute(
        db_url,
        "INSERT INTO customers (email, notes) SELECT 'c' || g || '@example.com', 'note ' || g "
        "FROM generate_series(1, 50) g;"
        "INSERT INTO orders (customer_id, total) SELECT 1 + g % 50, g FROM generate_series(1, 200) g;"
        "INSERT INTO audit_log (message) SELECT 'before ' || g FROM generate_series(1, 10) g",
    )
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("APP_URL", db_url)
    plan = root / "plan.yaml"
    plan.write_text(
        "version: 1\nname: incident\ntarget: {url: '${DATABASE_URL}', alembic: {config: alembic.ini}}\n"
        "migrate: {to: a2}\n"
        f"backup: {{to: '{tmp_path}/backups/{{name}}/{{run_id}}/', verify: restore, scope: '{scope}'}}\n"
        "checks:\n  post:\n    - {name: the release reads notes, sql: 'SELECT count(*) FROM information_schema.columns "
        "WHERE table_name = ''customers'' AND column_name = ''notes''', expect: 1}\n"
        "lint: {allow: {drop-column: 'the incident, on purpose'}}\n"
        f"rollback: {{strategy: downgrade-then-restore, within: {within}}}\n" + extra
    )
    return plan


def test_the_incident_scoped_backup_brings_the_column_back_and_keeps_other_writes(
    tmp_path, db_url, monkeypatch, run_cli, recorder, pg_cluster
):
    plan = _project(tmp_path, db_url, monkeypatch, extra=f"notify:\n  - webhook: {{url: '{recorder.url}/hook'}}\n")
    before = table_contents(db_url)
    monkeypatch.chdir(tmp_path)  # the journal in the default state dir, where status reads it
    state = tmp_path / ".planrun"
    code, out, err = run_cli("apply", plan, "--yes")
    assert code == 1, out + err  # failed, rolled back and proven
    printed = out + err
    after = table_contents(db_url)
    # every customer's notes are back, identical
    assert after["public.customers"] == before["public.customers"]
    assert after["public.orders"] == before["public.orders"]
    # the row the application wrote during the run is still there: audit_log was out of scope
    log = after["public.audit_log"]["rows"]
    assert (11, "written during the run") in log
    assert sorted(before["public.audit_log"]["rows"] + [(11, "written during the run")]) == sorted(log)
    journal = [json.loads(line) for path in state.rglob("*.jsonl") for line in path.read_text().splitlines()]
    backup = next(r for r in journal if r["event"] == "backup")
    assert backup["scope"] == ["public.customers", "public.orders"]
    rollback = {r["step"]: r for r in journal if r["event"] == "step_end" and r["step"].startswith("rollback")}
    # the downgrade brought the column back empty: its data proof failed, so the scoped restore ran
    assert rollback["rollback-downgrade"]["outcome"] == "failed"
    assert "public.customers" in rollback["rollback-downgrade"]["error"]
    restored = rollback["rollback-restore"]
    assert restored["outcome"] == "ok"
    assert restored["summary"].startswith("restored the rows of 2 table(s) from backup ")
    # customers is referenced by orders: merged by key; orders is referenced by none: emptied and loaded
    assert "public.customers: 50 rows updated, 0 inserted, 0 deleted" in restored["summary"]
    assert "public.orders: emptied and 200 rows loaded" in restored["summary"]
    # the estimate before, and the real rollback after, in the journal and in status
    estimate = next(r for r in journal if r["event"] == "rollback_estimate")
    assert estimate["scope"] == ["public.customers", "public.orders"] and 2.0 <= estimate["seconds"] < 3
    code, out, err = run_cli("status", plan)
    assert "last backup (run " in out and "): public.customers, public.orders" in out
    assert "rollback estimate: about 2 s (rollback.within 300 s)" in out
    assert "rollback by downgrade: failed in " in out and "rollback by restore: ok in " in out
    # and in the notification
    failure = recorder.payloads("/hook")[-1]
    assert failure["event"] == "failure" and failure["backup_scope"] == "2 table(s): public.customers, public.orders"
    assert 2 <= failure["rollback_estimate_seconds"] < 3
    assert failure["rollback"]["ok"] is True and failure["rollback"]["method"] == "restore"
    # no secret on the way: not in the console, the journal, the manifest or the notification
    everything = printed + out + err + json.dumps(journal) + json.dumps([r.json() for r in recorder.at("/hook")])
    everything += "".join(p.read_text() for p in (tmp_path / "backups").rglob("manifest.json"))
    assert pg_cluster.password not in everything


def test_a_whole_database_backup_refuses_to_lose_the_other_write(tmp_path, db_url, monkeypatch, run_cli):
    """The same incident with scope: database: the restore would replace audit_log too, which
    the application wrote during the run. It once did, silently; now it refuses by default
    (exit 3, naming the table), and loses the row only when the plan says discard, saying so.
    This is what scope: touched avoids (and shows the test above can fail)."""
    plan = _project(tmp_path, db_url, monkeypatch, scope="database")
    before = table_contents(db_url)
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", tmp_path / "state")
    assert code == 3, out + err
    assert "(public.audit_log: 1 row(s) written); nothing was restored over them" in out + err
    assert (11, "written during the run") in table_contents(db_url)["public.audit_log"]["rows"]

    # the same again on a fresh copy, the plan saying discard
    execute(db_url, "DROP SCHEMA public CASCADE; CREATE SCHEMA public; DROP SCHEMA planrun CASCADE")
    plan = _project(tmp_path / "again", db_url, monkeypatch, scope="database")
    plan.write_text(plan.read_text().replace("rollback: {", "rollback: {concurrent_writes: discard, "))
    before = table_contents(db_url)
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", tmp_path / "state3")
    assert code == 1, out + err
    assert "discarded writes of other transactions (rollback.concurrent_writes: discard): public.audit_log" in out
    assert table_contents(db_url) == before  # back to before the run: the application's row is gone, as asked


def test_scope_of_each_kind_of_revision(tmp_path, db_url, monkeypatch):
    """The scope found for DDL, DML, zdt helpers, an untouched table, and a revision that
    cannot be rendered offline (it falls back and says so)."""
    from planrun.plugins.sql.touched import touched_tables

    assert touched_tables("ALTER TABLE users ADD COLUMN x int; CREATE INDEX i ON products (sku)").tables == {"users"}
    assert touched_tables("UPDATE products SET a = 1 WHERE id <= 10; DELETE FROM audit").tables == {"products", "audit"}
    assert touched_tables("CREATE TABLE fresh (id int); COMMENT ON TABLE users IS 'x'").tables == set()
    unknown = touched_tables("DO $$ BEGIN DELETE FROM users; END $$").unknown
    assert unknown == ["a DO block may change any table"]


def _demo_scope(tmp_path, db_url, monkeypatch, run_cli, revision_body: str | None, to: str):
    from conftest import copy_demo_migrations

    project = copy_demo_migrations(tmp_path / "migrations", contract=True)
    if revision_body is not None:
        write_revision(project / "versions", "100", "003", revision_body)
    upgrade(project / "alembic.ini", db_url, "000")
    execute(db_url, (ROOT / "tests" / "fixtures" / "sample_data.sql").read_text())
    monkeypatch.setenv("DATABASE_URL", db_url)
    plan = project / "plan.yaml"
    plan.write_text(
        "version: 1\nname: scope\ntarget: {url: '${DATABASE_URL}', alembic: {config: alembic.ini}}\n"
        f"migrate: {{to: '{to}'}}\nbackup: {{scope: touched, verify: restore}}\n"
        "lint: {allow: {drop-column: 'test'}}\nrollback: {strategy: downgrade-then-restore}\n"
    )
    return run_cli("plan", plan, "--state-dir", tmp_path / "state")


def test_the_demo_revisions_scope_is_what_they_change(tmp_path, db_url, monkeypatch, run_cli):
    # 001 alters users (and indexes it concurrently); 002 and 003 alter, trigger and backfill products
    code, out, err = _demo_scope(tmp_path, db_url, monkeypatch, run_cli, None, "003")
    assert code == 0, out + err
    assert "2 table(s) the migration touches: public.products, public.users" in out


def test_a_revision_that_reads_the_database_falls_back_and_says_so(tmp_path, db_url, monkeypatch, run_cli):
    body = '    count = op.get_bind().execute(sa.text("SELECT count(*) FROM users")).scalar()\n'
    code, out, err = _demo_scope(tmp_path, db_url, monkeypatch, run_cli, body, "100")
    assert (
        "backup.scope touched: the backup falls back to the whole database: the pending revisions cannot be "
        "rendered offline" in out + err
    )


def test_the_preflight_refuses_a_rollback_over_budget_and_accepts_it_scoped(tmp_path, db_url, monkeypatch, run_cli):
    # a large table the migration does not touch makes the whole database too big for 3 s at the default speed
    plan = _project(tmp_path, db_url, monkeypatch, scope="database", within="3s")
    execute(
        db_url, "CREATE TABLE archive AS SELECT g AS id, repeat('x', 500) AS body FROM generate_series(1, 300000) g"
    )
    before = table_contents(db_url)
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", tmp_path / "state")
    assert code == 2, out + err
    message = out + err
    assert (
        "rollback estimate: restoring " in message
        and "(the whole database) at 50.0 MiB/s (planrun's default" in message
    )
    assert "over rollback.within (3 s). Ways out: backup.scope: touched" in message
    assert table_contents(db_url) == before  # refused before anything changed
    assert query(db_url, "SELECT version_num FROM alembic_version") == [("a1",)]
    scoped = _project(tmp_path / "scoped", db_url, monkeypatch, scope="touched", within="3s")
    code, out, err = run_cli("plan", scoped, "--state-dir", tmp_path / "state")
    assert code == 0, out + err
    assert "rollback estimate" not in out + err
    warned = _project(tmp_path / "warned", db_url, monkeypatch, scope="database", within="3s", extra="")
    warned.write_text(warned.read_text().replace("within: 3s}", "within: 3s, over_budget: warn}"))
    code, out, err = run_cli("plan", warned, "--state-dir", tmp_path / "state")
    assert code == 0, out + err
    assert "rollback estimate: restoring" in out + err


def test_a_scoped_backup_is_verified_at_every_depth(tmp_path, db_url, monkeypatch, run_cli):
    plan = _project(tmp_path, db_url, monkeypatch)
    plan.write_text(plan.read_text().replace("expect: 1", "expect: 0"))  # the change goes through
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", tmp_path / "state")
    assert code == 0, out + err
    (path,) = (tmp_path / "backups").rglob("manifest.json")
    manifest = json.loads(path.read_text())
    assert manifest["scope"] == ["public.customers", "public.orders"]
    assert manifest["row_counts"] == {"public.customers": 50, "public.orders": 200}
    assert list(manifest["table_fingerprints"]) == ["public.customers", "public.orders"]
    assert manifest["sequences"] == {"public.customers_id_seq": 50, "public.orders_id_seq": 200}
    for depth in ("checksum", "read", "restore"):
        code, out, err = run_cli("verify-backup", plan, "--backup", manifest["backup_id"], "--depth", depth)
        assert code == 0, (depth, out + err)
    assert "restored into a scratch database: 2 tables in scope, 250 rows and the schema match" in out + err
    # a damaged scoped backup is refused like a whole one
    dump = next(p for p in path.parent.iterdir() if p.name.startswith("dump"))
    dump.write_bytes(dump.read_bytes()[:-10] + b"0123456789")
    code, out, err = run_cli("verify-backup", plan, "--backup", manifest["backup_id"], "--depth", "checksum")
    assert code != 0 and "sha256" in out + err
