"""The stairway's write watch: the tables a migration's transactions wrote to, read before each
commit, and the fingerprint cache that trusts it. Every way a table's rows can change must be
seen (or the watch must say it cannot tell), since an unseen write would hide a lossy downgrade."""

from __future__ import annotations

import psycopg2
import pytest
from sqlalchemy import create_engine, pool, text

from conftest import execute
from planrun.plugins.pg.fingerprint import data_fingerprint
from planrun.plugins.pg.table_hashes import TableHashes
from planrun.plugins.pg.write_watch import watch_writes

SETUP = """
CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, qty int);
INSERT INTO items SELECT g, 'item ' || g, g % 5 FROM generate_series(1, 200) g;
CREATE TABLE audit (id serial PRIMARY KEY, item int);
CREATE FUNCTION audit_item() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN INSERT INTO audit (item) VALUES (NEW.id); RETURN NEW; END $$;
CREATE TABLE tagged (id int PRIMARY KEY, label text);
CREATE TRIGGER tagged_audit AFTER UPDATE ON tagged FOR EACH ROW EXECUTE FUNCTION audit_item();
INSERT INTO tagged VALUES (1, 'a'), (2, 'b');
CREATE TABLE events (id int, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO events VALUES (1, '2026-03-01');
CREATE TABLE untouched (id int PRIMARY KEY);
INSERT INTO untouched VALUES (1);
"""

WRITES = {
    "update": ("UPDATE items SET name = 'changed' WHERE id = 7", {"public.items"}),
    "delete": ("DELETE FROM items WHERE id = 7", {"public.items"}),
    "insert": ("INSERT INTO items VALUES (1000, 'new', 1)", {"public.items"}),
    "a trigger's write": ("UPDATE tagged SET label = 'c' WHERE id = 1", {"public.tagged", "public.audit"}),
    "a partition's row, seen on its parent": (
        "INSERT INTO events VALUES (2, '2026-05-01')",
        {"public.events", "public.events_2026"},
    ),
}


def _engine(url: str, **options):
    return create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1), poolclass=pool.NullPool, **options)


def _data(url: str, cache: TableHashes | None):
    conn = psycopg2.connect(url)
    try:
        return data_fingerprint(conn, cache=cache)
    finally:
        conn.close()


@pytest.mark.parametrize("write", WRITES, ids=lambda w: w.replace(" ", "-").replace("'", ""))
def test_watch_names_the_tables_a_commit_wrote_and_the_cache_rehashes_them(db_url, write):
    execute(db_url, SETUP)
    cache = TableHashes(watched=True)
    before = _data(db_url, cache)
    sql, expected = WRITES[write]
    engine = _engine(db_url)
    with watch_writes() as watch, engine.begin() as connection:
        connection.execute(text(sql))
    engine.dispose()
    assert watch.written() == expected
    cache.written(watch.written())
    after = _data(db_url, cache)
    assert after == _data(db_url, None)  # what a fresh, uncached fingerprint says
    assert after != before
    assert [line for line in before.differences(after) if "untouched" in line] == []


def test_a_rolled_back_transaction_wrote_nothing(db_url):
    execute(db_url, SETUP)
    engine = _engine(db_url)
    with watch_writes() as watch, engine.connect() as connection:
        connection.execute(text("DELETE FROM items"))
        connection.rollback()
    engine.dispose()
    assert watch.written() == set()


def test_autocommit_statements_leave_the_watch_unsure_and_the_cache_scans(db_url):
    execute(db_url, SETUP)
    cache = TableHashes(watched=True)
    before = _data(db_url, cache)
    engine = _engine(db_url, isolation_level="AUTOCOMMIT")
    with watch_writes() as watch, engine.connect() as connection:
        connection.execute(text("DELETE FROM items WHERE id = 7"))
    engine.dispose()
    assert watch.written() is None
    cache.written(watch.written())
    after = _data(db_url, cache)
    assert after != before and after == _data(db_url, None)


def test_a_watched_cache_trusts_what_it_is_told(db_url):
    """The other side of the bargain: a write the watch did not see is not looked for (the
    stairway routes every write through the watch, fixtures say 'unknown')."""
    execute(db_url, SETUP)
    cache = TableHashes(watched=True)
    before = _data(db_url, cache)
    execute(db_url, "DELETE FROM items WHERE id = 7")
    assert _data(db_url, cache) == before
    cache.written(None)
    assert _data(db_url, cache) != before


@pytest.mark.parametrize("change", ["TRUNCATE items", "ALTER TABLE items DROP COLUMN qty"])
def test_truncate_and_column_changes_are_seen_without_the_watch(db_url, change):
    """A TRUNCATE counts no deleted rows and a dropped column writes none: the table's files
    and column list tell instead."""
    execute(db_url, SETUP)
    cache = TableHashes(watched=True)
    before = _data(db_url, cache)
    execute(db_url, change)
    after = _data(db_url, cache)
    assert after != before and after == _data(db_url, None)


def test_a_failing_look_into_the_transaction_never_breaks_the_migrations_commit(db_url, monkeypatch):
    from planrun.plugins.pg import write_watch

    execute(db_url, SETUP)
    monkeypatch.setattr(write_watch, "WRITTEN_TABLES", "SELECT no_such_column FROM pg_class")
    engine = _engine(db_url)
    with watch_writes() as watch, engine.begin() as connection:
        connection.execute(text("DELETE FROM items WHERE id = 7"))
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM items")).scalar() == 199  # committed
    engine.dispose()
    assert watch.written() is None
