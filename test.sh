#!/usr/bin/env bash
# The whole test suite: linters, the layer contract, type checks, unit, AppTest, browser and security tests.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/bootstrap.sh requirements-dev.txt

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
# Browser tests drive Debian's chromium (Playwright's own browser download does not work offline).
if [ ! -x /usr/bin/chromium ]; then
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
fi

echo "== ruff"
.venv/bin/ruff check .
echo "== layer contract (.importlinter)"
.venv/bin/lint-imports --no-cache
echo "== mypy"
.venv/bin/mypy carto app.py app_pages bench scripts
echo "== pytest"
.venv/bin/python -m pytest "$@"
