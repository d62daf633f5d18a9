#!/usr/bin/env bash
# Runs every test, including those against a real PostgreSQL, the HTML report in headless Chromium and the
# console's pages in Chromium driven over WebDriver.
#
# With TEST_DATABASE_URL set (a superuser URL, e.g. postgres://postgres@127.0.0.1:5432/postgres) the tests use
# that server. Otherwise this script starts a throwaway PostgreSQL cluster on a free loopback port (installing
# PostgreSQL with apt-get if it is missing), runs the tests against it, and removes it afterwards. Chromium is
# installed with apt-get when missing, and so is redis-server (the Redis jobs tests start their own servers).
# Extra arguments go to `cargo test` (e.g. scripts/test.sh holdings).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib-pg.sh

# The HTML report test opens the report in headless Chromium; the console's tests drive Chromium through
# Debian's chromedriver (WebDriver).
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
  apt_install chromium
fi
if ! command -v chromedriver >/dev/null 2>&1; then
  apt_install chromium-driver
fi

# The jobs tests of production mode start their own redis-server processes on free loopback ports.
if ! command -v redis-server >/dev/null 2>&1; then
  apt_install redis-server
fi

if [ -z "${TEST_DATABASE_URL:-}" ]; then
  start_throwaway_pg
  export TEST_DATABASE_URL="$PG_URL"
fi

# Both halves of the suite must run here: without a PostgreSQL server the PostgreSQL tests fail instead of being
# left out as they are under plain `cargo test`.
export UNIVERSE_TEST_REQUIRE_POSTGRES=1
cargo test --locked "$@"
