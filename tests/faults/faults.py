"""Helpers of the fault suite: runs of ``planrun apply`` as real processes that a test can kill
at a chosen step, and the looks at the database that say nothing was left behind."""

from __future__ import annotations

import contextlib
import glob
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from conftest import query
from planrun.plugins.clusters.cluster import wait_for

THIRDPARTY = str(Path(__file__).resolve().parent.parent / "thirdparty")


def with_fault_plugin(plan_text: str) -> str:
    """The plan with ``plugins: [fault_points]`` added."""
    return plan_text.replace("\ntarget:", "\nplugins: [fault_points]\ntarget:", 1)


def spawn_apply(
    demo,
    plan: Path,
    fault: str = "",
    marker: Path | None = None,
    args: list[str] | None = None,
    state_dir: str | None = None,
    env: dict | None = None,
) -> subprocess.Popen:
    """``planrun apply PLAN --yes`` in a process of its own (so that it can be killed), with the
    fault ``PLANRUN_FAULT`` armed; ``env`` adds variables (credentials of an S3 state dir)."""
    env = dict(
        os.environ,
        DATABASE_URL=demo.url,
        PYTHONPATH=THIRDPARTY,
        PLANRUN_FAULT=fault,
        PLANRUN_FAULT_MARKER=str(marker or ""),
        **(env or {}),
    )
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "planrun.engine.cli",
            "apply",
            str(plan),
            "--yes",
            "--state-dir",
            state_dir or demo.state_dir,
            *(args or []),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def run_pid(process: subprocess.Popen) -> int:
    """The pid of the process that runs the plan: planrun as a command runs ``apply`` in a
    child of the process started (its supervising parent, planrun.engine.supervise)."""
    try:
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    except OSError:
        return process.pid
    return int(children[0]) if children else process.pid


def kill9(process: subprocess.Popen) -> None:
    """``kill -9`` of planrun: the process started and the run's own process (its child) at
    once, as killing the whole command from a shell or a CI runner would."""
    pids = [process.pid] + ([run_pid(process)] if run_pid(process) != process.pid else [])
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait(timeout=10)
    for pid in pids[1:]:
        wait_for(lambda pid=pid: not Path(f"/proc/{pid}").exists(), timeout=10)
    if process.stdout:
        process.stdout.close()


def planrun_backends(url: str) -> list[tuple]:
    """Backends a planrun process opened on this database (lock, checks, migration)."""
    return query(
        url,
        "SELECT pid, application_name, state, left(query, 60) FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name LIKE 'planrun%%' AND pid <> pg_backend_pid()",
    )


def no_planrun_backends(url: str, timeout: float = 5.0) -> bool:
    return wait_for(lambda: not planrun_backends(url), timeout=timeout, interval=0.1)


def leftover_secret_files() -> list[str]:
    return glob.glob(os.path.join(tempfile.gettempdir(), "planrun-pgpass-*"))


def wait_for_file(path: Path, timeout: float = 30.0) -> bool:
    return wait_for(path.exists, timeout=timeout, interval=0.05)


# Rows of events whose label a backfill has set: true once ``n`` are done (false while the
# column does not exist yet, rather than an error).
BACKFILLED_AT_LEAST = "SELECT count(*) >= {n} FROM events WHERE to_jsonb(events) ->> 'label' IS NOT NULL"


def add_backfill_revision(demo, pause: float) -> None:
    """A table of 3,000 events at 002, and a revision 003 that labels them in batches of 100
    (each committed), ``pause`` seconds apart: long enough to be hit half-way."""
    from conftest import execute

    execute(
        demo.url,
        "CREATE TABLE events (id int PRIMARY KEY, kind text); "
        "INSERT INTO events SELECT g, 'old' FROM generate_series(1, 3000) g",
    )
    demo.add_revision(
        "003",
        "002",
        '    op.add_column("events", sa.Column("label", sa.Text()), if_not_exists=True)\n'
        f'    zdt.batched_backfill("events", set={{"label": "upper(kind)"}}, batch_size=100, pause={pause})\n',
        '    op.drop_column("events", "label")\n',
    )
