"""Shared fixtures: a real throwaway PostgreSQL cluster for the session, a fresh database per
test, and helpers to run the CLI in-process and read table contents."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg2
import pytest

from planrun.plugins.clusters.cluster import TempCluster

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent / "thirdparty"))
sys.path.insert(0, str(Path(__file__).parent / "faults"))  # the fault suite's helpers (faults.py), for every test
# every journal record must be a declared event with its declared fields (planrun.engine.journal_events):
# a word no reader can rely on fails the test that records it, in this process and the CLI's children
os.environ["PLANRUN_STRICT_EVENTS"] = "1"


@pytest.fixture(scope="session")
def pg_cluster():
    """A PostgreSQL cluster started with initdb/pg_ctl in a temp folder, on a free port."""
    cluster = TempCluster()
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def db_url(pg_cluster, request):
    """A fresh, empty database for this test; its URL carries the superuser's password."""
    name = "t_" + uuid.uuid4().hex[:12]
    url = pg_cluster.create_database(name)
    yield url
    pg_cluster.drop_database(name)


def copy_demo_migrations(target: Path, contract: bool = False) -> Path:
    """The demo Alembic project, by default without its contract revision (003), so that tests
    can add revisions of their own after the expand step (002)."""
    ignored = ["__pycache__"] + ([] if contract else ["003_*"])
    shutil.copytree(ROOT / "migrations", target, ignore=shutil.ignore_patterns(*ignored))
    return target


@pytest.fixture
def demo(tmp_path, db_url, monkeypatch):
    """The demo project copied to a temp folder (without the contract revision, so tests may
    add revisions after 002; the demo plan migrates to head), its database at the base revision
    with the sample data loaded, DATABASE_URL set, and a state dir."""
    project = tmp_path / "project"
    copy_demo_migrations(project / "migrations")
    shutil.copytree(ROOT / "plans", project / "plans")
    demo_plan = project / "plans" / "demo.yaml"
    demo_plan.write_text(re.sub(r'(?m)^  to: "002".*$', "  to: head", demo_plan.read_text()))
    monkeypatch.setenv("DATABASE_URL", db_url)
    upgrade(project / "migrations" / "alembic.ini", db_url, "000")
    execute(db_url, (ROOT / "tests" / "fixtures" / "sample_data.sql").read_text())
    return DemoProject(project, db_url, str(tmp_path / "state"))


# The default downgrade of a test revision whose upgrade leaves nothing to undo (a sleep, a
# failure): a statement that changes nothing (an empty one would be an empty downgrade, and one
# marked `allow empty-downgrade` is irreversible: the stairway would treat it so).
NOTHING_TO_UNDO = '    op.execute("SELECT 1")  # nothing to undo\n'


def write_revision(
    versions: Path, revision: str, down: str | None, upgrade_body: str, downgrade_body: str = NOTHING_TO_UNDO
) -> Path:
    """A revision file ``{revision}_test.py`` whose functions have the given (indented) bodies."""
    path = versions / f"{revision}_test.py"
    path.write_text(
        f'"""test revision {revision}"""\nfrom alembic import op\nimport sqlalchemy as sa\n\n'
        "from planrun import zdt\n\n"
        f"revision = {revision!r}\ndown_revision = {down!r}\nbranch_labels = None\ndepends_on = None\n\n\n"
        f"def upgrade():\n{upgrade_body}\n\ndef downgrade():\n{downgrade_body}\n"
    )
    return path


class DemoProject:
    def __init__(self, root: Path, url: str, state_dir: str):
        self.root, self.url, self.state_dir = root, url, state_dir
        self.plan = root / "plans" / "demo.yaml"
        self.versions = root / "migrations" / "versions"

    def add_revision(self, revision: str, down: str, upgrade_body: str, downgrade_body: str = NOTHING_TO_UNDO) -> Path:
        return write_revision(self.versions, revision, down, upgrade_body, downgrade_body)

    def write_plan(self, text: str, name: str = "test.yaml") -> Path:
        path = self.root / "plans" / name
        path.write_text(text)
        return path


