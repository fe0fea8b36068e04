#!/usr/bin/env bash
# The package as users get it: build the sdist and the wheel, install the wheel in a fresh
# virtualenv outside the repository, and run planrun from there (--version, the lint rule
# catalogue, a lint of the demo project). CI runs it after the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.venv/bin/python -m pip install -q build >/dev/null 2>&1
.venv/bin/python -m build -q --sdist --wheel --outdir "$work/dist" . >/dev/null 2>&1
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q "$work"/dist/planrun-*.whl >/dev/null 2>&1
cd "$work"  # nothing of the repository on the path
planrun="$work/venv/bin/planrun"
"$planrun" --version
# the wheel carries its metadata and the plan's JSON Schema, the same text `planrun schema` prints
"$work/venv/bin/python" - <<'PY'
from importlib.metadata import metadata
meta = metadata("planrun")
assert meta["License"] == "MIT", meta["License"]
assert any(c.startswith("Topic :: Database") for c in meta.get_all("Classifier")), "no classifiers"
PY
cmp "$work/venv/share/planrun/plan.schema.json" <("$planrun" schema)
"$planrun" lint --rules | grep '^| `drop-column` | destructive | error |' >/dev/null
env -u DATABASE_URL "$planrun" validate "$repo/plans/demo.yaml" >/dev/null  # no secret needed
env -u DATABASE_URL "$planrun" lint "$repo/plans/demo.yaml" | tail -1
echo "check_wheel: $(cd "$work/dist" && ls | tr '\n' ' ')install and run outside the repository"
