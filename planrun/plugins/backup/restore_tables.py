"""Restoring the rows of a scoped backup's tables, and nothing else: after a downgrade brought
the schema back, each table in scope whose data differs from the backup gets the backup's rows
again; tables out of scope are never touched, so what the application wrote to them during the
run stays.

The archive's rows are streamed out of ``pg_restore --data-only`` (COPY text, straight from
storage through the decompressor: nothing is restored anywhere else first), all in one
transaction under the run's lock, with the tables' own triggers disabled meanwhile. A table no
other table references is emptied and loaded (TRUNCATE and COPY); the others' rows go to a
staging table, then rows that changed are updated by primary key, rows the run removed are
inserted again and rows it added deleted, so a table others reference is never emptied. The
foreign keys from and to those tables are checked and the scope's sequences set back; the
runner then proves the result (the schema whole, the data of the scope).
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import tempfile
import threading
from collections.abc import Iterator

from planrun.plugin import StepFailed

from ..pg.connect import connect, python_encoding, query_all
from ..pg.fingerprint import data_fingerprint
from ..pg.names import identifier, quoted
from ..pg.tools import killed_on_failure, pg_program
from .archive import local_archive, read_file, verify_checksums
from .manifest import Manifest
from .others import Kept, Policy, check_kept, decide
from .storage import Location

_COLUMNS = """
    SELECT a.attname, a.attidentity = 'a' FROM pg_attribute a
    WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
    ORDER BY a.attnum"""
_KEY = """
    SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
    WHERE i.indrelid = %s::regclass AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)"""
_TRIGGERS = """SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal AND tgenabled <> 'D'"""
_FOREIGN_KEYS = """
    SELECT con.conname, con.conrelid::regclass::text, con.confrelid::regclass::text,
           ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(n, o)
                 JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.o),
           ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(n, o)
                 JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.o)
    FROM pg_constraint con WHERE con.contype = 'f' AND (con.conrelid = ANY(%s) OR con.confrelid = ANY(%s))"""


_quote, _ident = identifier, quoted  # a column or trigger name, and a table's key (:mod:`..pg.names`), as SQL


def differing_tables(conn, manifest: Manifest) -> list[str]:
    """The tables in scope whose rows differ from the backup's (by their data fingerprint)."""
    now = {
        line.split(":", 1)[0].removeprefix("table "): line for line in data_fingerprint(conn, only=manifest.scope).items
    }
    missing = [t for t in manifest.table_fingerprints if t not in now]
    if missing:
        raise StepFailed(
            f"{', '.join(missing)} not found: a scoped backup restores rows, so the schema must be back first "
            "(rollback.strategy downgrade-then-restore)"
        )
    return [t for t, line in manifest.table_fingerprints.items() if now[t] != line]


def restore_tables(url: str, where: Location, manifest: Manifest, jobs: int, others: Policy) -> str:
    """Put the backup's rows back in the tables of its scope that differ (see the module's
    docstring); ``others`` decides about rows other transactions wrote, and receives the tables
    where their rows were kept (``concurrent_writes: keep``), each checked row by row against
    the backup."""
    verify_checksums(where, manifest)
    conn = connect(url, application_name="planrun restore tables")
    try:
        todo = differing_tables(conn, manifest)
        if not todo:
            conn.rollback()
            return f"every table in the backup's scope ({len(manifest.scope or [])}) already holds its rows"
        leaves = _leaves(conn, todo)  # a partitioned table's rows are its partitions'
        has_key = lambda t: bool(query_all(conn, _KEY, (_ident(t),)))  # noqa: E731
        kept, said = decide(conn, manifest, leaves, others.own, others.concurrent_writes, has_key=has_key)
        with conn.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            triggers = _switch_triggers(conn, cursor, leaves, "DISABLE")
            changes, staged = _load(conn, cursor, where, manifest, leaves, kept)
            changes.update(_put_back(cursor, staged, kept))
            _check_kept(cursor, staged, kept)
            _switch_triggers(conn, cursor, leaves, "ENABLE", triggers)
        _check_foreign_keys(conn, leaves)
        _set_sequences(conn, manifest)
        conn.commit()  # the runner proves the result (schema whole, data over the scope)
        others.kept.extend(sorted(kept))
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()
    done = "; ".join(f"{table}: {changed}" for table, changed in sorted(changes.items()))
    return (
        f"restored the rows of {len(todo)} table(s) from backup {manifest.backup_id} ({done}); others untouched{said}"
    )


