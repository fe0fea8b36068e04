#!/usr/bin/env bash
# Run planrun's test suite: set up (PostgreSQL, .venv), then pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
