"""The stairway at volume on the demo: ``planrun test --rows N`` (default 1,000,000 rows per
table), with and without a client load (--load, default 200 transactions/s), printing each
revision's table (duration, the longest lock blocking writers on an existing table, rewrites,
client p99 against the baseline, the longest client wait) and the whole run's time against the
stairway on the demo's empty tables, in the same run. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from planrun.plugins.stairway.commands import StairwayOptions, print_report, test  # noqa: E402


def run(**options) -> tuple[float, object]:
    started = time.monotonic()
    report = test(alembic_config=str(ROOT / "migrations" / "alembic.ini"), options=StairwayOptions(**options))
    return time.monotonic() - started, report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--load", type=float, default=200.0)
    args = parser.parse_args()
    empty, _ = run()
    volume, report = run(rows=args.rows)
    print_report(report)
    loaded, report = run(rows=args.rows, load=args.load)
    print_report(report)
    print("\nplanrun test on the demo (4 revisions), whole runs including the throwaway cluster:")
    print(f"  empty tables                         {empty:7.1f} s")
    print(f"  {args.rows:>9,} rows per table             {volume:7.1f} s")
    print(f"  {args.rows:>9,} rows, {args.load:.0f} client tx/s      {loaded:7.1f} s")


if __name__ == "__main__":
    main()
