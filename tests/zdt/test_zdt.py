"""The zero-downtime helpers on a real PostgreSQL, inside real Alembic migrations: a batched
backfill killed half-way and resumed, dual writes from two connections at once, the safe NOT
NULL, concurrent index builds, DDL retried past a lock, and the demo application's feature
flag switching columns without a restart."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg2
import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.pool import NullPool

from conftest import execute, query

ENV_PY = """
from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config

with engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.",
                        poolclass=pool.NullPool).connect() as connection:
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
"""


class MiniProject:
    """An Alembic project in a temp folder whose revisions a test writes."""

    def __init__(self, root: Path, url: str):
        self.root, self.url = root, url
        (root / "versions").mkdir(parents=True)
        (root / "env.py").write_text(ENV_PY)
        sa_url = url.replace("postgresql://", "postgresql+psycopg2://", 1).replace("%", "%%")
        (root / "alembic.ini").write_text(f"[alembic]\nscript_location = .\nsqlalchemy.url = {sa_url}\n")
        self.last: str | None = None

    def add(self, revision: str, upgrade: str, downgrade: str = "    pass\n") -> None:
        (self.root / "versions" / f"{revision}.py").write_text(
            f"from alembic import op\nimport sqlalchemy as sa\nfrom planrun import zdt\n\n"
            f"revision = {revision!r}\ndown_revision = {self.last!r}\nbranch_labels = None\ndepends_on = None\n\n"
            f"def upgrade():\n{upgrade}\n\ndef downgrade():\n{downgrade}\n"
        )
        self.last = revision

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "alembic", "-c", str(self.root / "alembic.ini"), *args]

    def upgrade(self, revision: str = "head") -> subprocess.CompletedProcess:
        return subprocess.run(
            self.command("upgrade", revision), cwd=self.root, capture_output=True, text=True, timeout=120
        )


@pytest.fixture
def project(tmp_path, db_url):
    return MiniProject(tmp_path / "alembic", db_url)


ROWS = 20_000


def test_batched_backfill_killed_half_way_resumes_and_updates_every_row_once(project, db_url):
    execute(
        db_url,
        f"""
        CREATE TABLE items (id bigserial PRIMARY KEY, a int NOT NULL, b int);
        INSERT INTO items (a) SELECT g FROM generate_series(1, {ROWS}) g;
        DELETE FROM items WHERE id % 7 = 0;  -- gaps in the keys
        CREATE TABLE updates (id bigint NOT NULL);
        CREATE FUNCTION count_update() RETURNS trigger LANGUAGE plpgsql AS
          $$ BEGIN INSERT INTO updates VALUES (NEW.id); RETURN NEW; END $$;
        CREATE TRIGGER count_update AFTER UPDATE ON items FOR EACH ROW EXECUTE FUNCTION count_update();
    """,
    )
    expected = query(db_url, "SELECT count(*) FROM items")[0][0]
    project.add("001", '    zdt.batched_backfill("items", set={"b": "a * 2"}, batch_size=500, pause=0.02)\n')
    process = subprocess.Popen(
        project.command("upgrade", "head"), cwd=project.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while query(db_url, "SELECT count(*) FROM items WHERE b IS NOT NULL")[0][0] < expected // 3:
        assert process.poll() is None and time.monotonic() < deadline, "the backfill ended before it could be killed"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done_at_kill = query(db_url, "SELECT count(*) FROM items WHERE b IS NOT NULL")[0][0]
    assert 0 < done_at_kill < expected
    assert query(db_url, "SELECT version_num FROM alembic_version") == []  # the revision did not finish

    again = project.upgrade()
    assert again.returncode == 0, again.stderr
    assert query(db_url, "SELECT count(*) FROM items WHERE b IS DISTINCT FROM a * 2") == [(0,)]
    total, distinct = query(db_url, "SELECT count(*), count(DISTINCT id) FROM updates")[0]
    assert total == distinct == expected  # every row updated exactly once across both runs
    assert query(db_url, "SELECT version_num FROM alembic_version") == [("001",)]


def test_dual_write_keeps_both_columns_equal_under_concurrent_writers(project, db_url):
    execute(
        db_url,
        "CREATE TABLE accounts (id serial PRIMARY KEY, old_name text, new_name text);"
        "INSERT INTO accounts (old_name) SELECT 'n' || g FROM generate_series(1, 200) g;",
    )
    project.add(
        "001",
        '    zdt.dual_write("accounts", "old_name", "new_name")\n'
        '    zdt.batched_backfill("accounts", set={"new_name": "old_name"}, batch_size=50)\n',
    )
    assert project.upgrade().returncode == 0
    errors = []

    def writer(column: str, seed: int) -> None:
        rng = random.Random(seed)
        conn = psycopg2.connect(db_url)
        conn.autocommit = True
        try:
            for i in range(300):
                cursor = conn.cursor()
                if i % 10 == 0:
                    cursor.execute(f"INSERT INTO accounts ({column}) VALUES (%s)", (f"{column}-new-{seed}-{i}",))
                else:
                    cursor.execute(
                        f"UPDATE accounts SET {column} = %s WHERE id = %s", (f"{column}-{seed}-{i}", rng.randint(1, 40))
                    )
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            conn.close()

    threads = [
        threading.Thread(target=writer, args=(column, seed)) for seed, column in enumerate(["old_name", "new_name"] * 2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert query(db_url, "SELECT count(*) FROM accounts WHERE old_name IS DISTINCT FROM new_name") == [(0,)]
    assert query(db_url, "SELECT count(*) FROM accounts")[0][0] == 200 + 4 * 30
    assert query(db_url, "SELECT count(*) FROM accounts WHERE new_name LIKE 'old_name-%'")[0][0] > 0  # both sides wrote
    assert query(db_url, "SELECT count(*) FROM accounts WHERE old_name LIKE 'new_name-%'")[0][0] > 0


def test_safe_not_null_and_concurrent_index_inside_alembic(project, db_url):
    execute(
        db_url,
        "CREATE TABLE t (id serial PRIMARY KEY, v int); INSERT INTO t (v) SELECT g FROM generate_series(1, 1000) g;",
    )
    project.add(
        "001",
        '    zdt.add_not_null_safely("t", "v")\n    zdt.create_index_concurrently("ix_t_v", "t", ["v"])\n',
        '    zdt.drop_index_concurrently("ix_t_v")\n    op.alter_column("t", "v", nullable=True)\n',
    )
    done = project.upgrade()
    assert done.returncode == 0, done.stderr
    assert query(db_url, "SELECT attnotnull FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'v'") == [
        (True,)
    ]
    assert query(db_url, "SELECT conname FROM pg_constraint WHERE conrelid = 't'::regclass AND contype = 'c'") == []
    assert query(db_url, "SELECT indisvalid FROM pg_index WHERE indexrelid = 'ix_t_v'::regclass") == [(True,)]
    down = subprocess.run(project.command("downgrade", "base"), cwd=project.root, capture_output=True, text=True)
    assert down.returncode == 0, down.stderr
    assert query(db_url, "SELECT to_regclass('ix_t_v')") == [(None,)]


def test_safe_not_null_refuses_a_null_and_leaves_no_constraint_behind(project, db_url):
    execute(db_url, "CREATE TABLE t (id serial PRIMARY KEY, v int); INSERT INTO t (v) VALUES (1), (NULL);")
    project.add("001", '    zdt.add_not_null_safely("t", "v")\n')
    done = project.upgrade()
    assert done.returncode != 0
    assert 'check constraint "t_v_not_null" of relation "t" is violated by some row' in done.stderr
    assert query(db_url, "SELECT count(*) FROM pg_constraint WHERE conrelid = 't'::regclass AND contype = 'c'") == [
        (0,)
    ]


def test_ddl_retries_past_a_lock_instead_of_queueing_behind_it(project, db_url):
    execute(db_url, "CREATE TABLE t (id serial PRIMARY KEY)")
    project.add(
        "001",
        '    attempts = zdt.retry_on_lock_timeout("ALTER TABLE t ADD COLUMN c int", timeout="200ms", backoff=0.2)\n'
        '    print("attempts", attempts)\n',
    )
    holder = psycopg2.connect(db_url)
    holder.cursor().execute("LOCK TABLE t IN ACCESS SHARE MODE")
    threading.Timer(3.0, holder.rollback).start()  # long past the first attempts, on a loaded machine too
    try:
        done = project.upgrade()
    finally:
        time.sleep(0.1)
        holder.close()
    assert done.returncode == 0, done.stderr
    attempts = int(done.stdout.split("attempts", 1)[1].split()[0])
    assert attempts >= 2  # it let go of the queue and came back
    assert query(
        db_url, "SELECT count(*) FROM information_schema.columns WHERE table_name = 't' AND column_name = 'c'"
    ) == [(1,)]


def test_feature_flag_switches_reads_without_restart_or_schema_change(demo, monkeypatch):
    sys.path.insert(0, str(demo.root / "migrations"))
    try:
        from demo_app import products
    finally:
        sys.path.pop(0)
    from conftest import upgrade
    from planrun.plugins.pg.fingerprint import schema_fingerprint

    upgrade(demo.root / "migrations" / "alembic.ini", demo.url, "002")
    conn = psycopg2.connect(demo.url)
    schema_before = schema_fingerprint(conn)
    engine = create_engine(demo.url.replace("postgresql://", "postgresql+psycopg2://", 1), poolclass=NullPool)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with engine.begin() as db:
        monkeypatch.setenv("USE_NEW_DESCRIPTION", "false")
        products.set_description(db, 1, "written by the old version")
        assert products.get_description(db, 1) == "written by the old version"
        assert "description_new" not in " ".join(statements)
        statements.clear()
        monkeypatch.setenv("USE_NEW_DESCRIPTION", "true")  # flipped in the running process
        assert products.get_description(db, 1) == "written by the old version"  # the trigger copied it
        products.set_description(db, 2, "written by the new version")
        new_id = products.add_product(db, "BK-9", "New", 100, "added by the new version")
        assert all("description_new" in s for s in statements if "description" in s)
        statements.clear()
        monkeypatch.setenv("USE_NEW_DESCRIPTION", "false")
        assert products.get_description(db, 2) == "written by the new version"
        assert products.get_description(db, new_id) == "added by the new version"
        assert not any("description_new" in s for s in statements)
    engine.dispose()
    assert schema_fingerprint(conn) == schema_before
    conn.close()
