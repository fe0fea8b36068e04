"""Locking rules added to the first catalogue: operations that rewrite or lock a whole table
(VACUUM FULL, CLUSTER, REINDEX, LOCK TABLE, REFRESH MATERIALIZED VIEW, DROP INDEX, columns that
fill every row), and the lock-span rules no other linter has: a lock is held until the
transaction commits, so what runs after the statement that took it runs under it."""

from __future__ import annotations

from .rule import Rule

LOCK_RULES = [
    Rule(
        "drop-index-not-concurrently",
        "locking",
        "error",
        "DROP INDEX takes an ACCESS EXCLUSIVE lock on the table: every read and write waits.",
        "zdt.drop_index_concurrently(name) (DROP INDEX CONCURRENTLY, outside the transaction).",
    ),
    Rule(
        "add-column-serial",
        "locking",
        "error",
        "ADD COLUMN of a serial or identity column on an existing table fills every row: the whole table is "
        "rewritten under an ACCESS EXCLUSIVE lock.",
        "Add a nullable bigint column, attach a sequence as its default for new rows, backfill old rows in batches.",
    ),
    Rule(
        "add-column-generated-stored",
        "locking",
        "error",
        "ADD COLUMN ... GENERATED ALWAYS AS (...) STORED on an existing table computes every row: a full rewrite "
        "under an ACCESS EXCLUSIVE lock.",
        "Add a plain column, fill it with a trigger for new rows and zdt.batched_backfill for old ones.",
    ),
    Rule(
        "add-column-required",
        "breaking",
        "error",
        "ADD COLUMN ... NOT NULL without a DEFAULT fails on a table that has rows, and inserts from running code "
        "that does not know the column fail too.",
        "Add it nullable (or with a constant DEFAULT), backfill, then zdt.add_not_null_safely.",
    ),
    Rule(
        "add-primary-key",
        "locking",
        "error",
        "ADD PRIMARY KEY on an existing table builds its index (and checks NOT NULL) while blocking every write.",
        "zdt.create_index_concurrently(..., unique=True), then ADD CONSTRAINT ... PRIMARY KEY USING INDEX.",
    ),
    Rule(
        "concurrently-in-transaction",
        "locking",
        "error",
        "CREATE/DROP INDEX CONCURRENTLY and REINDEX CONCURRENTLY cannot run inside a transaction block: the "
        "migration fails here.",
        "zdt.create_index_concurrently / zdt.drop_index_concurrently, or op.get_context().autocommit_block().",
    ),
    Rule(
        "vacuum-full",
        "locking",
        "error",
        "VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock.",
        "Plain VACUUM (no lock against reads and writes), or pg_repack outside the migration.",
    ),
    Rule(
        "cluster",
        "locking",
        "error",
        "CLUSTER rewrites the table under an ACCESS EXCLUSIVE lock.",
        "Leave physical order to maintenance windows, or use pg_repack outside the migration.",
    ),
    Rule(
        "reindex-not-concurrently",
        "locking",
        "error",
        "REINDEX without CONCURRENTLY blocks writes to the table (and reads that use the index) while it builds.",
        "REINDEX ... CONCURRENTLY, outside the migration's transaction.",
    ),
    Rule(
        "lock-table",
        "locking",
        "error",
        "LOCK TABLE holds its lock until the migration commits: everything after it runs under it.",
        "Let each statement take the lock it needs, briefly; keep long work out of the transaction.",
    ),
    Rule(
        "refresh-matview-not-concurrently",
        "locking",
        "error",
        "REFRESH MATERIALIZED VIEW without CONCURRENTLY blocks every read of the view until it is rebuilt.",
        "REFRESH MATERIALIZED VIEW CONCURRENTLY (needs a unique index on the view).",
    ),
    Rule(
        "statement-under-access-exclusive",
        "locking",
        "warning",  # how long it holds depends on the rows; planrun test --rows measures it (test.max_lock_hold)
        "This statement runs in the same transaction after one that took an ACCESS EXCLUSIVE lock on an existing "
        "table: the lock is held until commit, so every query on that table waits for this statement too.",
        "Commit after the DDL (a revision of its own, or op.get_context().autocommit_block()), and run data "
        "changes in batches (zdt.batched_backfill).",
    ),
    Rule(
        "validate-in-same-transaction",
        "locking",
        "error",
        "VALIDATE CONSTRAINT in the same transaction as its ADD ... NOT VALID scans the table while the ADD's "
        "ACCESS EXCLUSIVE lock is still held: NOT VALID saved nothing.",
        "Validate after a commit: in a later revision, or inside op.get_context().autocommit_block().",
    ),
    Rule(
        "set-schema",
        "breaking",
        "error",
        "SET SCHEMA moves the object: every running instance that names it by its old schema (or finds it "
        "through search_path) breaks.",
        "Create it in the new schema, switch readers and writers (a view under the old name meanwhile), then "
        "drop the old one in a contract plan.",
    ),
    Rule(
        "drop-not-null",
        "breaking",
        "warning",
        "DROP NOT NULL lets NULLs in that the code deployed now may not expect when it reads the column.",
        "Make sure every reader handles NULL before the release that writes one.",
    ),
    Rule(
        "drop-schema",
        "destructive",
        "error",
        "DROP SCHEMA deletes every table in it, and every row.",
        "Move what is still used out first; drop it in a contract plan that allows drop-schema and backs up with "
        "verify: restore.",
    ),
    Rule(
        "json-column",
        "hygiene",
        "warning",
        "json stores text, re-parsed on every read, with no equality operator (no DISTINCT, no unique index).",
        "jsonb.",
    ),
    Rule(
        "timestamp-without-time-zone",
        "hygiene",
        "warning",
        "timestamp without time zone stores wall-clock time with no zone: the same instant reads differently from "
        "servers or sessions in other zones, and daylight-saving hours repeat.",
        "timestamptz (sa.DateTime(timezone=True)).",
    ),
]
