"""planrun generate against the physical limit on this machine, in the same run.

The limit: ``INSERT ... SELECT ... FROM generate_series(...)``, the server making rows of the
same shape itself (no client, no parsing), into the same tables with the same indexes. planrun:
``generate`` on the demo schema at head (users and products, unique emails and SKUs, edge cases
at 5%), values made in Python and streamed with COPY. Each side runs on a fresh copy of the
empty schema, --rounds times, alternating; medians are reported. Goal: at least 0.5x the limit.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg2  # noqa: E402

from bench.common import alembic_config  # noqa: E402
from planrun.plugins.clusters.cluster import TempCluster  # noqa: E402
from planrun.plugins.datagen.generate import generate  # noqa: E402

# the demo schema at head, row shapes like planrun's: the server makes them itself
LIMIT = [
    "INSERT INTO users (email, name, created_at, status) SELECT 'user' || g || '@example.com', "
    "substr(md5(g::text), 1, 1 + g %% 20), timestamptz '2000-01-01' + g * interval '1 second', "
    "substr(md5((g * 7)::text), 1, 8) FROM generate_series(1, %(rows)s) g",
    "INSERT INTO products (sku, title, price_cents, description_new) SELECT 'sku-' || g, "
    "substr(md5(g::text), 1, 1 + g %% 24), g %% 1000000, substr(md5((g * 3)::text), 1, 1 + g %% 20) "
    "FROM generate_series(1, %(rows)s) g",
]


def empty_schema(cluster: TempCluster, name: str, workdir: Path) -> str:
    from alembic import command

    url = cluster.create_database(name)
    project = workdir / name
    shutil.copytree(ROOT / "migrations", project, ignore=shutil.ignore_patterns("__pycache__"))
    with alembic_config(project / "alembic.ini", url) as config:
        command.upgrade(config, "head")
    return url


def limit(url: str, rows: int) -> float:
    conn = psycopg2.connect(url)
    started = time.monotonic()
    with conn, conn.cursor() as cursor:
        for statement in LIMIT:
            cursor.execute(statement, {"rows": rows})
    conn.close()
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per table (2 tables)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="planrun-bench-generate-"))
    times: dict[str, list[float]] = {"limit": [], "planrun": []}
    with TempCluster() as cluster:
        cluster.execute("ALTER SYSTEM SET max_wal_size = '4GB'")
        cluster.execute("SELECT pg_reload_conf()")
        for round_ in range(args.rounds):
            for side in ("limit", "planrun"):
                name = f"{side}_{round_}"
                url = empty_schema(cluster, name, workdir)
                cluster.execute("CHECKPOINT")
                if side == "limit":
                    seconds = limit(url, args.rows)
                else:
                    seconds = generate(url, args.rows, seed=round_).seconds
                times[side].append(seconds)
                print(f"  round {round_ + 1} {side:<8} {seconds:6.2f} s", flush=True)
                cluster.drop_database(name)
    shutil.rmtree(workdir, ignore_errors=True)
    total = 2 * args.rows
    limit_s, ours = statistics.median(times["limit"]), statistics.median(times["planrun"])
    print(f"\n{total:,} rows (users and products, {args.rows:,} each), median of {args.rounds}:")
    print(f"  generate_series limit {limit_s:6.2f} s  {total / limit_s:>12,.0f} rows/s")
    print(f"  planrun generate      {ours:6.2f} s  {total / ours:>12,.0f} rows/s")
    print(f"  planrun / limit: {limit_s / ours:.2f}x the limit's speed (goal: at least 0.50x)")


if __name__ == "__main__":
    main()
