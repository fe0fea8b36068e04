"""What the monitor costs a migration: the demo's expand revision (002: add column, dual-write
trigger, batched backfill) applied with the monitor sampling every second against the monitor
switched off, in the same run, alternating, each on a fresh copy of the same database (the demo
schema at 001 with --rows products). Reported: the migrate step's median time each way, the
ratio (target: under 5% slower), and the queries per second the monitor sent.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg2  # noqa: E402

from bench.common import alembic_config  # noqa: E402
from planrun.engine import api  # noqa: E402
from planrun.engine.context import RunOptions  # noqa: E402
from planrun.plugins.clusters.cluster import TempCluster  # noqa: E402

PLAN = """\
version: 1
name: monitor-cost
target: {{url: "${{DATABASE_URL}}", alembic: {{config: ../migrations/alembic.ini}}}}
migrate: {{to: "002", lock_timeout: 5s}}
monitor: {monitor}
notify: []
"""


def make_template(cluster: TempCluster, folder: Path, rows: int) -> str:
    from alembic import command

    url = cluster.create_database("template_demo")
    with alembic_config(folder / "migrations" / "alembic.ini", url) as config:
        command.upgrade(config, "001")
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(
            "INSERT INTO products (id, sku, title, description, price_cents) "
            "SELECT g, 'sku-' || g, 'product ' || g, repeat(md5(g::text), 4), g % 10000 FROM generate_series(1, "
            f"{int(rows)}) g"
        )
        cursor.execute("VACUUM ANALYZE products")
    conn.close()
    return "template_demo"


def apply_once(cluster: TempCluster, folder: Path, template: str, n: int, monitored: bool) -> tuple[float, int]:
    """The migrate step's seconds and the monitor's queries in one apply."""
    database = f"run_{n}"
    url = cluster.create_database(database, template=template)
    plan = folder / "plans" / f"{database}.yaml"
    plan.write_text(PLAN.format(monitor="{every: 1s}" if monitored else "{enabled: false}"))
    os.environ["DATABASE_URL"] = url
    state = folder / "state" / database
    result = api.apply(str(plan), options=RunOptions(state_dir=str(state)), stream=io.StringIO())
    if result.exit_code != 0:
        raise SystemExit(f"apply failed: {result.error}")
    records = [json.loads(line) for path in state.rglob("*.jsonl") for line in path.read_text().splitlines()]
    migrate = next(r for r in records if r["event"] == "step_end" and r["step"] == "migrate")
    facts = next(r for r in records if r["event"] == "run_end")["facts"]
    cluster.drop_database(database)
    return migrate["duration"], facts.get("monitor", {}).get("queries", 0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_500_000, help="products to backfill")
    parser.add_argument("--repeat", type=int, default=3, help="applies each way, alternating")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="planrun-bench-monitor-"))
    shutil.copytree(ROOT / "migrations", folder / "migrations", ignore=shutil.ignore_patterns("__pycache__", "003_*"))
    (folder / "plans").mkdir()
    times = {False: [], True: []}
    queries = []
    with TempCluster() as cluster:
        template = make_template(cluster, folder, args.rows)
        for n in range(args.repeat * 2):
            monitored = n % 2 == 1
            seconds, sent = apply_once(cluster, folder, template, n, monitored)
            times[monitored].append(seconds)
            if monitored:
                queries.append(sent / seconds)
            print(
                f"  apply {n + 1}: monitor {'every 1s' if monitored else 'off'}: migrate {seconds:.2f} s"
                + (f", {sent} monitor queries" if monitored else ""),
                flush=True,
            )
    shutil.rmtree(folder, ignore_errors=True)
    off, on = statistics.median(times[False]), statistics.median(times[True])
    print(f"\ndemo backfill (002) of {args.rows:,} products, median of {args.repeat} applies each")
    print(f"  migrate, monitor off            {off:7.2f} s")
    print(f"  migrate, monitor every 1s       {on:7.2f} s")
    print(f"  ratio                           {on / off:7.3f}x  (target: under 1.05x)")
    print(f"  monitor queries per second      {statistics.median(queries):7.2f}")


if __name__ == "__main__":
    main()
