"""Any plan at all ends ``validate`` with exit 0 or 2 (issue 26): never an internal error
(exit 4), never a traceback, never a hang. Plans are drawn from planrun's own JSON Schema (see
plan_strategies.py), then mutated with values that once validated and crashed a later command.
The examples are derandomised so CI is repeatable; ``PLANRUN_PLAN_EXAMPLES`` draws more, at
random. The time and memory each case takes are measured by ``bench/plan_properties.py``."""

from __future__ import annotations

import contextlib
import io
import os
import signal

import yaml
from hypothesis import HealthCheck, given, settings
from plan_strategies import mutated_plans, paths, schema_plans

from planrun.engine.cli import main

EXAMPLES = int(os.environ.get("PLANRUN_PLAN_EXAMPLES", "40"))
HANG = 60  # seconds: far beyond any plan's validation; only a hang reaches it
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize="PLANRUN_PLAN_EXAMPLES" not in os.environ,
    suppress_health_check=list(HealthCheck),
    database=None,
)


def validate_exit(plan, folder) -> tuple[int, str]:
    """``planrun validate`` of ``plan`` written as YAML (lone surrogates kept as the bytes they
    would be: a plan that is not UTF-8 is an input too), in-process, its exit code and output."""
    path = folder / "drawn.yaml"
    text = yaml.safe_dump(plan, allow_unicode=True, sort_keys=False)
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    out = io.StringIO()

    def hung(signum, frame):
        raise TimeoutError(f"validate still running after {HANG}s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(HANG)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = main(["validate", str(path)])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return code, out.getvalue()


def _assert_handled(code: int, output: str, plan) -> None:
    assert code in (0, 2), f"exit {code}:\n{output[:2000]}\nplan: {str(plan)[:2000]}"
    assert "Traceback" not in output and "internal error" not in output, output[:2000]


@SETTINGS
@given(plan=schema_plans)
def test_every_plan_the_schema_allows_is_validated_or_refused(plan, tmp_path_factory):
    folder = tmp_path_factory.mktemp("plan")
    code, output = validate_exit(plan, folder)
    _assert_handled(code, output, plan)


@SETTINGS
@given(plan=mutated_plans())
def test_every_mutated_plan_is_validated_or_refused_with_its_place(plan, tmp_path_factory):
    folder = tmp_path_factory.mktemp("plan")
    code, output = validate_exit(plan, folder)
    _assert_handled(code, output, plan)
    if code == 2:
        assert "drawn.yaml" in output, output[:2000]  # the message names the file (and the place)


def _on_is_a_word(value):
    """PyYAML reads the key ``on:`` as True (YAML 1.1); planrun's loader, and a plan, mean the word."""
    if isinstance(value, dict):
        return {("on" if key is True else key): _on_is_a_word(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_on_is_a_word(item) for item in value]
    return value


HOSTILE = ["99999999999999999999999h", float("inf"), float("nan"), 10**40, "9" * 5000, "${DATABASE_URL", "{x.y}"]


def test_every_value_of_the_demo_plan_replaced_by_each_hostile_one_is_validated_or_refused(tmp_path):
    """Exhaustive where the drawn plans are a sample: each leaf of plans/demo.yaml in turn holds
    each value that once got past validation and crashed a later command (parsed through the
    same loader ``validate`` uses, then everything a later command derives without a database:
    the context, its redactor, the steps, the backup paths)."""
    import copy
    from pathlib import Path

    from planrun.engine.api import make_context
    from planrun.engine.context import RunOptions
    from planrun.engine.errors import PlanError
    from planrun.engine.journal import NullJournal
    from planrun.engine.plan import LenientEnviron, load_plan
    from planrun.engine.runner import plan_steps

    root = Path(__file__).resolve().parents[2]
    base = _on_is_a_word(yaml.safe_load((root / "plans" / "demo.yaml").read_text()))
    base["backup"] = {"to": "file:///tmp/planrun-never/{name}/{run_id}/"}
    base["target"]["alembic"]["config"] = str(root / "migrations" / "alembic.ini")
    outcomes = {"refused": 0, "valid": 0}
    for path in paths(base, leaves=True):
        for value in HOSTILE:
            plan = copy.deepcopy(base)
            parent = plan
            for part in path[:-1]:
                parent = parent[part]
            parent[path[-1]] = value
            file = tmp_path / "plan.yaml"
            file.write_text(yaml.safe_dump(plan, sort_keys=False))
            try:
                loaded = load_plan(file, environ=LenientEnviron())
            except PlanError as exc:
                assert str(exc).startswith(str(file)), str(exc)[:500]
                outcomes["refused"] += 1
                continue
            ctx = make_context(loaded, RunOptions(state_dir=str(tmp_path / "state")), None, NullJournal())
            plan_steps(loaded)
            ctx.redact(str(plan))
            if getattr(loaded.plan, "backup", None) is not None and loaded.plan.backup.to:
                loaded.plan.backup.to.format(name=loaded.plan.name, run_id="r")
            outcomes["valid"] += 1
    assert outcomes["refused"] > 100 and outcomes["valid"] > 10, outcomes  # the test reached both ends
