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

# The tests of both stores also run on PostgreSQL/PostGIS: a throwaway cluster in a temporary folder
# (bench/postgres.py), started as the postgres user and removed afterwards. postgresql-postgis is
# the PostGIS of the distribution's default PostgreSQL (Debian 12: postgresql-15-postgis-3).
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 \
    || ! ls /usr/share/postgresql/*/extension/postgis.control >/dev/null 2>&1; then
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql postgresql-postgis
fi

# The replica tests put a throwaway nginx (bench/proxy.py, as the current user) in front of two app
# processes, with the site file of deploy/.
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    as_root apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx-light
fi

echo "== ruff"
.venv/bin/ruff check .
echo "== layer contract (.importlinter)"
.venv/bin/lint-imports --no-cache
echo "== mypy"
.venv/bin/mypy carto app.py app_pages bench scripts
echo "== pytest (DuckDB: every test)"
.venv/bin/python -m pytest "$@"
echo "== pytest (PostgreSQL/PostGIS: the store, ingest, CLI, analytics and page tests again)"
CARTO_TEST_STORE=postgis .venv/bin/python -m pytest -m "both_stores or postgis_only" "$@"
