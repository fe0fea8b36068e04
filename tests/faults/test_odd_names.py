"""Any name PostgreSQL allows, planrun protects (issue 26, item 3): schemas and tables named with
dots, spaces, quotes, capitals, commas and non-ASCII letters, in a UTF8, a LATIN1 and an
SQL_ASCII database, through the backup, its verification, a scoped and a whole-database
restore, and the rollback's proof. Each must come back exactly, or be refused before anything
changes with a message naming the object, never exit 3 half-way.

The oracle is independent of planrun's fingerprints and of psycopg2's decoding: ``psql`` prints
every row of every user table as bytes (``\\gexec`` over the catalog), sorted."""

from __future__ import annotations

import shutil
import subprocess
import uuid

import pytest

from conftest import ROOT, upgrade, write_revision

ENCODINGS = {"UTF8": "utf-8", "LATIN1": "latin-1", "SQL_ASCII": "latin-1"}

SETUP = (
    'CREATE SCHEMA "odd.schema"; '
    'CREATE TABLE "odd.schema"."tab.le" (id int PRIMARY KEY, "a,b" text, "sp ace" text, "q""uote" text, '
    '"Größe" int); '
    # a table another references is merged through a staging table (its columns named by the catalog)
    'CREATE TABLE "odd.schema"."child, too" (id int PRIMARY KEY, parent int REFERENCES "odd.schema"."tab.le"); '
    'CREATE TABLE "Sp ace"."Tä, ble" (id int PRIMARY KEY, note text)'
)
ROWS = (
    "INSERT INTO \"odd.schema\".\"tab.le\" VALUES (1, 'x,y', 'a b', 'q\"q', 1), (2, 'ü', '', NULL, 2); "
    'INSERT INTO "odd.schema"."child, too" VALUES (1, 1); '
    "INSERT INTO \"Sp ace\".\"Tä, ble\" VALUES (1, 'é'), (2, 'line\nbreak')"
)
CHANGE = (
    'UPDATE "odd.schema"."tab.le" SET "a,b" = \'changed\', "sp ace" = NULL WHERE id > 0; '
    'DELETE FROM "Sp ace"."Tä, ble" WHERE id = 2'
)
# psycopg2 cannot send non-ASCII text to an SQL_ASCII database: there, the table is found by oid
# (and the backup's scope falls back to the whole database, as a DO block may change any table)
ASCII_CHANGE = (
    'UPDATE "odd.schema"."tab.le" SET "a,b" = \'changed\', "sp ace" = NULL WHERE id > 0; '
    "DO $$ DECLARE t regclass; BEGIN SELECT c.oid INTO t FROM pg_class c JOIN pg_namespace n "
    "ON n.oid = c.relnamespace WHERE n.nspname = 'Sp ace'; EXECUTE format('DELETE FROM %s WHERE id = 2', t); END $$"
)


def contents(cluster, database: str, encoding: str) -> list[bytes]:
    """Every row of every user table (planrun's own records and the version table aside), as the
    bytes psql prints, sorted."""
    listing = (
        "SELECT format('SELECT %L, t::text FROM %s t', c.oid::regclass, c.oid::regclass) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' "
        "AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'planrun') AND n.nspname NOT LIKE 'pg_%' "
        "AND c.relname <> 'alembic_version' \\gexec"
    )
    done = subprocess.run(
        ["psql", "-X", "-At", "-0", "-v", "ON_ERROR_STOP=1", "-d", cluster.url(database)],
        input=listing.encode(encoding),
        capture_output=True,
        env={"PGCLIENTENCODING": "SQL_ASCII" if encoding == "latin-1" else "UTF8", "PATH": "/usr/bin:/bin"},
        check=True,
    )
    return sorted(row for row in done.stdout.split(b"\0") if row.strip())


@pytest.fixture(params=sorted(ENCODINGS))
def encoded(request, pg_cluster, tmp_path, monkeypatch):
    """A database in the encoding, holding the odd names, at revision a1 with its rows."""
    encoding = request.param
    name = "odd_" + uuid.uuid4().hex[:10]
    pg_cluster.execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING '{encoding}' LC_COLLATE 'C' LC_CTYPE 'C'")
    url = pg_cluster.url(name)
    python_encoding = ENCODINGS[encoding]
    root = tmp_path / "project"
    shutil.copytree(ROOT / "migrations", root, ignore=shutil.ignore_patterns("__pycache__", "versions"))
    (root / "versions").mkdir()
    setup = SETUP.replace('CREATE TABLE "Sp ace"', 'CREATE SCHEMA "Sp ace"; CREATE TABLE "Sp ace"')
    write_revision(root / "versions", "a1", None, "    pass\n")
    change = ASCII_CHANGE if encoding == "SQL_ASCII" else CHANGE
    write_revision(root / "versions", "a2", "a1", f"    op.execute({change!r})\n")
    upgrade(root / "alembic.ini", url, "a1")
    subprocess.run(  # the names and rows in the database's own bytes (psycopg2 cannot write them in SQL_ASCII)
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url],
        input=(setup + "; " + ROWS).encode(python_encoding),
        env={"PGCLIENTENCODING": "LATIN1" if encoding != "UTF8" else "UTF8", "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
    )
    monkeypatch.setenv("DATABASE_URL", url)
    yield pg_cluster, name, python_encoding, root
    pg_cluster.drop_database(name)


def _plan(root, scope: str, strategy: str, verify: str) -> str:
    plan = root / "plan.yaml"
    plan.write_text(
        "version: 1\nname: odd\ntarget: {url: '${DATABASE_URL}', alembic: {config: alembic.ini}}\n"
        "migrate: {to: a2}\n"
        f"backup: {{to: '{root}/backups/{{run_id}}/', scope: '{scope}', verify: {verify}}}\n"
        f"rollback: {{strategy: {strategy}}}\n"
        "checks:\n  post:\n    - {name: the release is refused, sql: 'SELECT 1', expect: 2}\n"
    )
    return plan


@pytest.mark.parametrize(
    "scope, strategy, verify",
    [("touched", "downgrade-then-restore", "restore"), ("database", "restore", "read")],
    ids=["scoped", "whole"],
)
def test_odd_names_are_backed_up_restored_and_proven(encoded, run_cli, scope, strategy, verify):
    cluster, database, encoding, root = encoded
    before = contents(cluster, database, encoding)
    assert len(before) == 5 and any("ü".encode(encoding) in row for row in before)
    plan = _plan(root, scope, strategy, verify)
    code, out, err = run_cli("apply", plan, "--yes", "--state-dir", root / "state")
    assert code in (1, 2), out + err  # rolled back and proven, or refused up front: never exit 3
    if code == 2:
        assert "odd.schema" in out + err, out + err  # the refusal names the object
    else:
        assert "proven" in out, out
    assert contents(cluster, database, encoding) == before
