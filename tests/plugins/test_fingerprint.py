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
