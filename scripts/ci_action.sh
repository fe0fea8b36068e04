#!/usr/bin/env bash
# What the GitHub Action (action.yml) runs, and what any other CI can run as it is: planrun lint
# (SARIF for code scanning, annotations on the pull request's lines), planrun test (JUnit XML and
# JSON), and a Markdown summary of both. Inputs come from the environment:
#   PLANRUN_PLAN or PLANRUN_ALEMBIC_CONFIG   what to check (a plan file, or the project's alembic.ini)
#   PLANRUN_TEST=true|false                  round-trip every revision too (default true)
#   PLANRUN_DATABASE_URL                     a server for the test's scratch database (default: a throwaway cluster)
#   PLANRUN_OUTPUT_DIR                       where the reports go (default .)
#   GITHUB_STEP_SUMMARY                      where the summary goes (default: standard output)
# Exit 1 when lint finds an error or a revision does not round-trip.
set -uo pipefail
target=()
[ -n "${PLANRUN_PLAN:-}" ] && target+=("$PLANRUN_PLAN")
[ -n "${PLANRUN_ALEMBIC_CONFIG:-}" ] && target+=(--alembic-config "$PLANRUN_ALEMBIC_CONFIG")
out=${PLANRUN_OUTPUT_DIR:-.}
mkdir -p "$out"
status=0
planrun lint "${target[@]}" --format sarif >"$out/planrun-lint.sarif" || status=1
planrun lint "${target[@]}" --format github || true
if [ "${PLANRUN_TEST:-true}" = true ]; then
  url=()
  [ -n "${PLANRUN_DATABASE_URL:-}" ] && url+=(--server "$PLANRUN_DATABASE_URL")
  planrun test "${target[@]}" "${url[@]}" --junit-xml "$out/planrun-test.xml" --json-report "$out/planrun-test.json" \
    >"$out/planrun-test.txt" 2>&1 || status=1
fi
"$(dirname "$(command -v planrun)")/python" - "$out" >>"${GITHUB_STEP_SUMMARY:-/dev/stdout}" <<'PY'
import json, sys
from pathlib import Path

out = Path(sys.argv[1])
sarif = json.loads((out / "planrun-lint.sarif").read_text())
results = sarif["runs"][0]["results"]
levels = [r["level"] for r in results]
print(f"### planrun lint: {levels.count('error')} errors, {levels.count('warning')} warnings")
for r in results:
    if r["level"] in ("error", "warning"):
        where = r["locations"][0]["physicalLocation"]
        print(f"- **{r['level']}** `{r['ruleId']}` at `{where['artifactLocation']['uri']}:{where['region']['startLine']}`")
report = out / "planrun-test.json"
if report.exists():
    test = json.loads(report.read_text())
    print(f"### planrun test: {test['coverage']}; {'all passed' if test['ok'] else 'FAILED'}")
    for case in test["cases"]:
        if case["outcome"] == "failed":
            print(f"- **failed** {case['suite']} `{case['name']}`: {case['message']}")
PY
exit $status
