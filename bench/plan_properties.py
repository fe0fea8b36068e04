"""What a drawn plan costs to validate (issue 26): plans drawn as the property suite draws them
(tests/engine/plan_strategies.py: from planrun's JSON Schema, then mutated with the values that
once crashed a later command), each validated in a fresh process as a user would, its wall time
and peak memory. Baseline, measured in the same run: the same process validating
plans/demo.yaml. Goals: each case under 2 s and 200 MB. Prints figures; asserts nothing.

    python bench/plan_properties.py [N]      # N drawn plans of each kind (default 40)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "engine"))
sys.path.insert(0, str(ROOT / "tests" / "faults"))
sys.path.insert(0, str(ROOT))

from plan_strategies import mutated_plans, schema_plans  # noqa: E402

from bench.malformed_plans import measure  # noqa: E402


def drawn(strategy, count: int) -> list:
    plans: list = []

    @settings(max_examples=count, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(plan):
        plans.append(plan)

    collect()
    return plans


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    folder = Path(tempfile.mkdtemp(prefix="planrun-bench-properties-"))
    base_time, base_peak, _ = measure(folder, (ROOT / "plans" / "demo.yaml").read_bytes())
    print(f"baseline (plans/demo.yaml): {base_time:.2f} s, {base_peak // 1024} MB")
    for kind, strategy in (("schema", schema_plans), ("mutated", mutated_plans())):
        results = []
        for plan in drawn(strategy, count):
            text = yaml.safe_dump(plan, allow_unicode=True, sort_keys=False).encode("utf-8", "surrogatepass")
            results.append(measure(folder, text, rounds=1))
        times = sorted(r[0] for r in results)
        peaks = sorted(r[1] for r in results)
        codes = sorted({r[2] for r in results})
        over = sum(1 for seconds, peak, _ in results if seconds >= 2 or peak >= 200 * 1024)
        print(
            f"{kind}: {len(results)} plans, exits {codes}; time median {times[len(times) // 2]:.2f} s "
            f"({times[len(times) // 2] / base_time:.2f}x), slowest {times[-1]:.2f} s ({times[-1] / base_time:.2f}x); "
            f"peak memory max {peaks[-1] // 1024} MB; over a goal: {over}"
        )
    print("goals: under 2 s and 200 MB each")


if __name__ == "__main__":
    main()
