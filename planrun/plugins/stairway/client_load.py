"""A synthetic workload for the stairway at volume: N clients, each on its own connection, run
a point read and a write (a no-op ``UPDATE ... SET key = key``, which takes the row lock and
the table lock a real write takes) on random existing rows of the tables that exist, at a fixed
total rate, and time every transaction. Run once with no migration for the baseline and once
during each Alembic command; the longest transaction is the longest a client waited."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field

from ..pg.connect import connect, query_all

_KEYED = """
    SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), quote_ident(a.attname)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
    WHERE i.indisprimary AND i.indnatts = 1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition
      AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND c.relname <> 'alembic_version'"""


@dataclass
class LoadFigures:
    transactions: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds

    def percentile(self, share: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    @property
    def longest(self) -> float:
        return max(self.latencies, default=0.0)


class ClientLoad:
    """``with ClientLoad(url, rate, clients) as load: ...`` then ``load.figures``."""

    def __init__(self, url: str, rate: float, clients: int = 4, seed: int = 0):
        self.url, self.rate, self.clients = url, rate, clients
        self.rng = random.Random(seed)
        self.figures = LoadFigures()
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def targets(self) -> list[tuple[str, str, list]]:
        """(table, key column, some of its keys) for every table with a one-column primary key."""
        conn = connect(self.url, application_name="planrun test load", autocommit=True)
        try:
            found = []
            for table, key in query_all(conn, _KEYED):
                ((rows,),) = query_all(conn, f"SELECT count(*) FROM {table}")
                share = min(100.0, 100.0 * 2000 / max(rows, 1))  # about 2000 keys from all over the table
                keys = [
                    k
                    for (k,) in query_all(
                        conn, f"SELECT {key} FROM {table} TABLESAMPLE BERNOULLI ({share}) REPEATABLE (7) LIMIT 2000"
                    )
                ]
                if keys:
                    found.append((table, key, keys))
            return found
        finally:
            conn.close()

    def __enter__(self) -> ClientLoad:
        targets = self.targets()
        self.threads = []
        if targets and self.rate > 0:
            for number in range(self.clients):
                thread = threading.Thread(target=self._client, args=(targets, number), daemon=True)
                thread.start()
                self.threads.append(thread)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self.threads:
            thread.join()

    def _client(self, targets, number: int) -> None:
        rng = random.Random(self.rng.random() + number)
        conn = connect(self.url, application_name="planrun test load", statement_timeout=None)
        interval = self.clients / self.rate
        due = time.monotonic() + rng.random() * interval
        try:
            while not self._stop.is_set():
                pause = due - time.monotonic()
                if pause > 0 and self._stop.wait(pause):
                    break
                due += interval
                table, key, keys = rng.choice(targets)
                value = rng.choice(keys)
                started = time.monotonic()
                try:
                    with conn.cursor() as cursor:
                        cursor.execute(f"SELECT * FROM {table} WHERE {key} = %s", (value,))
                        cursor.execute(f"UPDATE {table} SET {key} = {key} WHERE {key} = %s", (value,))
                    conn.commit()
                except Exception:  # a table the migration dropped, a lock timeout: counted, not fatal
                    conn.rollback()
                    with self._lock:
                        self.figures.errors += 1
                    continue
                with self._lock:
                    self.figures.transactions += 1
                    self.figures.latencies.append(time.monotonic() - started)
        finally:
            conn.close()
