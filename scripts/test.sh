#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what is missing, builds, tests.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
[ -f /usr/include/sqlite3.h ] || need_apt+=(libsqlite3-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "installing: ${need_apt[*]}"
    apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
fi
# The S3 tests start a real S3-compatible server: Python's moto.
if ! command -v python3 >/dev/null; then
    apt-get update -qq && apt-get install -y -qq python3 python3-pip
fi
if ! python3 -c 'import moto.server, flask, werkzeug' 2>/dev/null; then
    echo "installing: moto[server]"
    python3 -m pip install -q 'moto[server]' || python3 -m pip install -q --break-system-packages 'moto[server]'
fi
# The server tests drive `strata serve` with PostgreSQL's own clients (psql, pgbench) and
# Python's psycopg 3, asyncpg, pg8000 and SQLAlchemy 2.
if ! command -v psql >/dev/null || ! command -v pgbench >/dev/null; then
    echo "installing: postgresql-15 (psql, pgbench)"
    apt-get update -qq && apt-get install -y -qq postgresql-15 postgresql-client-15
fi
if ! python3 -c 'import psycopg, asyncpg, pg8000, sqlalchemy' 2>/dev/null; then
    echo "installing: psycopg[binary] asyncpg pg8000 sqlalchemy"
    python3 -m pip install -q 'psycopg[binary]' asyncpg pg8000 'sqlalchemy>=2' \
        || python3 -m pip install -q --break-system-packages 'psycopg[binary]' asyncpg pg8000 'sqlalchemy>=2'
fi
export PATH="/opt/swift/usr/bin:$PATH"

# Tests write their databases under TMPDIR: give them their own, removed afterwards.
export TMPDIR="$(mktemp -d "${TMPDIR:-/tmp}/strata-tests.XXXXXX")"
trap 'rm -rf "$TMPDIR"' EXIT

# The crash and multi-process tests run the `strata` executable as child processes.
swift build --build-tests
swift test 2>&1 | tee .build/test-output.txt
