"""The schema and data fingerprints, including the stairway's cache of unchanged tables: every
kind of change must still show."""

from __future__ import annotations

import psycopg2
import pytest

from conftest import execute
from planrun.plugins.pg.fingerprint import data_fingerprint, schema_fingerprint
from planrun.plugins.pg.table_hashes import TableHashes

SETUP = """
CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, qty int);
INSERT INTO items SELECT g, 'item ' || g, g % 5 FROM generate_series(1, 200) g;
CREATE TABLE other (id int PRIMARY KEY);
INSERT INTO other VALUES (1), (2);
"""

CHANGES = {
    "update one row": "UPDATE items SET name = 'changed' WHERE id = 7",
    "delete one row": "DELETE FROM items WHERE id = 7",
    "insert one row": "INSERT INTO items VALUES (1000, 'new', 1)",
    "delete then insert the same count": "DELETE FROM items WHERE id = 7; INSERT INTO items VALUES (7, 'other', 1)",
    "drop a column": "ALTER TABLE items DROP COLUMN qty",
    "add a column with a default": "ALTER TABLE items ADD COLUMN flag bool NOT NULL DEFAULT true",
    "change a column type": "ALTER TABLE items ALTER COLUMN qty TYPE bigint USING qty * 10",
    "truncate and reload the same rows": "CREATE TEMP TABLE keep AS SELECT * FROM items WHERE id <> 3; "
    "TRUNCATE items; INSERT INTO items SELECT * FROM keep",
}


def _data(url, cache):
    conn = psycopg2.connect(url)
    try:
        return data_fingerprint(conn, cache=cache)
    finally:
        conn.close()


@pytest.mark.parametrize("change", CHANGES, ids=lambda c: c.replace(" ", "-"))
def test_cached_data_fingerprint_sees_every_change(db_url, change):
    execute(db_url, SETUP)
    cache = TableHashes()  # nothing watched: unchanged tables are told by a scan
    before = _data(db_url, cache)
    assert _data(db_url, cache) == before  # unchanged: the cache answers
    execute(db_url, CHANGES[change])
    after_cached, after_fresh = _data(db_url, cache), _data(db_url, None)
    assert after_cached == after_fresh
    assert after_cached != before
    assert [line for line in before.differences(after_cached) if "public.other" in line] == []


def test_data_fingerprint_is_independent_of_physical_row_order(db_url):
    execute(db_url, SETUP)
    before = _data(db_url, None)
    execute(db_url, "UPDATE items SET qty = qty WHERE id < 50")  # rows move physically, content stays
    assert _data(db_url, None) == before


def test_data_fingerprint_is_independent_of_column_order(db_url):
    """A downgrade that re-adds a dropped column puts it last; the rows are the same."""
    execute(
        db_url,
        "CREATE TABLE a (id int PRIMARY KEY, name text, qty int); INSERT INTO a VALUES (1, 'x', 2), (2, NULL, 3)",
    )
    before = _data(db_url, None)
    execute(
        db_url,
        "ALTER TABLE a RENAME TO a_old; CREATE TABLE a (qty int, id int PRIMARY KEY, name text); "
        "INSERT INTO a SELECT qty, id, name FROM a_old; DROP TABLE a_old",
    )
    assert _data(db_url, None) == before
    execute(db_url, "UPDATE a SET name = '' WHERE id = 2")  # NULL and '' differ
    assert _data(db_url, None) != before


def test_schema_fingerprint_names_a_leftover_index(db_url):
    execute(db_url, SETUP)
    conn = psycopg2.connect(db_url)
    before = schema_fingerprint(conn)
    execute(db_url, "CREATE INDEX ix_items_name ON items (name)")
    after = schema_fingerprint(conn)
    conn.close()
    assert before.differences(after) == ["added: index public.ix_items_name"]


# every construct whose definition PostgreSQL may print differently once dumped and restored
CONSTRUCTS = """
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE pair AS (a int, b text);
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE DOMAIN code AS varchar(5) CHECK (VALUE IN ('x', 'y'));
CREATE TABLE t (
  id serial PRIMARY KEY,
  status varchar(20) NOT NULL CHECK (status IN ('new', 'open', 'closed')),
  kind text CHECK (kind IN ('a', 'b')),
  m mood CHECK (m IN ('sad', 'ok')),
  c char(3) CHECK (c IN ('abc', 'def')),
  n numeric(10, 2) CHECK (n BETWEEN 0 AND 100),
  p posint,
  k code,
  g int GENERATED ALWAYS AS (id * 2) STORED,
  arr text[] DEFAULT ARRAY['x', 'y'],
  v varchar(10) DEFAULT 'x'
);
CREATE INDEX t_open ON t (status) WHERE status <> ALL (ARRAY['closed', 'gone']);
CREATE INDEX t_open2 ON t (status) WHERE status::text = ANY (ARRAY['new'::varchar, 'open'::varchar]);
CREATE INDEX t_kind ON t (kind) WHERE kind IN ('a', 'b');
CREATE INDEX t_lower ON t (lower(kind));
CREATE INDEX t_mood ON t (m) WHERE m <> ALL (ARRAY['sad'::mood]);
CREATE TABLE ex (room int, during tstzrange, EXCLUDE USING gist (room WITH =, during WITH &&) WHERE (room > 0));
ALTER TABLE t ENABLE ROW LEVEL SECURITY;
CREATE POLICY p1 ON t USING (status IN ('new', 'open'));
CREATE VIEW vv AS SELECT id, status FROM t WHERE status IN ('new', 'open');
"""

