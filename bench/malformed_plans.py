"""What a malformed plan costs to refuse: every generated case of the fault suite
(tests/faults/test_malformed_plans.py: the YAML bomb, deep nesting, a 16 MB file, 60,000 unknown
keys, wrong types everywhere...), validated in a fresh process as a user would, its wall time
and peak memory. Baseline, measured in the same run: the same process validating the small
valid plan those cases are made from. Goals: each case under 2 s and 200 MB. Prints figures;
asserts nothing (the suite checks exit codes, messages and memory; time belongs here).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "faults"))

from test_malformed_plans import BASE, CASES  # noqa: E402

CHILD = (
    "import sys; from planrun.engine.cli import main; code = main(sys.argv[1:]); "
    "print(open('/proc/self/status').read().split('VmHWM:')[1].split()[0]); sys.exit(code)"
)


def measure(folder: Path, content: bytes, rounds: int = 3) -> tuple[float, int, int]:
    plan = folder / "plan.yaml"
    plan.write_bytes(content)
    env = dict(os.environ, DATABASE_URL="postgresql://u:p@localhost:1/x")
    times, peak, code = [], 0, 0
    for _ in range(rounds):
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-c", CHILD, "validate", str(plan)], env=env, capture_output=True, text=True, cwd=folder
        )
        times.append(time.monotonic() - started)
        peak, code = max(peak, int(done.stdout.split()[-1])), done.returncode
    return statistics.median(times), peak, code


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="planrun-bench-malformed-"))
    base_time, base_peak, _ = measure(folder, BASE.encode())
    print(f"baseline (the valid plan): {base_time:.2f} s, {base_peak // 1024} MB")
    print(f"{'case':<34}{'exit':>5}{'time':>9}{'ratio':>8}{'peak':>9}")
    worst = 0.0
    for name, content in sorted(CASES.items()):
        seconds, peak, code = measure(folder, content, rounds=1)
        worst = max(worst, seconds)
        flag = "" if seconds < 2 and peak < 200 * 1024 else "  OVER GOAL"
        print(f"{name:<34}{code:>5}{seconds:>8.2f}s{seconds / base_time:>7.1f}x{peak // 1024:>7} MB{flag}")
    print(f"slowest case {worst:.2f} s (goal: under 2 s each, 200 MB each)")


if __name__ == "__main__":
    main()
