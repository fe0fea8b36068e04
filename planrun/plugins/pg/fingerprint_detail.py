"""What the stairway adds to a table's data fingerprint line, so a difference can be named and
a seed row filled by ``now()`` is not called a failure:

- ``varying a, b``: the columns whose values come from a default that is not a constant
  (``now()``, ``CURRENT_TIMESTAMP``, ``gen_random_uuid()``, a sequence, an identity), and
  ``steady H``: the hash of every row without them. Upgraded twice, such a column holds new
  values by nature; the repeatability comparison uses the steady hash for it (the column's
  presence, type and count of values are still compared).
- for a table of at most :data:`DETAIL_ROWS` rows, ``columns a=H, b=H`` (a hash of each
  column's values) and ``rows H H ...`` (each row's hash, without the varying columns), so
  "values changed in place" can say which columns and how many rows.

Only the stairway asks for it (scratch data); a backup's manifest keeps the plain line.
"""

from __future__ import annotations

import re

from .connect import query_all, quote_ident

DETAIL_ROWS = 1000

_QUOTED = re.compile(r"'(?:[^']|'')*'")
_CALL = re.compile(r"\w\s*\(")
_VALUE_FUNCTION = re.compile(
    r"\b(CURRENT_DATE|CURRENT_TIME|CURRENT_TIMESTAMP|LOCALTIME|LOCALTIMESTAMP|CURRENT_USER|SESSION_USER|"
    r"CURRENT_ROLE|CURRENT_CATALOG|CURRENT_SCHEMA|USER)\b",
    re.I,
)


def is_varying(default: str | None, identity: bool) -> bool:
    """Whether a column default (as ``pg_get_expr`` prints it) can give another value each time:
    anything but a constant (a literal, maybe cast). Quoted text is left out before looking for
    a call or an SQL value function."""
    if identity:
        return True
    if default is None:
        return False
    bare = _QUOTED.sub("''", default)
    return bool(_CALL.search(bare) or _VALUE_FUNCTION.search(bare))


def varying_columns(conn, tables: list[str]) -> dict[str, list[str]]:
    """Per table, the columns filled by a default that is not a constant (sorted)."""
    rows = query_all(
        conn,
        """SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), a.attname,
                  pg_get_expr(d.adbin, d.adrelid), a.attidentity <> ''
           FROM pg_attribute a
           JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
           LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
           WHERE a.attnum > 0 AND NOT a.attisdropped AND (d.oid IS NOT NULL OR a.attidentity <> '')
             AND quote_ident(n.nspname) || '.' || quote_ident(c.relname) = ANY(%s)""",
        (tables,),
    )
    found: dict[str, list[str]] = {}
    for table, column, default, identity in sorted(rows):
        if is_varying(default, identity):
            found.setdefault(table, []).append(column)
    return found


def detail_suffixes(conn, counts: dict[str, int], columns: dict[str, list[str]]) -> dict[str, str]:
    """The text each table's line gets (see the module), in one query over the tables that
    need one; ``columns``: per table, its quoted column references (``t."a"``) in name order."""
    varying = varying_columns(conn, list(counts))
    parts, wanted = [], []
    for table, count in counts.items():
        names = columns.get(table, [])
        steady = [c for c in names if c.removeprefix("t.").strip('"') not in varying.get(table, ())]
        small = count <= DETAIL_ROWS
        if not (small or table in varying) or not names:
            continue
        steady_hash = (
            f"COALESCE(sum(hashtextextended(ROW({', '.join(steady)})::text, 0)), 0)::text"
            if table in varying and steady
            else "NULL::text"
        )
        per_column = (
            "ARRAY[" + ", ".join(f"COALESCE(sum(hashtextextended({c}::text, 0)), 0)::text" for c in names) + "]"
            if small
            else "NULL::text[]"
        )
        rows = (  # without the varying columns: a seed row's new now() is not a changed row
            f"array_agg(hashtextextended(ROW({', '.join(steady or names)})::text, 0)::text)"
            if small
            else "NULL::text[]"
        )
        parts.append(f"SELECT {len(wanted)}, {steady_hash}, {per_column}, {rows} FROM {quote_ident(conn, table)} t")
        wanted.append(table)
    suffixes = {}
    for index, steady_hash, per_column, rows in query_all(conn, " UNION ALL ".join(parts)) if parts else ():
        table = wanted[index]
        names = [c.removeprefix("t.").strip('"') for c in columns[table]]
        text = ""
        if table in varying:
            text += f"; varying {', '.join(varying[table])}"
            text += f"; steady {steady_hash}" if steady_hash is not None else ""
        if per_column is not None:
            text += "; columns " + ", ".join(f"{n}={h}" for n, h in zip(names, per_column, strict=True))
            text += "; rows " + " ".join(sorted(rows or []))
        suffixes[table] = text
    return suffixes
