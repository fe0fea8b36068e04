#!/usr/bin/env bash
# The demo: set up, start a throwaway PostgreSQL, load the sample data at the base revision, and
# run `planrun apply plans/demo.yaml` (then a plan whose post-check fails, to show the rollback).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/demo.py "$@"
