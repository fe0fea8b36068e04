"""Backup and restore figures on a generated database (default about 1 GB), measured side by side
in one run on a throwaway cluster:

- planrun's backup + checksum verification vs plain `pg_dump -Fc` to a local file (target <= 0.40x)
  and vs `pg_dump | gzip`;
- planrun's restore (the rollback path: fetch + verify checksum + clear + pg_restore -j2 + prove)
  vs plain `pg_restore -j2` of the same data into an empty database (target <= 1.10x), alternating,
  medians of --rounds; from it the largest database restorable within the 5-minute rollback budget;
- `verify: restore` cost against the backup's own time.

Usage: python bench/backup_restore.py [--rows N] [--rounds N]   (prints figures; asserts nothing)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planrun.plugins.backup.archive import verify_checksums  # noqa: E402
from planrun.plugins.backup.dump import take_backup  # noqa: E402
from planrun.plugins.backup.restore import restore_into_scratch, restore_target  # noqa: E402
from planrun.plugins.backup.storage import location  # noqa: E402
from planrun.plugins.clusters.cluster import TempCluster  # noqa: E402
from planrun.plugins.pg.tools import libpq_env, pg_program  # noqa: E402


def timed(label: str, action) -> float:
    started = time.monotonic()
    action()
    seconds = time.monotonic() - started
    print(f"  {label:<58} {seconds:8.2f} s", flush=True)
    return seconds


def sh(command: str, env: dict) -> None:
    subprocess.run(["bash", "-o", "pipefail", "-c", command], env=env, check=True)


def generate(url: str, rows: int) -> None:
    import psycopg2

    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("""
            CREATE TABLE customers (id bigint PRIMARY KEY, email text NOT NULL, name text NOT NULL,
                                    created_at timestamptz NOT NULL);
            CREATE TABLE events (id bigint PRIMARY KEY, customer_id bigint NOT NULL, kind text NOT NULL,
                                 payload text NOT NULL, amount numeric(12,2), created_at timestamptz NOT NULL);
        """)
        cursor.execute(f"""INSERT INTO customers SELECT g, 'user' || g || '@example.com', 'Customer ' || g,
                           now() - (g % 1000) * interval '1 hour' FROM generate_series(1, {rows // 20}) g""")
        step = 1_000_000
        for start in range(1, rows + 1, step):
            cursor.execute(f"""
                INSERT INTO events SELECT g, 1 + g % {rows // 20}, (ARRAY['view','click','buy','refund'])[1 + g % 4],
                       md5(g::text) || ' ' || md5((g * 7)::text) || ' session=' || (g % 9973)
                           || ' ua=Mozilla/5.0 (X11; Linux x86_64)',
                       (g % 10000) / 100.0, now() - (g % 100000) * interval '1 second'
                FROM generate_series({start}, {min(start + step - 1, rows)}) g""")
        cursor.execute("CREATE INDEX ix_events_customer ON events (customer_id)")
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("SELECT pg_database_size(current_database())")
        size = cursor.fetchone()[0]
    conn.close()
    print(f"  generated: {rows:,} events, database size {size / 2**30:.2f} GiB", flush=True)
    return size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=6_000_000, help="rows in the events table (6M is about 1 GiB)")
    parser.add_argument("--rounds", type=int, default=3, help="restore rounds (plain and planrun alternating)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="planrun-bench-"))
    with TempCluster() as cluster:
        # no autovacuum: the vacuum that follows one restore would land in the next one's time
        cluster.execute("ALTER SYSTEM SET autovacuum = off")
        cluster.execute("SELECT pg_reload_conf()")
        url = cluster.create_database("bench")
        print("generating the database ...", flush=True)
        size = generate(url, args.rows)
        with libpq_env(url) as env:
            env["PATH"] = f"{os.path.dirname(pg_program('pg_dump'))}:{env.get('PATH', '')}"
            print("backup:", flush=True)
            plain = timed("plain pg_dump -Fc > file", lambda: sh(f"pg_dump -Fc -f {work}/plain.pgc", env))
            gzip = timed("pg_dump | gzip > file", lambda: sh(f"pg_dump | gzip > {work}/plain.sql.gz", env))
            where = location(str(work / "planrun"))
            holder = {}

            def backup_and_checksum():
                holder["manifest"] = take_backup(
                    url, where, plan="bench", run_id="r1", revision=None, format="custom", compression="zstd", jobs=2
                )
                verify_checksums(where, holder["manifest"])

            ours = timed("planrun backup (zstd) + checksum verification", backup_and_checksum)
            manifest = holder["manifest"]
            print(f"restore (plain and planrun alternating, {args.rounds} rounds; medians):", flush=True)
            restore_url = cluster.url("restored")
            bases, ourses = [], []
            for _ in range(args.rounds):
                cluster.drop_database("restored")
                cluster.create_database("restored")
                cluster.execute("CHECKPOINT")
                bases.append(
                    timed(
                        "plain pg_restore -j2 of the pg_dump -Fc file",
                        lambda: sh(f"pg_restore -j2 --exit-on-error -d restored {work}/plain.pgc", env),
                    )
                )
                cluster.execute("CHECKPOINT")
                ourses.append(
                    timed(
                        "planrun restore over it (fetch, verify, clear, pg_restore -j2, prove)",
                        lambda: restore_target(restore_url, where, manifest, 2),
                    )
                )
            base, ours_restore = statistics.median(bases), statistics.median(ourses)
            verify_restore = timed(
                "planrun verify: restore (scratch database)", lambda: restore_into_scratch(url, where, manifest, 2)
            )
    sizes = {name: (work / name).stat().st_size for name in ("plain.pgc", "plain.sql.gz")}
    shutil.rmtree(work, ignore_errors=True)
    gib = size / 2**30
    print("\nfigures:")
    print(f"  database size                         {gib:.2f} GiB")
    print(
        f"  backup files: pg_dump -Fc {sizes['plain.pgc'] / 2**20:.0f} MiB, pg_dump|gzip "
        f"{sizes['plain.sql.gz'] / 2**20:.0f} MiB, planrun zstd {manifest.size / 2**20:.0f} MiB"
    )
    print(f"  planrun backup+checksum / pg_dump -Fc  {ours / plain:.2f}x   (target <= 0.40x)")
    print(f"  planrun backup+checksum / pg_dump|gzip {ours / gzip:.2f}x")
    print(f"  planrun restore / pg_restore -j2        {ours_restore / base:.2f}x   (target <= 1.10x)")
    print(
        f"  largest database restorable in 5 min   planrun {gib * 300 / ours_restore:.1f} GiB, plain pg_restore "
        f"{gib * 300 / base:.1f} GiB"
    )
    print(f"  verify: restore / backup time           {verify_restore / ours:.2f}x")


if __name__ == "__main__":
    main()
