"""The naive migration against planrun's zero-downtime route, under a steady client load.

For each table size (default 1,000,000 and 5,000,000 rows), on a throwaway cluster and a fresh
copy of the same database per scenario, 4 pgbench clients run point reads and updates by id at a
fixed total rate (--rate), each transaction's latency logged. Meanwhile Alembic (in-process, one
transaction per revision) runs either
  (a) naive: ADD COLUMN status; UPDATE accounts SET status = 'active'; SET NOT NULL
  (b) planrun: ADD COLUMN (nullable, instant); zdt.batched_backfill (batches sized to take
      batch_time, default 50 ms, each committed); zdt.add_not_null_safely (CHECK NOT VALID,
      VALIDATE, SET NOT NULL)
  (c) fixed-10k: (b) with the fixed 10,000-row batches planrun used before batch_time
  (and with --batch-times, (b) at other batch times, to choose the default)
and a sampler reads the longest lock wait in pg_locks every 50 ms. The baseline is the same load
with no migration. Reported per scenario, over the transactions that overlap the migration:
count, over 100 ms, over 1 s, p50/p99/max latency, longest lock wait, migration time.
Targets for (b): none over 1 s, max under 50 ms, p99 within 2x of the baseline, total time
within 1.5x of (c). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg2  # noqa: E402

from bench.common import alembic_config  # noqa: E402
from planrun.plugins.clusters.cluster import TempCluster  # noqa: E402
from planrun.plugins.pg.tools import find_pg_bin  # noqa: E402

REVISION = '''"""{name}"""
from alembic import op
import sqlalchemy as sa

from planrun import zdt

revision = "{name}"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
{body}


def downgrade():
    op.drop_column("accounts", "status")
'''

MIGRATIONS = {
    "naive": (
        '    op.add_column("accounts", sa.Column("status", sa.Text))\n'
        "    op.execute(\"UPDATE accounts SET status = 'active'\")\n"
        '    op.alter_column("accounts", "status", nullable=False)'
    ),
    "planrun": (
        '    op.add_column("accounts", sa.Column("status", sa.Text))\n'
        '    zdt.batched_backfill("accounts", set={"status": "\'active\'"})\n'
        '    zdt.add_not_null_safely("accounts", "status")'
    ),
    "fixed-10k": (
        '    op.add_column("accounts", sa.Column("status", sa.Text))\n'
        '    zdt.batched_backfill("accounts", set={"status": "\'active\'"}, batch_size=10_000)\n'
        '    zdt.add_not_null_safely("accounts", "status")'
    ),
}
ADAPTIVE = (
    '    op.add_column("accounts", sa.Column("status", sa.Text))\n'
    '    zdt.batched_backfill("accounts", set={{"status": "\'active\'"}}, batch_time={seconds})\n'
    '    zdt.add_not_null_safely("accounts", "status")'
)

CLIENT_SCRIPT = """\\set id random(1, {rows})
SELECT balance FROM accounts WHERE id = :id;
UPDATE accounts SET balance = balance + 1 WHERE id = :id;
"""


def make_project(folder: Path, name: str) -> Path:
    project = folder / name
    (project / "versions").mkdir(parents=True)
    for file in ("env.py", "alembic.ini"):  # the demo's: one transaction per revision, quiet logging
        shutil.copy(ROOT / "migrations" / file, project / file)
    if name in MIGRATIONS:
        body = MIGRATIONS[name]
    else:  # adaptive-20ms: batches sized to take 20 ms
        body = ADAPTIVE.format(seconds=int(name.split("-")[1].removesuffix("ms")) / 1000)
    (project / "versions" / f"{name.replace('-', '_')}.py").write_text(
        REVISION.format(name=name.replace("-", "_"), body=body)
    )
    return project / "alembic.ini"


def migrate(ini: Path, url: str) -> float:
    from alembic import command

    with alembic_config(ini, url) as config:
        started = time.monotonic()
        command.upgrade(config, "head")
        return time.monotonic() - started


class LockWaits:
    """The longest lock wait seen (pg_locks.waitstart), sampled every 50 ms."""

    def __init__(self, url: str):
        self.url, self.longest, self._stop = url, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn = psycopg2.connect(self.url)
        conn.autocommit = True
        try:
            with conn.cursor() as cursor:
                while not self._stop.wait(0.05):
                    cursor.execute(
                        "SELECT coalesce(extract(epoch FROM max(clock_timestamp() - waitstart)), 0) "
                        "FROM pg_locks WHERE NOT granted"
                    )
                    self.longest = max(self.longest, float(cursor.fetchone()[0]))
        finally:
            conn.close()

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.longest


class Load:
    """pgbench at a fixed rate, each transaction's latency logged to files in ``folder``."""

    def __init__(self, cluster: TempCluster, database: str, rows: int, rate: int, folder: Path, seconds: int = 3600):
        self.folder = folder
        folder.mkdir(parents=True)
        script = folder / "client.sql"
        script.write_text(CLIENT_SCRIPT.format(rows=rows))
        env = dict(os.environ, PGPASSWORD=cluster.password)
        command = [
            os.path.join(find_pg_bin("pgbench"), "pgbench"),
            "-n",
            "-c",
            "4",
            "-j",
            "2",
            "-R",
            str(rate),
            "-T",
            str(seconds),
            "-f",
            str(script),
            "-l",
            "--log-prefix",
            str(folder / "tx"),
            "-h",
            "127.0.0.1",
            "-p",
            str(cluster.port),
            "-U",
            "postgres",
            database,
        ]
        self.process = subprocess.Popen(command, env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop(self) -> None:
        """pgbench writes its logs through stdio buffers: stop it well after the window of
        interest, so every transaction of that window has been flushed by later ones."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)

    def latencies(self, start: float, end: float) -> list[float]:
        """Latency (seconds) of every logged transaction that overlaps [start, end] (epoch)."""
        found = []
        for path in glob.glob(str(self.folder / "tx*")):
            for line in open(path):
                fields = line.split()
                if len(fields) < 6 or not fields[2].isdigit():
                    continue
                latency = int(fields[2]) / 1e6
                finished = int(fields[4]) + int(fields[5]) / 1e6
                if finished >= start and finished - latency <= end:
                    found.append(latency)
        return found


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def scenario(
    cluster: TempCluster, template: str, rows: int, name: str, rate: int, workdir: Path, baseline_seconds: float
) -> dict:
    database = f"bench_{name.replace('-', '_')}_{rows}"
    url = cluster.create_database(database, template=template)
    load = Load(cluster, database, rows, rate, workdir / f"{name}-{rows}")
    time.sleep(2)  # the clients are connected and steady
    waits = LockWaits(url)
    start = time.time()
    if name == "baseline":
        time.sleep(baseline_seconds)
        seconds = baseline_seconds
    else:
        seconds = migrate(make_project(workdir / f"project-{rows}", name), url)
    end = time.time()
    longest_wait = waits.stop()
    time.sleep(6)
    load.stop()
    latencies = load.latencies(start, end)
    cluster.drop_database(database)
    return {
        "name": name,
        "transactions": len(latencies),
        "over_100ms": sum(item > 0.1 for item in latencies),
        "over_1s": sum(item > 1.0 for item in latencies),
        "p50": percentile(latencies, 0.5),
        "p99": percentile(latencies, 0.99),
        "max": max(latencies, default=float("nan")),
        "lock_wait": longest_wait,
        "seconds": seconds,
    }


def row(rows: int, name: str, r: dict) -> str:
    return (
        f"{rows:>10,} {name:<18} {r['transactions']:>6} {r['over_100ms']:>7} {r['over_1s']:>6} {r['p50'] * 1000:>8.2f} "
        f"{r['p99'] * 1000:>8.2f} {r['max'] * 1000:>9.1f} {r['lock_wait']:>12.2f} "
        f"{'-' if name == 'baseline' else format(r['seconds'], '.1f'):>12}"
    )


def make_template(cluster: TempCluster, rows: int) -> str:
    name = f"accounts_{rows}"
    url = cluster.create_database(name)
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("CREATE TABLE accounts (id bigint PRIMARY KEY, balance integer NOT NULL, note text)")
        cursor.execute("INSERT INTO accounts SELECT g, 0, md5(g::text) FROM generate_series(1, %s) g", (rows,))
        cursor.execute("VACUUM ANALYZE accounts")
        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('accounts'))")
        size = cursor.fetchone()[0]
    conn.close()
    print(f"  table accounts: {rows:,} rows, {size}", flush=True)
    return name


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--rate", type=int, default=200, help="client transactions per second, all 4 clients together")
    parser.add_argument("--baseline-seconds", type=float, default=15.0)
    parser.add_argument(
        "--variants",
        nargs="*",
        default=[],
        metavar="adaptive-MSms",
        help="also run (b) with these batch times, e.g. adaptive-20ms",
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="planrun-bench-zdt-"))
    results = {}
    with TempCluster() as cluster:
        cluster.execute("ALTER SYSTEM SET max_wal_size = '4GB'")
        cluster.execute("SELECT pg_reload_conf()")
        for rows in args.rows:
            print(f"{rows:,} rows: generating ...", flush=True)
            template = make_template(cluster, rows)
            for name in ("baseline", "naive", "fixed-10k", "planrun", *args.variants):
                results[(rows, name)] = scenario(
                    cluster, template, rows, name, args.rate, workdir, args.baseline_seconds
                )
                print("  " + row(rows, name, results[(rows, name)]), flush=True)
            cluster.drop_database(template)
    shutil.rmtree(workdir, ignore_errors=True)

    print(
        f"\n4 pgbench clients, {args.rate} transactions/s in all (point read + update by id); "
        "latency of the transactions overlapping the migration"
    )
    header = (
        f"{'rows':>10} {'scenario':<18} {'tx':>6} {'>100ms':>7} {'>1s':>6} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'max ms':>9} {'lock wait s':>12} {'migration s':>12}"
    )
    print(header)
    for (rows, name), r in results.items():
        print(row(rows, name, r))
    print(
        "\ntargets for planrun (adaptive batches): no transaction over 1 s, max under 50 ms, p99 within 2x of "
        "baseline, time within 1.5x of fixed 10k-row batches"
    )
    for (rows, name), ours in results.items():
        if name in ("baseline", "naive"):
            continue
        base, fixed, naive = (results[(rows, n)] for n in ("baseline", "fixed-10k", "naive"))
        print(
            f"  {rows:>10,} rows {name:<18}: over 1 s {ours['over_1s']}, max {ours['max'] * 1000:.1f} ms, "
            f"p99 {ours['p99'] / base['p99']:.2f}x baseline, time {ours['seconds'] / fixed['seconds']:.2f}x fixed-10k, "
            f"{ours['seconds'] / naive['seconds']:.2f}x naive"
        )


if __name__ == "__main__":
    main()