_STAGED_COLUMNS = "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 ORDER BY attnum"
_HEADER = re.compile(rb"^COPY (.+?) \((.*)\) FROM stdin;$")
_LEAVES = "SELECT t FROM unnest(%s::text[]) t WHERE (SELECT relkind FROM pg_class WHERE oid = to_regclass(t)) = 'r'"
# tables another table's foreign key points at: emptying them, even for a moment, is refused
_REFERENCED = """SELECT t FROM unnest(%s::text[]) t WHERE EXISTS (SELECT 1 FROM pg_constraint c
    WHERE c.contype = 'f' AND c.confrelid = to_regclass(t) AND c.conrelid <> c.confrelid)"""


def _leaves(conn, tables: list[str]) -> list[str]:
    quoted = {_ident(t): t for t in tables}
    return [quoted[t] for (t,) in query_all(conn, _LEAVES, (list(quoted),))]


def _switch_triggers(conn, cursor, tables: list[str], how: str, names: dict | None = None) -> dict[str, list[str]]:
    """Turn the tables' own enabled triggers off (or back on): restoring rows is not a write
    the application made, and must fire nothing."""
    if names is None:
        names = {table: [t for (t,) in query_all(conn, _TRIGGERS, (_ident(table),))] for table in tables}
    for table, triggers in names.items():
        for trigger in triggers:
            cursor.execute(f"ALTER TABLE {_ident(table)} {how} TRIGGER {_quote(trigger)}")
    return names


def _load(
    conn, cursor, where: Location, manifest: Manifest, tables: list[str], kept: dict | None = None
) -> tuple[dict[str, str], dict]:
    """Stream the backup's rows: a table no other references is emptied and loaded straight
    (TRUNCATE and COPY); the others' rows go to a staging table, merged by key afterwards.
    Returns what was done to the loaded tables, and the staged ones: (stage, columns, key)."""
    quoted = {_ident(t): t for t in tables}
    # pg_restore names a table as quote_ident does (its fmtId): the key the catalog builds
    dumped = dict(
        query_all(
            conn,
            "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), k.key "
            "FROM unnest(%s::text[], %s::text[]) AS k(sql, key) JOIN pg_class c ON c.oid = to_regclass(k.sql) "
            "JOIN pg_namespace n ON n.oid = c.relnamespace",
            ([_ident(t) for t in tables], tables),
        )
    )
    referenced = {quoted[t] for (t,) in query_all(conn, _REFERENCED, (list(quoted),))}
    loaded: dict[str, str] = {}
    staged: dict[str, tuple] = {}
    encoding = "utf-8"  # the archive's, which pg_restore's script names first
    with _data_stream(where, manifest) as lines:
        for line in lines:
            if line.startswith(b"SET client_encoding = '"):
                encoding = python_encoding(line.split(b"'")[1].decode("ascii"))
            header = _HEADER.match(line.rstrip(b"\n"))
            if header is None:
                continue
            table = dumped.get(header[1].decode(encoding))
            block = _Block(lines)
            names = header[2].decode(encoding)
            if table is None:  # another table's rows (the version table's): skipped
                while block.read(1 << 16):
                    pass
            elif table not in referenced and table not in (kept or {}):
                cursor.execute(f"TRUNCATE {_ident(table)}")
                cursor.copy_expert(f"COPY {_ident(table)} ({names}) FROM STDIN", block, size=1 << 16)
                loaded[table] = f"emptied and {cursor.rowcount} rows loaded"
            else:
                stage = f"planrun_restore_{len(staged)}"
                cursor.execute(
                    f"CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {names} FROM {_ident(table)} LIMIT 0"
                )
                cursor.copy_expert(f"COPY {stage} ({names}) FROM STDIN", block, size=1 << 16)
                always = dict(query_all(conn, _COLUMNS, (_ident(table),)))
                columns = [  # from the catalog, never by splitting the header (a name may hold a comma)
                    n for (n,) in query_all(conn, _STAGED_COLUMNS, (stage,))
                ]
                key = [k for (k,) in query_all(conn, _KEY, (_ident(table),))]
                staged[table] = (stage, [(name, always.get(name, False)) for name in columns], key)
    missing = [t for t in tables if t not in loaded and t not in staged]
    if missing:
        raise StepFailed(f"the backup holds no rows section for {', '.join(missing)}")
    return loaded, staged