# one genuine change per construct: each must still differ
MUTATIONS = {
    "check IN list": "ALTER TABLE t DROP CONSTRAINT t_status_check, "
    "ADD CONSTRAINT t_status_check CHECK (status IN ('new', 'open', 'shut'))",
    "check on text": "ALTER TABLE t DROP CONSTRAINT t_kind_check, ADD CONSTRAINT t_kind_check CHECK (kind IN ('a'))",
    "check on enum": "ALTER TABLE t DROP CONSTRAINT t_m_check, ADD CONSTRAINT t_m_check CHECK (m IN ('ok'))",
    "partial index": "DROP INDEX t_open2; CREATE INDEX t_open2 ON t (status) WHERE status::text = ANY "
    "(ARRAY['new'::varchar, 'gone'::varchar])",
    "enum partial index": "DROP INDEX t_mood; CREATE INDEX t_mood ON t (m) WHERE m <> ALL (ARRAY['ok'::mood])",
    "expression index": "DROP INDEX t_lower; CREATE INDEX t_lower ON t (upper(kind))",
    "exclusion constraint": "ALTER TABLE ex DROP CONSTRAINT ex_room_during_excl, "
    "ADD CONSTRAINT ex_room_during_excl EXCLUDE USING gist (room WITH =, during WITH &&)",
    "generated column": "ALTER TABLE t DROP COLUMN g, ADD COLUMN g int GENERATED ALWAYS AS (id * 3) STORED",
    "domain constraint": "ALTER DOMAIN posint DROP CONSTRAINT posint_check; ALTER DOMAIN posint "
    "ADD CONSTRAINT posint_check CHECK (VALUE > 1)",
    "domain IN list": "ALTER DOMAIN code DROP CONSTRAINT code_check; ALTER DOMAIN code ADD CONSTRAINT code_check "
    "CHECK (VALUE IN ('x', 'z'))",
    "composite type": "ALTER TYPE pair ADD ATTRIBUTE c int",
    "policy": "DROP POLICY p1 ON t; CREATE POLICY p1 ON t USING (status IN ('new'))",
    "row security": "ALTER TABLE t DISABLE ROW LEVEL SECURITY",
    "view": "CREATE OR REPLACE VIEW vv AS SELECT id, status FROM t WHERE status IN ('new', 'closed')",
    "array default": "ALTER TABLE t ALTER COLUMN arr SET DEFAULT ARRAY['x', 'z']",
}


def _schema(url):
    conn = psycopg2.connect(url)
    try:
        return schema_fingerprint(conn)
    finally:
        conn.close()


def _dump_and_restore(pg_cluster, url, name):
    import subprocess

    from planrun.plugins.pg.tools import pg_program

    copy = pg_cluster.create_database(name)
    dump = subprocess.run([pg_program("pg_dump"), "-Fc", url], capture_output=True, check=True).stdout
    subprocess.run([pg_program("pg_restore"), "-d", copy], input=dump, check=True, capture_output=True)
    return copy


def test_schema_fingerprint_is_the_same_after_dump_and_restore(db_url, pg_cluster):
    """PostgreSQL prints ``x IN (...)`` on varchar (constraints, partial indexes, views,
    policies) differently once restored; compared as text, exact restores looked changed."""
    execute(db_url, CONSTRUCTS)
    copy = _dump_and_restore(pg_cluster, db_url, "t_restored_" + db_url.rsplit("_", 1)[-1])
    try:
        original, restored = _schema(db_url), _schema(copy)
        assert original == restored, original.differences(restored)
    finally:
        pg_cluster.drop_database(copy.rsplit("/", 1)[-1])


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_schema_fingerprint_still_sees_a_genuine_change_of_each_construct(db_url, mutation):
    execute(db_url, CONSTRUCTS)
    before = _schema(db_url)
    execute(db_url, MUTATIONS[mutation])
    after = _schema(db_url)
    assert before != after, mutation
    assert before.differences(after)


def test_a_default_varies_unless_it_is_a_constant():
    from planrun.plugins.pg.fingerprint_detail import is_varying

    for default in (
        "now()",
        "CURRENT_TIMESTAMP",
        "gen_random_uuid()",
        "nextval('t_id_seq'::regclass)",
        "(now() AT TIME ZONE 'utc'::text)",
        "CURRENT_USER",
        "timezone('utc'::text, now())",
    ):
        assert is_varying(default, False), default
    for default in (None, "0", "'open'::status", "'now()'::text", "'{}'::jsonb", "true", "'CURRENT_DATE'::text"):
        assert not is_varying(default, False), default
    assert is_varying(None, True)  # an identity column
