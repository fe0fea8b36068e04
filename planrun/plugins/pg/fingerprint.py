"""The schema fingerprint and the data fingerprint: one of each for all of planrun.

Both read the catalog (or the rows) into normalised text lines, sorted, and hash them; the
lines are kept so a difference can be named ("- index ix_users_status ...").
User schemas only: pg_catalog, information_schema, toast and temp schemas are left out, and so
are Alembic's version table and planrun's history store (their rows are the migration's
bookkeeping, not the application's).
"""

from __future__ import annotations

import hashlib

from planrun.plugin import Snapshot

from ..sql.canonical import canonical
from .connect import query_all, query_prepared, quote_ident
from .data_changes import explain
from .fingerprint_detail import detail_suffixes
from .names import identifier
from .table_hashes import TableHashes

SYSTEM_SCHEMAS = "('pg_catalog', 'information_schema', 'pg_toast')"
# planrun's own records (a schema whose comment starts "planrun history store") are bookkeeping,
# like Alembic's version table: never part of what a proof compares
USER_NAMESPACE = (
    f"n.nspname NOT IN {SYSTEM_SCHEMAS} AND n.nspname NOT LIKE 'pg_temp%%' AND n.nspname NOT LIKE 'pg_toast_temp%%' "
    "AND COALESCE(obj_description(n.oid, 'pg_namespace'), '') NOT LIKE 'planrun history store%%'"
)
DEFAULT_EXCLUDED = ("alembic_version",)

STORE_MARK = "planrun history store"


def store_schemas(conn) -> list[str]:
    """planrun's own record schemas in this database (marked by their comment): backups leave
    them out and restores leave them alone, so restoring data never rewrites planrun's history."""
    return [
        name
        for (name,) in query_all(
            conn,
            "SELECT nspname FROM pg_namespace WHERE obj_description(oid, 'pg_namespace') LIKE %s ORDER BY 1",
            (STORE_MARK + "%",),
        )
    ]


_CATALOG_QUERIES = {
    "schema": f"SELECT n.nspname FROM pg_namespace n WHERE {USER_NAMESPACE}",
    "relation": f"""
        SELECT n.nspname || '.' || c.relname, c.relname,
               CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' WHEN 'v' THEN 'view'
                              WHEN 'm' THEN 'materialized view' WHEN 'f' THEN 'foreign table'
                              WHEN 'S' THEN 'sequence' END
               || CASE WHEN c.relkind IN ('v', 'm') THEN ' ' || pg_get_viewdef(c.oid) ELSE '' END
               || CASE WHEN c.relrowsecurity THEN ' row security' ELSE '' END
               || CASE WHEN c.relforcerowsecurity THEN ' forced' ELSE '' END
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND {USER_NAMESPACE}""",
    "column": f"""
        SELECT n.nspname || '.' || c.relname || '.' || a.attname, c.relname,
               format_type(a.atttypid, a.atttypmod)
               || CASE WHEN a.attnotnull THEN ' not null' ELSE ' null' END
               || COALESCE(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
               || CASE WHEN a.attidentity <> '' THEN ' identity ' || a.attidentity::text ELSE '' END
               || CASE WHEN a.attgenerated <> '' THEN ' generated' ELSE '' END
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND {USER_NAMESPACE}""",
    "index": f"""
        SELECT n.nspname || '.' || i.relname, t.relname, pg_get_indexdef(x.indexrelid)
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
        JOIN pg_namespace n ON n.oid = i.relnamespace WHERE {USER_NAMESPACE}""",
    "constraint": f"""
        SELECT n.nspname || '.' || t.relname || '.' || k.conname, t.relname, pg_get_constraintdef(k.oid)
        FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE {USER_NAMESPACE}
        UNION ALL  -- a domain's constraints
        SELECT n.nspname || '.' || d.typname || '.' || k.conname, d.typname, pg_get_constraintdef(k.oid)
        FROM pg_constraint k JOIN pg_type d ON d.oid = k.contypid JOIN pg_namespace n ON n.oid = d.typnamespace
        WHERE {USER_NAMESPACE}""",
    "trigger": f"""
        SELECT n.nspname || '.' || c.relname || '.' || g.tgname, c.relname, pg_get_triggerdef(g.oid)
        FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE NOT g.tgisinternal AND {USER_NAMESPACE}""",
    "type": f"""
        SELECT n.nspname || '.' || t.typname, t.typname,
               CASE t.typtype WHEN 'e' THEN 'enum ('
                   || (SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
                                                          FROM pg_enum e WHERE e.enumtypid = t.oid) || ')'
                              WHEN 'd' THEN 'domain ' || format_type(t.typbasetype, t.typtypmod)
                                  || CASE WHEN t.typnotnull THEN ' not null' ELSE '' END
                                  || COALESCE(' default ' || t.typdefault, '')
                              WHEN 'c' THEN 'composite (' || (SELECT string_agg(a.attname || ' '
                                  || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
                                  FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0
                                  AND NOT a.attisdropped) || ')'
                              ELSE 'type ' || t.typtype::text END
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE (t.typtype IN ('e', 'd', 'r', 'm')
               OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
          AND {USER_NAMESPACE}""",
    "policy": f"""
        SELECT n.nspname || '.' || c.relname || '.' || p.polname, c.relname,
               'CREATE POLICY planrun_p ON planrun_t AS '
               || CASE WHEN p.polpermissive THEN 'PERMISSIVE' ELSE 'RESTRICTIVE' END || ' FOR '
               || CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE'
                                WHEN 'd' THEN 'DELETE' ELSE 'ALL' END
               || ' TO ' || (SELECT string_agg(CASE WHEN r = 0 THEN 'public' ELSE quote_ident(pg_get_userbyid(r)) END,
                                               ', ' ORDER BY 1) FROM unnest(p.polroles) r)
               || COALESCE(' USING (' || pg_get_expr(p.polqual, p.polrelid) || ')', '')
               || COALESCE(' WITH CHECK (' || pg_get_expr(p.polwithcheck, p.polrelid) || ')', '')
        FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE {USER_NAMESPACE}""",
    "function": f"""
        SELECT n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', p.proname,
               'returns ' || pg_get_function_result(p.oid) || ' md5 ' || md5(p.prosrc)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        LEFT JOIN pg_depend dep ON dep.objid = p.oid AND dep.deptype = 'e'
        WHERE dep.objid IS NULL AND {USER_NAMESPACE}""",
    "extension": "SELECT e.extname FROM pg_extension e WHERE e.extname <> 'plpgsql'",
}


