"""Ranking findings by the size of the table they touch on a live database, with a rough
estimate of how long the lock or rewrite would last there.

The rates are deliberately modest figures for a 2-core machine with an SSD (this project's
own test machine reads a cold table at ~300 MB/s and rewrites at ~100 MB/s); they give an
order of magnitude for review, not a promise.
"""

from __future__ import annotations

SCAN_BYTES_PER_SECOND = 300e6
REWRITE_BYTES_PER_SECOND = 100e6
INDEX_BYTES_PER_SECOND = 60e6
UPDATE_ROWS_PER_SECOND = 100e3

_KIND = {
    "alter-column-type": ("rewrite", "ACCESS EXCLUSIVE"),
    "add-column-volatile-default": ("rewrite", "ACCESS EXCLUSIVE"),
    "set-not-null": ("scan", "ACCESS EXCLUSIVE"),
    "add-check-validated": ("scan", "ACCESS EXCLUSIVE"),
    "add-foreign-key-validated": ("scan", "SHARE ROW EXCLUSIVE"),
    "create-index-not-concurrently": ("index", "SHARE"),
    "add-unique-constraint": ("index", "SHARE"),
    "update-without-where": ("update", "row locks on every row"),
    "delete-without-where": ("update", "row locks on every row"),
    "truncate": ("instant", "ACCESS EXCLUSIVE"),
    "drop-table": ("instant", "ACCESS EXCLUSIVE"),
    "drop-column": ("instant", "ACCESS EXCLUSIVE"),
}


def rank(findings, conn) -> None:
    """Fill ``size`` and ``estimate`` of each finding whose table exists; sort largest first."""
    sizes = {}
    for table in {f.table for f in findings if f.table}:
        with conn.cursor() as cursor:
            cursor.execute(
                "SELECT pg_total_relation_size(c.oid), GREATEST(c.reltuples, 0)::bigint FROM pg_class c "
                "WHERE c.oid = to_regclass(%s)",
                (table,),
            )
            row = cursor.fetchone()
        if row:
            sizes[table] = row
    for finding in findings:
        if finding.table in sizes:
            size, rows = sizes[finding.table]
            finding.size = size
            finding.estimate = _estimate(finding.rule, size, rows)
    findings.sort(key=lambda f: -(f.size or -1))


def _estimate(rule: str, size: int, rows: int) -> str | None:
    kind, lock = _KIND.get(rule, (None, None))
    if kind is None:
        return None
    seconds = {
        "rewrite": size / REWRITE_BYTES_PER_SECOND,
        "scan": size / SCAN_BYTES_PER_SECOND,
        "index": size / INDEX_BYTES_PER_SECOND,
        "update": rows / UPDATE_ROWS_PER_SECOND,
        "instant": 0.0,
    }[kind]
    if kind == "instant":
        return f"{lock} lock, brief once granted (~{rows} rows affected)"
    return f"~{seconds:.1f}s holding {lock} ({rows} rows)"
