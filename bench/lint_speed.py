"""planrun lint on a long history: a generated Alembic project of --revisions revisions (default
120: a table created, then columns added, indexed concurrently, backfilled and altered in
turn), linted as a command (a fresh process, imports included), --rounds times; the median is
reported against plain `alembic upgrade base:head --sql` (Alembic rendering the same SQL
offline) in the same run. Goal: the whole lint under 5 s here. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# a group of four revisions per column: add it, index it concurrently, backfill it, alter it
GROUP = [
    ('    op.add_column("items", sa.Column("c{n}", sa.Text))', '    op.drop_column("items", "c{n}")'),
    (
        '    zdt.create_index_concurrently("ix_items_c{n}", "items", ["c{n}"])',
        '    zdt.drop_index_concurrently("ix_items_c{n}")',
    ),
    (
        '    zdt.batched_backfill("items", set={{"c{n}": "\'x\'"}})',
        '    pass  # planrun: allow empty-downgrade reason="bench"',
    ),
    (
        '    op.alter_column("items", "c{n}", server_default="y")',
        '    op.alter_column("items", "c{n}", server_default=None)',
    ),
]


def make_project(folder: Path, revisions: int) -> Path:
    shutil.copytree(ROOT / "migrations", folder, ignore=shutil.ignore_patterns("__pycache__", "versions"))
    versions = folder / "versions"
    versions.mkdir()
    previous = None
    for n in range(revisions):
        if n == 0:
            body, down = (
                '    op.create_table("items", sa.Column("id", sa.BigInteger, primary_key=True))',
                '    op.drop_table("items")',
            )
        else:
            step = (n - 1) % 4
            body, down = (text.format(n=n - step) for text in GROUP[step])
        name = f"r{n:03d}"
        (versions / f"{name}.py").write_text(
            f'"""revision {n}"""\nfrom alembic import op\nimport sqlalchemy as sa\nfrom planrun import zdt\n\n'
            f"revision = {name!r}\ndown_revision = {previous!r}\nbranch_labels = None\ndepends_on = None\n\n\n"
            f"def upgrade():\n{body}\n\n\ndef downgrade():\n{down}\n"
        )
        previous = name
    return folder / "alembic.ini"


def timed(command: list[str], cwd: Path) -> float:
    started = time.monotonic()
    subprocess.run(command, cwd=cwd, capture_output=True, check=False)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--revisions", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="planrun-bench-lint-"))
    ini = make_project(work / "project", args.revisions)
    bin_dir = Path(sys.executable).parent
    lint = [str(bin_dir / "planrun"), "lint", "--alembic-config", str(ini)]
    alembic = [str(bin_dir / "alembic"), "-c", str(ini), "upgrade", "base:head", "--sql"]
    times = {"planrun lint": [], "alembic --sql": []}
    for _ in range(args.rounds):
        times["planrun lint"].append(timed(lint, work))
        times["alembic --sql"].append(timed(alembic, work))
    done = subprocess.run(lint, cwd=work, capture_output=True, text=True)
    shutil.rmtree(work, ignore_errors=True)
    print(f"{args.revisions} revisions, median of {args.rounds} runs (fresh processes, imports included):")
    for label, values in times.items():
        print(f"  {label:<14} {statistics.median(values):6.2f} s")
    ratio = statistics.median(times["planrun lint"]) / statistics.median(times["alembic --sql"])
    print(f"  lint / alembic's own offline rendering: {ratio:.2f}x (goal: lint under 5 s)")
    print(f"  lint said: {done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr.strip()[-200:]}")


if __name__ == "__main__":
    main()
