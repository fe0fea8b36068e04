"""The catalogue of lint rules: each with an id, a category, a default severity, the reason in
one line and the safe alternative. README's rule table is printed from here
(``planrun lint --rules``), so the doc entry and the rule cannot drift apart."""

from __future__ import annotations

from .lock_rules import LOCK_RULES
from .rule import Rule

RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in [
        Rule(
            "drop-table",
            "destructive",
            "error",
            "DROP TABLE deletes the table and every row in it.",
            "Stop reading and writing it first; drop it in a contract plan that allows drop-table and backs up with "
            "verify: restore.",
        ),
        Rule(
            "drop-column",
            "destructive",
            "error",
            "DROP COLUMN deletes the column's data, and running code that still reads it breaks.",
            "Expand/contract: stop reading the column (feature flag), then drop it in a contract plan that allows "
            "drop-column and backs up with verify: restore.",
        ),
        Rule(
            "truncate",
            "destructive",
            "error",
            "TRUNCATE deletes every row at once, under an ACCESS EXCLUSIVE lock.",
            "Delete in batches with a WHERE clause, in a plan that allows truncate and backs up with verify: restore.",
        ),
        Rule(
            "delete-without-where",
            "destructive",
            "error",
            "DELETE without WHERE removes every row of the table.",
            "Add a WHERE clause naming the rows; delete large sets in batches.",
        ),
        Rule(
            "update-without-where",
            "destructive",
            "error",
            "UPDATE without WHERE rewrites every row in one transaction, holding every row lock until it commits.",
            "zdt.batched_backfill(table, set=..., where=...): primary-key ranges, each batch committed.",
        ),
        Rule(
            "create-index-not-concurrently",
            "locking",
            "error",
            "CREATE INDEX on an existing table blocks every write to it until the index is built.",
            "zdt.create_index_concurrently(name, table, columns) (CREATE INDEX CONCURRENTLY, outside the transaction).",
        ),
        Rule(
            "alter-column-type",
            "locking",
            "error",
            "ALTER COLUMN ... TYPE rewrites the table (and its indexes) under an ACCESS EXCLUSIVE lock, except for "
            "binary-compatible changes.",
            "Add a new column of the new type, dual-write, backfill in batches, switch readers, drop the old column; "
            "or allow with a reason when the change is binary-compatible (varchar(n) -> varchar(m > n) or text).",
        ),
        Rule(
            "set-not-null",
            "locking",
            "error",
            "SET NOT NULL on an existing column scans the whole table under an ACCESS EXCLUSIVE lock.",
            "zdt.add_not_null_safely(table, column): CHECK (col IS NOT NULL) NOT VALID, VALIDATE (no write lock), "
            "SET NOT NULL (no scan), drop the CHECK.",
        ),
        Rule(
            "add-foreign-key-validated",
            "locking",
            "error",
            "ADD FOREIGN KEY without NOT VALID checks every row while blocking writes to both tables.",
            "ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID, then VALIDATE CONSTRAINT in a later statement (it takes a "
            "weaker lock).",
        ),
        Rule(
            "add-check-validated",
            "locking",
            "error",
            "ADD CHECK without NOT VALID scans the table under an ACCESS EXCLUSIVE lock.",
            "ADD CONSTRAINT ... CHECK (...) NOT VALID, then VALIDATE CONSTRAINT.",
        ),
        Rule(
            "add-column-volatile-default",
            "locking",
            "error",
            "ADD COLUMN with a volatile DEFAULT (random(), gen_random_uuid(), clock_timestamp()...) rewrites the "
            "whole table.",
            "Add the column without a default (or with a constant one), set the default for new rows, backfill old "
            "rows in batches.",
        ),
        Rule(
            "add-unique-constraint",
            "locking",
            "error",
            "ADD UNIQUE builds its index while blocking writes to the table.",
            "zdt.create_index_concurrently(..., unique=True), then ADD CONSTRAINT ... UNIQUE USING INDEX.",
        ),
        Rule(
            "rename-column",
            "breaking",
            "error",
            "RENAME COLUMN breaks every running instance that still uses the old name.",
            "Add the new column, dual-write (zdt.dual_write), switch readers, then drop the old one in a contract "
            "plan.",
        ),
        Rule(
            "rename-table",
            "breaking",
            "error",
            "RENAME TABLE breaks every running instance that still uses the old name.",
            "Create the new table (or a view under the new name), switch readers and writers, then drop the old one.",
        ),
        Rule(
            "drop-recent-column",
            "breaking",
            "error",
            "This drops a column that an earlier revision of the same release added: code deployed with that "
            "revision may already use it.",
            "Ship the drop in a later release, after no running code reads the column.",
        ),
        Rule(
            "empty-downgrade",
            "rollback",
            "error",
            "The downgrade does nothing: a failed deploy of this revision cannot be rolled back by downgrade.",
            "Write the downgrade that undoes the upgrade (planrun test proves it leaves no trace).",
        ),
        Rule(
            "downgrade-drops-data",
            "rollback",
            "error",
            "The downgrade drops a table or column the upgrade did not create: rolling back deletes data that "
            "existed before.",
            "Make the downgrade undo only what the upgrade did; keep pre-existing data.",
        ),
        Rule(
            "not-linted",
            "hygiene",
            "warning",
            "This revision's SQL could not be rendered offline or parsed, so planrun could not check it.",
            "Make the revision work in offline mode (no reads from the database in upgrade/downgrade), or review it "
            "by hand.",
        ),
        Rule(
            "missing-lock-timeout",
            "hygiene",
            "warning",
            "This revision takes an ACCESS EXCLUSIVE lock with no lock_timeout: behind one long transaction, every "
            "query on the table queues behind it.",
            "Set migrate.lock_timeout in the plan, or SET lock_timeout in the revision, or use "
            "zdt.retry_on_lock_timeout.",
        ),
        *LOCK_RULES,
    ]
}


def catalogue_markdown() -> str:
    lines = ["| rule | category | default | why | instead |", "|---|---|---|---|---|"]
    for rule in RULES.values():
        lines.append(f"| `{rule.id}` | {rule.category} | {rule.severity} | {rule.reason} | {rule.alternative} |")
    return "\n".join(lines)