def planrun_process(*args, cwd: Path | None = None, env: dict | None = None) -> tuple[int, str]:
    """``planrun ARGS`` in a process of its own (its exit code, stdout + stderr): for what must
    not outlive one command in-process (an application's modules once set up, logging handlers
    env.py's fileConfig made, the supervising parent of apply)."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / "planrun"), *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )
    return done.returncode, done.stdout + done.stderr


def upgrade(ini: Path, url: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    previous = os.getcwd()
    os.chdir(ini.parent)
    try:
        config = Config(str(ini))
        config.set_main_option(
            "sqlalchemy.url", url.replace("postgresql://", "postgresql+psycopg2://", 1).replace("%", "%%")
        )
        command.upgrade(config, revision)
    finally:
        os.chdir(previous)


def execute(url: str, sql: str) -> None:
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute(sql)
    finally:
        conn.close()


def query(url: str, sql: str, params=None) -> list[tuple]:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    finally:
        conn.close()


def schema_of(url: str):
    """The schema fingerprint of the database at ``url``."""
    from planrun.plugins.pg.fingerprint import schema_fingerprint

    conn = psycopg2.connect(url)
    try:
        return schema_fingerprint(conn)
    finally:
        conn.close()


def table_contents(url: str) -> dict[str, list[tuple]]:
    """Every user table's rows and columns, of every schema, sorted, straight from SELECT *
    (independent of planrun's fingerprints; any name PostgreSQL allows). planrun's own records
    (its history schema, marked by its comment) are bookkeeping, not data."""
    tables = query(
        url,
        "SELECT n.nspname || '.' || c.relname, quote_ident(n.nspname) || '.' || quote_ident(c.relname) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp%%' "
        "AND c.relname <> 'alembic_version' "
        "AND COALESCE(obj_description(n.oid, 'pg_namespace'), '') NOT LIKE 'planrun history store%%' ORDER BY 1",
    )
    contents = {}
    for table, quoted in tables:
        columns = query(
            url,
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            (quoted,),
        )
        # bytea comes back as memoryview, whose repr (the sort key) is its address: compare bytes
        rows = [
            tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
            for row in query(url, f"SELECT * FROM {quoted}")
        ]
        contents[table] = {"columns": columns, "rows": sorted(rows, key=repr)}
    return contents


def current_revision(url: str) -> list[str]:
    return [r for (r,) in query(url, "SELECT version_num FROM alembic_version")]


@pytest.fixture
def run_cli(capsys):
    """Run ``planrun ARGS`` in-process; returns (exit code, stdout, stderr)."""
    from planrun.engine.cli import main

    def run(*args: str):
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


class MotoServer:
    """moto's standalone S3 server on 127.0.0.1, as its own process."""

    def __init__(self):
        from planrun.plugins.clusters.cluster import free_port

        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        moto_server = Path(sys.executable).parent / "moto_server"
        self.process = subprocess.Popen(
            [str(moto_server), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        from planrun.plugins.clusters.cluster import wait_for

        if not wait_for(self._answers, timeout=30, interval=0.1):
            self.stop()
            raise RuntimeError("moto_server did not start")

    def _answers(self) -> bool:
        import socket

        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    @property
    def storage_options(self) -> dict:
        return {
            "key": "testing",
            "secret": "testing",
            "client_kwargs": {"endpoint_url": self.endpoint, "region_name": "us-east-1"},
            "config_kwargs": {"connect_timeout": 1, "read_timeout": 5, "retries": {"max_attempts": 1}},
            "skip_instance_cache": True,
        }

    def filesystem(self):
        import s3fs

        return s3fs.S3FileSystem(**self.storage_options)

    def create_bucket(self, name: str) -> None:
        import boto3

        boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ).create_bucket(Bucket=name)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture(scope="session")
def moto():
    server = MotoServer()
    server.create_bucket("planrun-test")
    yield server
    server.stop()


@pytest.fixture
def stoppable_moto():
    server = MotoServer()
    server.create_bucket("planrun-test")
    yield server
    if server.process.poll() is None:
        server.stop()


@pytest.fixture
def recorder():
    """A local HTTP server that records what notifiers send it."""
    from recorder import Recorder

    server = Recorder()
    yield server
    server.close()
