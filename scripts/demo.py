"""The demo, end to end, against a throwaway local PostgreSQL that is removed at the end: a
failed plan rolled back, then expand (plans/demo.yaml) and contract (plans/demo-contract.yaml)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

from planrun.plugins.clusters.cluster import TempCluster

ROOT = Path(__file__).resolve().parent.parent
PLANRUN = str(Path(sys.executable).parent / "planrun")


def say(text: str) -> None:
    print(f"\n### {text}", flush=True)


def planrun(*args: str, env: dict) -> int:
    print(f"$ planrun {' '.join(args)}", flush=True)
    return subprocess.run([PLANRUN, *args], env=env, cwd=ROOT).returncode


def load(url: str) -> None:
    """The demo database: the base revision (000) and the sample data."""
    import psycopg2

    config = Config(str(ROOT / "migrations" / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", url.replace("postgresql://", "postgresql+psycopg2://").replace("%", "%%"))
    command.upgrade(config, "000")
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cursor:
        cursor.execute((ROOT / "tests" / "fixtures" / "sample_data.sql").read_text())
    conn.close()


def main() -> int:
    with TempCluster() as cluster:
        url = cluster.create_database("planrun_demo")
        say(
            f"throwaway PostgreSQL on 127.0.0.1:{cluster.port}; database planrun_demo at the base revision, with "
            "sample data"
        )
        load(url)
        env = dict(os.environ, DATABASE_URL=url)
        state = ["--state-dir", str(ROOT / ".planrun")]

        say("a plan whose post-check fails: the migration is rolled back by downgrade, and proven")
        failing = planrun("apply", "plans/demo-rollback.yaml", "--yes", *state, env=env)
        say("the dry run of the real plan")
        planrun("plan", "plans/demo.yaml", *state, env=env)
        say("the real plan: the expand step (users.status; products.description_new, dual-written and backfilled)")
        code = planrun("apply", "plans/demo.yaml", "--yes", *state, env=env)
        say(
            "lint of the contract step: its DROP COLUMN is allowed by the plan, with a reason, because the backup is "
            "verified by restore"
        )
        code = code or planrun("lint", "plans/demo-contract.yaml", "--from", "002", env=env)
        say("the contract step: gate, backup, restore-verified, then drop products.description")
        code = code or planrun("apply", "plans/demo-contract.yaml", "--yes", *state, env=env)
        say(
            "two databases in one run (plans/demo-pair.yaml): orders and billing, at the base revision with the "
            "sample data; first with a post-check on orders that cannot pass: both are rolled back, in reverse "
            "order, each proven"
        )
        pair = {}
        for name in ("orders", "billing"):
            pair[f"{name.upper()}_URL"] = target = cluster.create_database(f"planrun_demo_{name}")
            load(target)
        pair_env = dict(env, **pair)
        pair_failing = planrun("apply", "plans/demo-pair-rollback.yaml", "--yes", *state, env=pair_env)
        say("the same plan without that check: both databases move to 002 together")
        code = code or planrun("apply", "plans/demo-pair.yaml", "--yes", *state, env=pair_env)
        say("the journal")
        planrun("history", *state, env=env)
        if failing != 1 or pair_failing != 1:
            print(f"demo: expected the rollback plans to exit 1, got {failing} and {pair_failing}", file=sys.stderr)
            return 1
        return code


if __name__ == "__main__":
    sys.exit(main())