def _as_one_query(queries: dict[str, str]) -> str:
    """Every catalog query as (kind, name, relation, definition) rows, in one round trip."""
    parts = []
    for kind, sql in queries.items():
        if kind in ("schema", "extension"):
            parts.append(f"SELECT '{kind}', q.*, NULL::text, NULL::text FROM ({sql}) q")
        else:
            parts.append(f"SELECT '{kind}', q.* FROM ({sql}) q")
    return "\nUNION ALL\n".join(parts)


_CATALOG_QUERY = _as_one_query(_CATALOG_QUERIES)


def schema_fingerprint(conn, exclude: tuple[str, ...] = DEFAULT_EXCLUDED) -> Snapshot:
    """Tables (and their row security), columns (type, nullability, default), indexes,
    constraints, triggers, policies, types (enums, domains with their constraints, composite
    types), functions and extensions of the user schemas, normalised and hashed. Definitions
    PostgreSQL prints differently after a dump and restore compare by meaning (see
    :mod:`.canonical`)."""
    lines = []
    for kind, name, relation, definition in query_prepared(conn, "planrun_schema_fingerprint", _CATALOG_QUERY):
        if relation in exclude:
            continue
        if definition is not None and kind in ("constraint", "index", "relation", "policy"):
            definition = canonical(kind, definition)  # the same meaning printed two ways compares equal
        lines.append(f"{kind} {name}" if definition is None else f"{kind} {name}: {definition}")
    return _snapshot(lines)


_CATALOG_SIGNATURES = f"""
    WITH RECURSIVE tree(root, relid) AS (
        SELECT c.oid, c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND {USER_NAMESPACE}
        UNION ALL
        SELECT t.root, i.inhrelid FROM tree t JOIN pg_inherits i ON i.inhparent = t.relid)
    SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname),
           (SELECT string_agg(t.relid::text || ':' || COALESCE(pg_relation_filenode(t.relid)::text, ''), ','
                              ORDER BY t.relid)
              FROM tree t WHERE t.root = c.oid),
           (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
              FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND {USER_NAMESPACE}"""


def catalog_signatures(conn) -> dict[str, tuple]:
    """Per table: its files (and its children's) and its column list; see TableHashes."""
    return {
        table: tuple(rest) for table, *rest in query_prepared(conn, "planrun_table_signatures", _CATALOG_SIGNATURES)
    }


def user_tables(conn, exclude: tuple[str, ...] = DEFAULT_EXCLUDED) -> list[str]:
    rows = query_all(
        conn,
        f"""SELECT n.nspname, c.relname, quote_ident(n.nspname) || '.' || quote_ident(c.relname)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND {USER_NAMESPACE} ORDER BY 1, 2""",
    )
    return [key for _schema, name, key in rows if name not in exclude]


def data_item_key(table: str) -> str:
    """The key of a table's line in the data fingerprint (what a proof names it by)."""
    return f"table {table}"


