"""What generation needs to know about a database's tables, read from the catalog once.

Partitions are not tables of their own here: rows go to their partitioned parent and the server
routes them. Alembic's version table and planrun's history store are left out, like the
fingerprints leave them out: they are bookkeeping, not the application's data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..pg.connect import query_all
from ..pg.fingerprint import DEFAULT_EXCLUDED, USER_NAMESPACE

_VALUE = re.compile(r"\bVALUE\b")


@dataclass
class Column:
    name: str
    type: str  # format_type(): 'character varying(40)', 'numeric(10,2)', 'status_kind[]'
    base: str  # the base type's name after domains and arrays: 'varchar', 'numeric', 'status_kind'
    stored: str = ""  # the type under a domain, as format_type() prints it (the column's own type otherwise)
    array: bool = False
    not_null: bool = False
    has_default: bool = False
    skipped: str | None = None  # why the server, not generation, fills it (identity, serial, generated)
    length: int | None = None  # varchar(n) / char(n)
    precision: int | None = None  # numeric(p, s)
    scale: int | None = None
    labels: list[str] = field(default_factory=list)  # an enum's values
    checks: list[str] = field(default_factory=list)  # a domain's CHECK expressions, VALUE as the column


@dataclass
class ForeignKey:
    columns: list[str]
    parent: str  # the referenced table's qualified name
    parent_columns: list[str]
    deferrable: bool


@dataclass
class Table:
    name: str  # schema-qualified, quoted for SQL: "public"."users"
    label: str  # schema.table as a user writes it (public. left out)
    oid: int
    columns: list[Column]
    unique: list[list[str]] = field(default_factory=list)  # PK and UNIQUE column sets
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)  # the table's CHECK expressions
    partitions: list[str] = field(default_factory=list)  # each partition's constraint (partitioned tables)
    partition_bounds: list[str] = field(default_factory=list)  # FOR VALUES ... of each partition
    partition_key: list[str] = field(default_factory=list)
    rows: int = 0  # rows it holds now

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def generated_columns(self) -> list[Column]:
        return [c for c in self.columns if c.skipped is None]


_TABLES = f"""
    SELECT c.oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname),
           CASE WHEN n.nspname = 'public' THEN c.relname ELSE n.nspname || '.' || c.relname END,
           CASE WHEN c.relkind = 'p' THEN (SELECT array_agg(a.attname ORDER BY k.ord)
                FROM pg_partitioned_table pt
                CROSS JOIN LATERAL unnest(pt.partattrs::int2[]) WITH ORDINALITY k(attnum, ord)
                JOIN pg_attribute a ON a.attrelid = pt.partrelid AND a.attnum = k.attnum
                WHERE pt.partrelid = c.oid) END
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND {USER_NAMESPACE}
      AND c.relname <> ALL(%s)
    ORDER BY 2"""

_COLUMNS = """
    SELECT a.attrelid, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull OR COALESCE(d.typnotnull, false),
           a.atthasdef OR d.typdefault IS NOT NULL, a.attidentity, a.attgenerated,
           COALESCE(pg_get_expr(ad.adbin, ad.adrelid), '') LIKE 'nextval(%%',
           bt.typname, bt.typtype, format_type(b.oid, m.typmod), t.typcategory = 'A' OR bt.typcategory = 'A',
           information_schema._pg_char_max_length(bt.oid, m.typmod),
           information_schema._pg_numeric_precision(bt.oid, m.typmod),
           information_schema._pg_numeric_scale(bt.oid, m.typmod),
           (SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = bt.oid),
           (SELECT array_agg(pg_get_constraintdef(dc.oid)) FROM pg_constraint dc
             WHERE dc.contypid = t.oid AND dc.contype = 'c')
    FROM pg_attribute a
    JOIN pg_type t ON t.oid = a.atttypid
    LEFT JOIN pg_type d ON d.oid = t.oid AND t.typtype = 'd'
    -- b: the scalar type after the domain; bt: after the array too
    JOIN pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
    JOIN pg_type bt ON bt.oid = CASE WHEN b.typelem <> 0 AND b.typcategory = 'A' THEN b.typelem ELSE b.oid END
    CROSS JOIN LATERAL (SELECT CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END AS typmod) m
    LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
    WHERE a.attrelid = ANY(%s) AND a.attnum > 0 AND NOT a.attisdropped
    ORDER BY a.attrelid, a.attnum"""

_CONSTRAINTS = """
    SELECT con.conrelid, con.contype,
           ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, o)
                 JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.o),
           con.confrelid,
           ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, o)
                 JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.o),
           con.condeferrable, pg_get_constraintdef(con.oid)
    FROM pg_constraint con WHERE con.conrelid = ANY(%s) AND con.contype IN ('p', 'u', 'f', 'c')
    UNION ALL  -- unique indexes that are not constraints count as uniqueness too
    SELECT i.indrelid, 'u', ARRAY(SELECT a.attname FROM unnest(i.indkey) k(n)
                                  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n),
           0, NULL, false, NULL
    FROM pg_index i WHERE i.indrelid = ANY(%s) AND i.indisunique AND i.indpred IS NULL AND 0 <> ALL(i.indkey)
      AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid)
    ORDER BY 1, 2, 3"""

_PARTITIONS = """
    SELECT i.inhparent, pg_get_partition_constraintdef(i.inhrelid), pg_get_expr(p.relpartbound, p.oid)
    FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhrelid
    WHERE i.inhparent = ANY(%s) ORDER BY p.relname"""


def read_tables(conn, exclude: tuple[str, ...] = DEFAULT_EXCLUDED, counted: bool = True) -> dict[str, Table]:
    """Every user table by its label (``users``, ``billing.invoices``), with row counts; without
    ``counted``, ``rows`` only says whether it has any (1 or 0): a top-up between revisions
    needs no more, and counting tables of millions of rows at every revision would."""
    tables: dict[int, Table] = {}
    for oid, name, label, key in query_all(conn, _TABLES, (list(exclude),)):
        tables[oid] = Table(name, label, oid, [], partition_key=list(key or []))
    oids = list(tables)
    for row in query_all(conn, _COLUMNS, (oids,)):
        tables[row[0]].columns.append(_column(*row[1:]))
    names = {oid: table.name for oid, table in tables.items()}
    for relid, kind, columns, parent, parent_columns, deferrable, definition in query_all(
        conn, _CONSTRAINTS, (oids, oids)
    ):
        table = tables[relid]
        if kind in ("p", "u") and columns not in table.unique:
            table.unique.append(list(columns))
        elif kind == "f" and parent in names:
            table.foreign_keys.append(ForeignKey(list(columns), names[parent], list(parent_columns), deferrable))
        elif kind == "c":
            table.checks.append(_check_expression(definition))
    for parent, constraint, bound in query_all(conn, _PARTITIONS, (oids,)):
        tables[parent].partitions.append(constraint or "true")
        tables[parent].partition_bounds.append(bound)
    for table in tables.values():
        count = (
            f"SELECT count(*) FROM {table.name}"
            if counted
            else f"SELECT count(*) FROM (SELECT FROM {table.name} LIMIT 1) t"
        )
        ((table.rows,),) = query_all(conn, count)
    return {table.label: table for table in tables.values()}


def _column(name, type_, not_null, has_default, identity, generated, serial, base, typtype, stored, array, *rest):
    length, precision, scale, labels, domain_checks = rest
    skipped = "generated" if generated else "identity" if identity else "serial" if serial and not array else None
    return Column(
        name,
        type_,
        "enum" if typtype == "e" else base,
        stored,
        array=bool(array),
        not_null=bool(not_null),
        has_default=bool(has_default),
        skipped=skipped,
        length=length,
        precision=precision,
        scale=scale,
        labels=list(labels or []),
        checks=[_VALUE.sub(f'"{name}"', _check_expression(d)) for d in domain_checks or []],
    )


def _check_expression(definition: str) -> str:
    """``CHECK ((price >= 0)) NOT VALID`` -> ``(price >= 0)``."""
    body = definition.removeprefix("CHECK ")
    return body.removesuffix(" NOT VALID")
