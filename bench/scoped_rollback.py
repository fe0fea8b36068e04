"""Rollback at any size: the same failed migration on the same database, backed up whole
(`backup.scope: database`) and scoped to what it touches (`scope: touched`), in one run.

The database (about 1.2 GB by default): `events`, a large table the migration never touches,
and `accounts`, about 5% of the size, whose `note` column the migration drops. A post-check then
fails, and `downgrade-then-restore` rolls back: the downgrade re-adds the column empty, its data
proof fails, the restore brings the notes back (the whole database, or the rows of `accounts`).
Both runs start from a copy of the same template. Reported from each run's journal: the
preamble (backup, its verification by restore, the pre-run fingerprint) and the rollback.
Goal: the scoped rollback takes no more than the touched share of the whole one's time, plus a
fixed cost under 2 s.

Then the cost of the proofs (issue 24: the write record, the writes-by-others check, the exact
scope): the same failed scoped apply, as a command, with this tree and with the tree of
``--before`` (default: the commit before that work), alternating, median of ``--rounds``.
Goal: at most 1.2x. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg2  # noqa: E402

from bench.common import alembic_config  # noqa: E402
from planrun.engine.cli import main as planrun  # noqa: E402
from planrun.plugins.clusters.cluster import TempCluster  # noqa: E402

REVISION = '''"""{name}"""
from alembic import op
import sqlalchemy as sa

revision = "{name}"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
{up}


def downgrade():
{down_body}
'''
CREATE = (
    '    op.create_table("accounts", sa.Column("id", sa.BigInteger, primary_key=True), sa.Column("note", sa.Text))\n'
    '    op.create_table("events", sa.Column("id", sa.BigInteger, primary_key=True), sa.Column("body", sa.Text))'
)
PLAN = """version: 1
name: bench-{scope}
target: {{url: '{url}', alembic: {{config: alembic.ini}}}}
migrate: {{to: b2, statement_timeout: 30min}}
backup: {{to: '{backups}/{{name}}/{{run_id}}/', verify: restore, scope: {scope}}}
checks:
  post:
    - name: the release still reads accounts.note
      sql: "SELECT count(*) FROM information_schema.columns
            WHERE table_name = 'accounts' AND column_name = 'note'"
      expect: 1
