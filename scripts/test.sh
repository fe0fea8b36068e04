#!/usr/bin/env bash
# Run planrun's test suite: set up (PostgreSQL, .venv), then pytest. Extra arguments go to pytest.
# Two workers (pytest-xdist; PLANRUN_TEST_WORKERS=0 runs in one process): each starts its own
# throwaway cluster, and the database waits of one overlap the other's work (8 min against 13).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest -n "${PLANRUN_TEST_WORKERS:-2}" "$@"
