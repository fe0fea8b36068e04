"""Fleet throughput: N small tenant databases on one local cluster migrated to 001 by
(a) a shell loop of plain `alembic upgrade` per database (the baseline), and (b) one planrun
fleet worker at concurrency 1, 2 and 4, each target a full planrun run (lock, pre- and
post-checks, the target guard, history records, migrate, proof-ready snapshots). Prints the
seconds of each, the ratio to the baseline, and planrun's time per target.

    python bench/fleet_throughput.py [N]      # default 200; the figures in bench/README.md
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from planrun.plugins.clusters.cluster import TempCluster  # noqa: E402

PLAN = """\
version: 1
name: bench-fleet
target: {{url: "${{SERVER_URL}}/{{name}}", alembic: {{config: {ini}}}}}
migrate: {{to: "001"}}
history: {{enabled: {history}}}
monitor: {{enabled: false}}
fleet:
  targets: {{file: tenants.txt}}
  control: "${{CONTROL_URL}}"
  canary: 1
  batch: 25%
  concurrency: {concurrency}
  max_failures: 1
checks:
  post:
    - {{name: every user has a status, sql: "SELECT count(*) FROM users WHERE status IS NULL", expect: 0}}
"""


def fresh_fleet(cluster: TempCluster, names: list[str]) -> None:
    for name in [*names, "bench_control"]:
        cluster.drop_database(name)
    for name in names:
        cluster.execute(f'CREATE DATABASE "{name}" TEMPLATE "bench_template"')
    cluster.create_database("bench_control")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    ini = ROOT / "migrations" / "alembic.ini"
    names = [f"tenant_{i:04d}" for i in range(count)]
    with TempCluster() as cluster, tempfile.TemporaryDirectory() as work:
        template = cluster.create_database("bench_template")
        alembic = str(Path(sys.executable).parent / "alembic")
        env = dict(os.environ)
        base = template.rsplit("/", 1)[0]
        driver_base = base.replace("postgresql://", "postgresql+psycopg2://").replace("%", "%%")
        from alembic import command

        from bench.common import alembic_config

        with alembic_config(ini, template) as config:
            command.upgrade(config, "000")
        loop = Path(work) / "loop.sh"
        loop.write_text(
            f"set -e\ncd {ini.parent}\n"
            f"for db in {' '.join(names)}; do\n"
            f'  sed -e "s#^sqlalchemy.url = .*#sqlalchemy.url = {driver_base}/$db#" '
            f'-e "s#^script_location = .*#script_location = {ini.parent}#" {ini} > {work}/loop.ini\n'
            f"  {alembic} -c {work}/loop.ini upgrade 001 > /dev/null\n"
            "done\n"
        )
        fresh_fleet(cluster, names)
        started = time.monotonic()
        looped = subprocess.run(["bash", str(loop)], env=env, capture_output=True, text=True)
        if looped.returncode != 0:
            raise SystemExit(f"the alembic loop failed: {looped.stderr[-2000:]}")
        baseline = time.monotonic() - started
        print(f"{count} databases to 001 on one local cluster (2 cores)")
        print(
            f"  shell loop of plain alembic upgrade: {baseline:7.1f} s  ({baseline / count * 1000:.0f} ms a database)"
        )
        (Path(work) / "tenants.txt").write_text("\n".join(names) + "\n")
        for history in ("true", "false"):
            for concurrency in (1, 2, 4):
                plan = Path(work) / "fleet.yaml"
                plan.write_text(PLAN.format(ini=ini, concurrency=concurrency, history=history))
                fresh_fleet(cluster, names)
                control = base + "/bench_control"
                started = time.monotonic()
                result = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "planrun.engine.cli",
                        "fleet-apply",
                        str(plan),
                        "--yes",
                        "--state-dir",
                        str(Path(work) / f"state{concurrency}{history}"),
                    ],
                    env=dict(env, SERVER_URL=base, CONTROL_URL=control),
                    capture_output=True,
                    text=True,
                )
                seconds = time.monotonic() - started
                if result.returncode != 0:
                    print(result.stdout[-3000:], result.stderr[-2000:])
                    raise SystemExit(f"the fleet run failed (exit {result.returncode})")
                print(
                    f"  planrun fleet, concurrency {concurrency}, history {history:<5}: {seconds:7.1f} s  "
                    f"({seconds / baseline:.2f}x the loop; {seconds / count * 1000:.0f} ms a database)"
                )


if __name__ == "__main__":
    main()