class _Block:
    """One COPY block of a pg_restore script as a file: its lines up to the ``\\.`` line."""

    def __init__(self, lines):
        self.lines, self.done = lines, False

    def read(self, size: int = -1) -> bytes:
        chunk = bytearray()
        while not self.done and (size < 0 or len(chunk) < size):
            line = next(self.lines, None)
            if line is None or line == b"\\.\n":
                self.done = True
            else:
                chunk += line
        return bytes(chunk)


@contextlib.contextmanager
def _data_stream(where: Location, manifest: Manifest) -> Iterator[Iterator[bytes]]:
    """The lines of ``pg_restore --data-only -f -`` over the archive, fed from storage."""
    with tempfile.TemporaryFile() as err, contextlib.ExitStack() as stack:
        source = None if manifest.format == "custom" else stack.enter_context(local_archive(where, manifest))
        command = [pg_program("pg_restore"), "--data-only", "-f", "-"] + ([str(source)] if source else [])
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE if source is None else None, stdout=subprocess.PIPE, stderr=err
        )
        feeder = None
        if source is None:

            def feed() -> None:
                try:
                    read_file(where, manifest.files[0], manifest.compression, process.stdin.write)
                except (BrokenPipeError, OSError):
                    pass  # pg_restore stopped: its exit code says why
                finally:
                    with contextlib.suppress(BrokenPipeError, OSError):
                        process.stdin.close()

            feeder = threading.Thread(target=feed, name="planrun-restore-feed", daemon=True)
            feeder.start()
        with killed_on_failure(process):
            yield iter(process.stdout.readline, b"")
            process.stdout.close()
            code = process.wait()
        if feeder is not None:
            feeder.join()
        if code != 0:
            err.seek(0)
            raise StepFailed(
                f"pg_restore --data-only failed (exit {code}): {err.read().decode(errors='replace').strip()}"
            )


def _put_back(cursor, staged: dict[str, tuple], kept: dict | None = None) -> dict[str, str]:
    changes: dict[str, list[str]] = {table: [] for table in staged}
    kept = kept or {}
    for table, (stage, columns, key) in staged.items():  # every row the run changed or removed is back...
        changes[table] += _update_and_insert(cursor, table, stage, columns, key, kept.get(table))
    for table, (stage, _, key) in reversed(staged.items()):  # ...before a row it added is deleted
        changes[table] += _delete_added(cursor, table, stage, key, kept.get(table))
    return {table: ", ".join(said) for table, said in changes.items()}


