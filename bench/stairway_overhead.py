"""planrun's stairway against plain Alembic on the same project, in the same run.

Plain: `alembic upgrade head && alembic downgrade base && alembic upgrade head` (three commands,
in-process). planrun: `planrun test` (every revision upgraded, fingerprinted (schema and data),
downgraded, compared, upgraded again). Both on the same throwaway cluster, the same generated
project (--revisions, default 30) and the same data (--rows per table).
The same again as commands typed in a shell (three alembic processes; one planrun process).
Target: under 2x per revision. Each side runs --rounds times, alternating; medians are
reported. Prints figures; asserts nothing.
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

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import alembic_config  # noqa: E402
from planrun.plugins.clusters.cluster import TempCluster  # noqa: E402
from planrun.plugins.stairway.commands import StairwayOptions, test  # noqa: E402

REVISION = '''"""step {n}: {what}"""
from alembic import op
import sqlalchemy as sa

revision = "r{n:03d}"
down_revision = {down}
branch_labels = None
depends_on = None


def upgrade():
{up}


def downgrade():
{downgrade}
'''


def make_project(folder: Path, revisions: int, rows: int) -> Path:
    shutil.copy(ROOT / "migrations" / "env.py", folder / "env.py")
    shutil.copy(ROOT / "migrations" / "script.py.mako", folder / "script.py.mako")
    shutil.copy(ROOT / "migrations" / "alembic.ini", folder / "alembic.ini")
    versions = folder / "versions"
    versions.mkdir()
    for n in range(revisions):
        down = f'"r{n - 1:03d}"' if n else "None"
        table = f"t{n // 3}"
        kind = n % 3
        if kind == 0:
            what = f"create {table} with {rows} rows"
            up = (
                f'    op.create_table("{table}", sa.Column("id", sa.Integer, primary_key=True), sa.Column("v", '
                "sa.Text))\n"
                f'    op.execute("INSERT INTO {table} SELECT g, md5(g::text) FROM generate_series(1, {rows}) g")'
            )
            down_body = f'    op.drop_table("{table}")'
        elif kind == 1:
            what = f"add {table}.w, backfilled"
            up = (
                f'    op.add_column("{table}", sa.Column("w", sa.Integer))\n'
                f'    op.execute("UPDATE {table} SET w = id % 7")'
            )
            down_body = f'    op.drop_column("{table}", "w")'
        else:
            what = f"index {table}.w"
            up = f'    op.create_index("ix_{table}_w", "{table}", ["w"])'
            down_body = f'    op.drop_index("ix_{table}_w", table_name="{table}")'
        (versions / f"r{n:03d}.py").write_text(REVISION.format(n=n, what=what, down=down, up=up, downgrade=down_body))
    return folder / "alembic.ini"


def plain_alembic(ini: Path, url: str) -> float:
    from alembic import command

    with alembic_config(ini, url) as config:
        started = time.monotonic()
        command.upgrade(config, "head")
        command.downgrade(config, "base")
        command.upgrade(config, "head")
        return time.monotonic() - started


def plain_alembic_cli(ini: Path, url: str) -> float:
    """The three commands as a user types them: three processes, the URL in the ini."""
    text = ini.read_text().replace(
        "postgresql://localhost/planrun_demo", url.replace("postgresql://", "postgresql+psycopg2://").replace("%", "%%")
    )
    cli_ini = ini.with_name("cli.ini")
    cli_ini.write_text(text)
    alembic = str(Path(sys.executable).parent / "alembic")
    chain = " && ".join(f"{alembic} -c {cli_ini} {verb}" for verb in ("upgrade head", "downgrade base", "upgrade head"))
    started = time.monotonic()
    subprocess.run(["bash", "-c", chain], cwd=ini.parent, check=True, capture_output=True)
    return time.monotonic() - started


def planrun_cli(ini: Path, server_url: str) -> float:
    started = time.monotonic()
    subprocess.run(
        [str(Path(sys.executable).parent / "planrun"), "test", "--alembic-config", str(ini), "--url", server_url],
        check=True,
        capture_output=True,
    )
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--revisions", type=int, default=30)
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="planrun-bench-stairway-"))
    ini = make_project(folder, args.revisions, args.rows)
    plains, ourses, plain_clis, our_clis = [], [], [], []
    with TempCluster() as cluster:
        for round_ in range(args.rounds):
            plains.append(plain_alembic(ini, cluster.create_database(f"plain{round_}")))
            started = time.monotonic()
            report = test(
                alembic_config=str(ini),
                options=StairwayOptions(server_url=cluster.url("postgres")),
                stream=open(os.devnull, "w"),
            )
            ourses.append(time.monotonic() - started)
            assert report.ok, [c for c in report.cases if c.outcome == "failed"]
            plain_clis.append(plain_alembic_cli(ini, cluster.create_database(f"plain_cli{round_}")))
            our_clis.append(planrun_cli(ini, cluster.url("postgres")))
    shutil.rmtree(folder, ignore_errors=True)
    plain, ours = statistics.median(plains), statistics.median(ourses)
    plain_cli, our_cli = statistics.median(plain_clis), statistics.median(our_clis)
    n = args.revisions
    print(
        f"project: {n} revisions, {args.rows} rows per table ({(n + 2) // 3} tables); median of {args.rounds} rounds "
        "each"
    )
    print(f"  plain alembic up/down/up        {plain:7.2f} s   {plain / n * 1000:7.1f} ms per revision")
    print(f"  planrun test (stairway)         {ours:7.2f} s   {ours / n * 1000:7.1f} ms per revision")
    print(f"  overhead ratio                  {ours / plain:7.2f}x  (target < 2x; pytest-alembic users report ~3x)")
    print("as commands typed in a shell (process start and imports included):")
    print(f"  alembic upgrade head && alembic downgrade base && alembic upgrade head  {plain_cli:7.2f} s")
    print(f"  planrun test --alembic-config alembic.ini --url ...                    {our_cli:7.2f} s")
    print(f"  overhead ratio                  {our_cli / plain_cli:7.2f}x")
    print(f"  {report.coverage()}")


if __name__ == "__main__":
    main()