def data_fingerprint(
    conn, exclude: tuple[str, ...] = DEFAULT_EXCLUDED, cache: TableHashes | None = None, only=None, detail=False
) -> Snapshot:
    """Per table: row count, a hash of all rows and each column's count of values (non-null).
    Lines read ``table public.users: 3 rows hash ...; values email=3, id=3, name=2``.

    The hash is a sum of 64-bit hashes of each row's text, its columns in name order: independent
    of row order (no sort, one pass per table, every table in one query) and of column order (a
    downgrade that re-adds a column puts it last), and it changes when any row's text changes.
    ``cache`` (kept by the caller between snapshots of one database) skips the tables that have
    not changed since; see :class:`.table_hashes.TableHashes` for how that is known. ``only``:
    these tables (``schema.name``) and no others (a backup scoped to what a migration touches).
    ``detail``: what the stairway adds to each line (:mod:`.fingerprint_detail`).
    """
    tables = [t for t in user_tables(conn, exclude) if only is None or t in only]
    if not tables:
        return _snapshot([])
    catalog = catalog_signatures(conn) if cache is not None else {}
    scans = _scan_signatures(conn, tables) if cache is not None and cache.needs_scan else {}
    lines, todo = {}, []
    for table in tables:
        line = cache.known(table, catalog.get(table), scans.get(table)) if cache is not None else None
        if line is None:
            todo.append(table)
        else:
            lines[table] = line
    if todo:
        columns, keys = _columns_by_name(conn, todo)
        # the newest row version only when unwatched snapshots need it (it costs a fifth of the hash)
        newest = "max(t.xmin::text::bigint)" if cache is not None and cache.needs_scan else "NULL::bigint"
        # with each column's count of values (count(col): cheap beside the hash), so that a
        # difference can say which column lost its values and not only that the hash moved
        parts = [
            f"SELECT {index}, count(*), "
            f"COALESCE(sum(hashtextextended(ROW({', '.join(columns.get(table, []))})::text, 0)), 0), "
            f"{newest}, ARRAY[{', '.join(f'count({c})' for c in columns.get(table, [])) or 'NULL'}]::bigint[], "
            + (
                f"min(t.{keys[table][1]})::text, max(t.{keys[table][1]})::text "
                if table in keys
                else "NULL::text, NULL::text "
            )
            + f"FROM {quote_ident(conn, table)} t"
            for index, table in enumerate(todo)
        ]
        found = query_all(conn, " UNION ALL ".join(parts))
        suffixes = detail_suffixes(conn, {todo[row[0]]: row[1] for row in found}, columns) if detail else {}
        for index, count, digest, version, values, lowest, highest in found:
            table = todo[index]
            names = [c.removeprefix("t.").strip('"') for c in columns.get(table, [])]
            present = ", ".join(f"{name}={n}" for name, n in zip(names, values or [], strict=False))
            span = f"; keys {keys[table][0]} {lowest}..{highest}" if table in keys and lowest is not None else ""
            lines[table] = (
                f"{data_item_key(table)}: {count} rows hash {digest}; values {present}{span}{suffixes.get(table, '')}"
            )
            if cache is not None:
                cache.remember(
                    table, catalog.get(table), (count, version) if version is not None else None, lines[table]
                )
    if cache is not None:
        cache.settle()
    return _snapshot(list(lines.values()), explain)


def _columns_by_name(conn, tables: list[str]) -> tuple[dict[str, list[str]], dict[str, tuple[str, str]]]:
    """``t."a", t."b"`` per table, sorted by column name; and per table with a one-column
    integer primary key, (its name, quoted): the span of its keys lets a lost-rows message say
    which rows ("keys id 1..50 -> 1..38"). One catalog query for both."""
    rows = query_all(
        conn,
        """SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), a.attname,
                  a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype) AND EXISTS (
                      SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary AND i.indnatts = 1
                      AND i.indkey[0] = a.attnum)
           FROM pg_attribute a
           JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE a.attnum > 0 AND NOT a.attisdropped AND quote_ident(n.nspname) || '.' || quote_ident(c.relname)
           = ANY(%s)""",
        (tables,),
    )
    columns: dict[str, list[str]] = {}
    keys: dict[str, tuple[str, str]] = {}
    for table, column, is_key in sorted(rows):
        quoted = identifier(column)
        columns.setdefault(table, []).append("t." + quoted)
        if is_key:
            keys[table] = (column, quoted)
    return columns, keys


def _scan_signatures(conn, tables: list[str]) -> dict[str, tuple]:
    """Row count and newest row version of every table, in one query (one pass over each)."""
    parts = [
        f"SELECT {index}, count(*), max(t.xmin::text::bigint) FROM {quote_ident(conn, table)} t"
        for index, table in enumerate(tables)
    ]
    return {tables[index]: (count, newest) for index, count, newest in query_all(conn, " UNION ALL ".join(parts))}


def row_counts(conn, exclude: tuple[str, ...] = DEFAULT_EXCLUDED, only=None) -> dict[str, int]:
    counts = {}
    for table in user_tables(conn, exclude):
        if only is not None and table not in only:
            continue
        ((count,),) = query_all(conn, f"SELECT count(*) FROM {quote_ident(conn, table)}")
        counts[table] = count
    return counts


def _snapshot(lines: list[str], explain=None) -> Snapshot:
    ordered = tuple(sorted(lines))
    digest = hashlib.sha256("\n".join(ordered).encode()).hexdigest()
    return Snapshot(digest, ordered, explain)