lint: {{allow: {{drop-column: bench}}}}
rollback: {{strategy: downgrade-then-restore, within: 1h}}
"""


def make_project(folder: Path) -> Path:
    shutil.copytree(ROOT / "migrations", folder, ignore=shutil.ignore_patterns("__pycache__", "versions"))
    versions = folder / "versions"
    versions.mkdir()
    (versions / "b1.py").write_text(
        REVISION.format(
            name="b1", down=None, up=CREATE, down_body='    op.drop_table("events")\n    op.drop_table("accounts")'
        )
    )
    (versions / "b2.py").write_text(
        REVISION.format(
            name="b2",
            down="b1",
            up='    op.drop_column("accounts", "note")',
            down_body='    op.add_column("accounts", sa.Column("note", sa.Text))',
        )
    )
    return folder / "alembic.ini"


def make_template(cluster: TempCluster, ini: Path, events: int, accounts: int) -> str:
    from alembic import command

    url = cluster.create_database("template_bench")
    with alembic_config(ini, url) as config:
        command.upgrade(config, "b1")
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("INSERT INTO events SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, %s) g", (events,))
        cursor.execute(
            "INSERT INTO accounts SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, %s) g", (accounts,)
        )
        cursor.execute("VACUUM ANALYZE")
        cursor.execute(
            "SELECT pg_size_pretty(pg_database_size(current_database())), "
            "pg_size_pretty(pg_total_relation_size('accounts')), "
            "round(100.0 * pg_total_relation_size('accounts') / pg_database_size(current_database()), 1)"
        )
        total, touched, share = cursor.fetchone()
    conn.close()
    print(f"  database {total}; accounts (touched) {touched}, {share}% of it", flush=True)
    return "template_bench"


def run(cluster: TempCluster, template: str, ini: Path, scope: str, workdir: Path) -> dict:
    name = f"bench_{scope}"
    url = cluster.create_database(name, template=template)
    state = workdir / f"state-{scope}"
    plan = ini.parent / f"plan-{scope}.yaml"
    plan.write_text(PLAN.format(scope=scope, url=url, backups=workdir / "backups"))
    started = time.monotonic()
    code = planrun(["apply", str(plan), "--yes", "--state-dir", str(state)])
    total = time.monotonic() - started
    records = [json.loads(line) for path in state.rglob("*.jsonl") for line in path.read_text().splitlines()]
    steps = {r["step"]: r.get("duration", 0.0) for r in records if r["event"] == "step_end"}
    steps["snapshot"] = next((r.get("duration", 0.0) for r in records if r["event"] == "snapshot"), 0.0)
    conn = psycopg2.connect(url)
    with conn.cursor() as cursor:
        cursor.execute("SELECT count(note) FROM accounts")
        notes = cursor.fetchone()[0]
    conn.close()
    cluster.drop_database(name)
    return {"exit": code, "total": total, "steps": steps, "notes": notes}


BEFORE_PROOFS = "1f634b2"  # the last commit before the proofs of issue 24


def as_command(cluster: TempCluster, template: str, ini: Path, workdir: Path, tree: Path | None, n: int) -> float:
    """One failed scoped apply run as ``python -m planrun.engine.cli`` (``tree``: another
    checkout of planrun, first on the path), its wall time."""
    name = f"bench_cmd_{n}"
    url = cluster.create_database(name, template=template)
    plan = ini.parent / f"plan-cmd-{n}.yaml"
    plan.write_text(PLAN.format(scope="touched", url=url, backups=workdir / "backups"))
    env = dict(os.environ, PYTHONPATH=str(tree)) if tree else dict(os.environ)
    state = workdir / f"state-cmd-{n}"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "planrun.engine.cli", "apply", str(plan), "--yes", "--state-dir", str(state)],
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - started
    if done.returncode != 1:
        print(done.stdout[-2000:], done.stderr[-2000:])
    cluster.drop_database(name)
    return seconds


def proof_cost(cluster: TempCluster, template: str, ini: Path, workdir: Path, before: str, rounds: int) -> None:
    tree = workdir / "before"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), before], check=True, capture_output=True
    )
    try:
        times: dict[str, list[float]] = {"before": [], "now": []}
        for n in range(rounds):
            times["before"].append(as_command(cluster, template, ini, workdir, tree, 2 * n))
            times["now"].append(as_command(cluster, template, ini, workdir, None, 2 * n + 1))
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True)
    old, new = statistics.median(times["before"]), statistics.median(times["now"])
    print(f"\nproof cost, failed apply with scope: touched, as a command (median of {rounds} alternating rounds)")
    print(f"  before the proofs ({before}): {old:.2f} s  {[round(t, 2) for t in times['before']]}")
    print(f"  now:                          {new:.2f} s  {[round(t, 2) for t in times['now']]}")
    print(f"  ratio: {new / old:.2f}x (goal: at most 1.2x)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=7_500_000, help="rows of the untouched table")
    parser.add_argument("--accounts", type=int, default=375_000, help="rows of the touched table")
    parser.add_argument("--before", default=BEFORE_PROOFS, help="the commit to compare the proofs' cost with")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="planrun-bench-scoped-"))
    os.environ.pop("DATABASE_URL", None)
    with TempCluster() as cluster:
        cluster.execute("ALTER SYSTEM SET max_wal_size = '4GB'")
        cluster.execute("SELECT pg_reload_conf()")
        ini = make_project(workdir / "project")
        print("generating ...", flush=True)
        template = make_template(cluster, ini, args.events, args.accounts)
        results = {scope: run(cluster, template, ini, scope, workdir) for scope in ("database", "touched")}
        proof_cost(cluster, template, ini, workdir, args.before, args.rounds)
    shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{'':<28}{'scope: database':>18}{'scope: touched':>18}{'ratio':>8}")
    rows = [
        ("backup", "backup"),
        ("verification by restore", "verify-backup"),
        ("pre-run fingerprint", "snapshot"),
        ("rollback: downgrade", "rollback-downgrade"),
        ("rollback: restore", "rollback-restore"),
    ]
    for label, step in rows:
        whole, scoped = (results[s]["steps"].get(step, 0.0) for s in ("database", "touched"))
        print(f"{label:<28}{whole:>16.2f} s{scoped:>16.2f} s{scoped / whole if whole else 0:>8.2f}")
    whole, scoped = (results[s]["total"] for s in ("database", "touched"))
    print(f"{'whole apply (exit 1)':<28}{whole:>16.2f} s{scoped:>16.2f} s{scoped / whole:>8.2f}")
    for scope, result in results.items():
        print(f"  {scope}: exit {result['exit']}, notes back: {result['notes']:,} of {args.accounts:,}")


if __name__ == "__main__":
    main()
