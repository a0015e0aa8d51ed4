#!/usr/bin/env bash
# Start the dashboard on http://localhost:8501 (first start fills data/carto.duckdb from the sample).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/bootstrap.sh requirements.txt
exec .venv/bin/python -m carto.ui.serve --server.port "${PORT:-8501}" "$@"
