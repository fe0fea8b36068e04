"""How long planrun takes to start, against Alembic's own command line in the same run.

Each command is a fresh process, as a user types it: `planrun --help`, `planrun validate
plans/demo.yaml` and, in-process, a second `validate` (what a test suite or an editor pays once
planrun is imported); the baselines are `python -c pass` (the interpreter alone) and `alembic
--help`. Rounds alternate between the commands; medians are printed with the ratio to `alembic
--help` and the goal of issue 30 beside it (`planrun --help` under 0.15 s). Byte-compiled files
are written first (as `pip install` does), so no side pays for compiling. Asserts nothing.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _seconds(argv: list[str]) -> float:
    env = dict(os.environ, DATABASE_URL="postgresql://u@h/d")
    started = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - started


def _in_process_validate(rounds: int) -> float:
    code = (
        "import contextlib, io, os, time, statistics; os.environ['DATABASE_URL'] = 'postgresql://u@h/d'\n"
        "from planrun.engine.cli import main\n"
        "def once():\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        "        main(['validate', 'plans/demo.yaml'])\n"
        "once(); times = []\n"
        f"for _ in range({rounds}):\n"
        "    t = time.perf_counter(); once(); times.append(time.perf_counter() - t)\n"
        "print(statistics.median(times))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    compileall.compile_dir(str(ROOT / "planrun"), quiet=1)
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "alembic --help": [str(BIN / "alembic"), "--help"],
        "planrun --help": [str(BIN / "planrun"), "--help"],
        "planrun validate plans/demo.yaml": [str(BIN / "planrun"), "validate", "plans/demo.yaml"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.rounds):
        for name, argv in commands.items():
            times[name].append(_seconds(argv))
    medians = {name: statistics.median(values) for name, values in times.items()}
    medians["validate again, in-process"] = _in_process_validate(args.rounds)
    alembic = medians["alembic --help"]
    goals = {"planrun --help": "< 0.15 s (issue 30)", "validate again, in-process": "-"}
    print(f"median of {args.rounds} alternating rounds; ratio against `alembic --help` in the same run")
    print("| command | seconds | vs alembic --help | goal |\n|---|---:|---:|---|")
    for name, seconds in medians.items():
        print(f"| `{name}` | {seconds:.3f} | {seconds / alembic:.2f}x | {goals.get(name, '')} |")


if __name__ == "__main__":
    main()