def _update_and_insert(
    cursor, table: str, stage: str, columns: list[tuple[str, bool]], key: list[str], kept: Kept | None = None
) -> list[str]:
    """Rows the run changed get the backup's values, rows it removed come back. With ``kept``
    (``concurrent_writes: keep``), rows other transactions wrote keep theirs, and rows they
    deleted stay deleted."""
    names = [_quote(c) for c, _ in columns]
    listed = ", ".join(names)
    overriding = " OVERRIDING SYSTEM VALUE" if any(always for _, always in columns) else ""
    t = _ident(table)
    if not key:  # no key to match rows by: the table's rows are replaced
        cursor.execute(f"DELETE FROM {t}")
        removed = cursor.rowcount
        cursor.execute(f"INSERT INTO {t} ({listed}){overriding} SELECT {listed} FROM {stage}")
        return [f"{removed} rows replaced by {cursor.rowcount}"]
    match = " AND ".join(f"t.{_quote(k)} = s.{_quote(k)}" for k in key)
    others = [n for (c, _), n in zip(columns, names, strict=True) if c not in key]
    source, condition, params = kept.condition("t") if kept is not None else ("", "false", None)
    said = []
    if kept is not None:
        cursor.execute(f"SELECT count(*) FROM {t} t, {source} WHERE {condition}", params)
        said.append(f"{cursor.fetchone()[0]} rows of other transactions kept")
    if others:
        cursor.execute(
            f"UPDATE {t} t SET ({', '.join(others)}) = ROW({', '.join('s.' + n for n in others)}) FROM {stage} s"
            + (f", {source}" if source else "")
            + f" WHERE {match} AND ROW({', '.join('t.' + n for n in others)}) IS DISTINCT FROM "
            f"ROW({', '.join('s.' + n for n in others)}) AND NOT ({condition})",
            params,
        )
        said.append(f"{cursor.rowcount} rows updated")
    if kept is not None and table in kept.deleted_by_others:
        return said + ["0 inserted (the rows missing now were deleted by other transactions)"]
    cursor.execute(
        f"INSERT INTO {t} ({listed}){overriding} SELECT {', '.join('s.' + n for n in names)} FROM {stage} s "
        f"WHERE NOT EXISTS (SELECT 1 FROM {t} t WHERE {match})"
    )
    return said + [f"{cursor.rowcount} inserted"]


def _check_kept(cursor, staged: dict[str, tuple], kept: dict) -> None:
    for table, (stage, columns, key) in staged.items():
        if table in kept:
            check_kept(cursor, table, stage, [_quote(c) for c, _ in columns], [_quote(k) for k in key], kept[table])


def _delete_added(cursor, table: str, stage: str, key: list[str], kept: Kept | None = None) -> list[str]:
    if not key:
        return []
    match = " AND ".join(f"t.{_quote(k)} = s.{_quote(k)}" for k in key)
    source, condition, params = kept.condition("t") if kept is not None else ("", "false", None)
    cursor.execute(
        f"DELETE FROM {_ident(table)} t"
        + (f" USING {source}" if source else "")
        + f" WHERE NOT EXISTS (SELECT 1 FROM {stage} s WHERE {match}) AND NOT ({condition})",
        params,
    )
    return [f"{cursor.rowcount} deleted"]


def _check_foreign_keys(conn, tables: list[str]) -> None:
    """Every foreign key from or to a restored table holds (the restore ran with the tables'
    triggers off, and a row the run added elsewhere may point at a row it removed)."""
    oids = [oid for (oid,) in query_all(conn, "SELECT unnest(%s::regclass[])::oid", ([_ident(t) for t in tables],))]
    for name, child, parent, columns, parent_columns in query_all(conn, _FOREIGN_KEYS, (oids, oids)):
        present = " AND ".join(f"c.{_quote(c)} IS NOT NULL" for c in columns)
        match = " AND ".join(f"p.{_quote(p)} = c.{_quote(c)}" for c, p in zip(columns, parent_columns, strict=True))
        broken = query_all(
            conn,
            f"SELECT count(*) FROM {child} c WHERE {present} AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE {match})",
        )[0][0]
        if broken:
            raise StepFailed(
                f"foreign key {name} of {child} would be broken by the restore: {broken} row(s) of {child} "
                f"point at rows of {parent} the backup does not hold"
            )


def _set_sequences(conn, manifest: Manifest) -> None:
    with conn.cursor() as cursor:
        for sequence, value in manifest.sequences.items():
            if value is None:
                cursor.execute("SELECT setval(%s::regclass, 1, false)", (_ident(sequence),))
            else:
                cursor.execute("SELECT setval(%s::regclass, %s, true)", (_ident(sequence), value))
