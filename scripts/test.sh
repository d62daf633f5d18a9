#!/usr/bin/env bash
# Runs every test, including those against a real PostgreSQL.
#
# With TEST_DATABASE_URL set (a superuser URL, e.g. postgres://postgres@127.0.0.1:5432/postgres) the tests use
# that server. Otherwise this script starts a throwaway PostgreSQL cluster on a free loopback port (installing
# PostgreSQL with apt-get if it is missing), runs the tests against it, and removes it afterwards.
# Extra arguments go to `cargo test` (e.g. scripts/test.sh holdings).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib-pg.sh

if [ -z "${TEST_DATABASE_URL:-}" ]; then
  start_throwaway_pg
  export TEST_DATABASE_URL="$PG_URL"
fi

cargo test --locked "$@"
