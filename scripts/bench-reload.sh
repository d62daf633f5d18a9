#!/usr/bin/env bash
# Large-group reloads, timed as whole `universe load universes` processes with hyperfine: a 100,000-member
# universe reloaded with 50,000 changes (50,000 members leave, 50,000 join), and a 300,000-member one with
# 150,000 changes. Each timed run is preceded (hyperfine --prepare) by loading the other file, so every timed run
# applies the same diff. On SQLite, on PostgreSQL through its plain URL (TLS negotiated, as users connect), and
# with sslmode=disable.
#
# Uses BENCH_DATABASE_URL (a superuser URL) if set, else a throwaway PostgreSQL configured as deployed: TLS on
# (self-signed certificate), fsync, synchronous commit and full-page writes on. RUNS=N timed runs per scenario
# (default 5). Results: target/bench-reload/summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib-pg.sh

command -v hyperfine >/dev/null || apt_install hyperfine
command -v psql >/dev/null || apt_install postgresql-client
RUNS=${RUNS:-5}
OUT=$PWD/target/bench-reload
rm -rf "$OUT" && mkdir -p "$OUT"
cargo build --release --locked >&2
BIN=$PWD/target/release/universe

# gen FROM COUNT: a universe file of COUNT four-letter tickers starting at index FROM (AAAA, AAAB, …).
gen() {
  awk -v from="$1" -v n="$2" 'BEGIN {
    print "Symbol"
    for (i = from; i < from + n; i++)
      printf "%c%c%c%c\n", 65 + int(i / 17576) % 26, 65 + int(i / 676) % 26, 65 + int(i / 26) % 26, 65 + i % 26
  }'
}
for size in 100000 300000; do
  mkdir -p "$OUT/a$size" "$OUT/b$size"
  gen 0 $size >"$OUT/a$size/big.csv"
  gen $((size / 2)) $size >"$OUT/b$size/big.csv"
done

if [ -z "${BENCH_DATABASE_URL:-}" ]; then
  start_throwaway_pg deployed
  BENCH_DATABASE_URL=$PG_URL
fi
PGDB="${BENCH_DATABASE_URL%/*}/universe_bench_reload"
reset_pg() {
  psql -q -X "$BENCH_DATABASE_URL" -c 'DROP DATABASE IF EXISTS universe_bench_reload WITH (FORCE)' \
    -c 'CREATE DATABASE universe_bench_reload' >/dev/null 2>&1
}

{
  echo "# universe large-group reloads $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(nproc) cores, hyperfine, $RUNS runs"
  echo
  psql -X -At "$BENCH_DATABASE_URL" -c "SELECT 'PostgreSQL ' || current_setting('server_version') || ', ssl=' || current_setting('ssl') || ', fsync=' || current_setting('fsync') || ', synchronous_commit=' || current_setting('synchronous_commit')"
  echo
  echo "| members | replaced | backend | mean [s] | σ [s] | min [s] | max [s] |"
  echo "|---:|---:|:---|---:|---:|---:|---:|"
} >"$OUT/summary.md"

for size in 100000 300000; do
  for backend in sqlite postgres-tls postgres-no-tls; do
    case $backend in
      sqlite) url="sqlite://$OUT/reload.db"; rm -f "$OUT"/reload.db* ;;
      postgres-tls) url=$PGDB; reset_pg ;;
      postgres-no-tls) url="$PGDB?sslmode=disable"; reset_pg ;;
    esac
    load="$BIN --database-url $url load universes --no-validate"
    $load "$OUT/a$size/big.csv" >/dev/null
    hyperfine -N --runs "$RUNS" --prepare "$load $OUT/a$size/big.csv" \
      --export-json "$OUT/$backend-$size.json" "$load $OUT/b$size/big.csv" >&2
    python3 - "$OUT/$backend-$size.json" "$size" "$backend" >>"$OUT/summary.md" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
n = int(sys.argv[2])
print(f"| {n:,} | {n // 2:,} | {sys.argv[3]} | {r['mean']:.3f} | {r['stddev']:.3f} | {r['min']:.3f} | {r['max']:.3f} |")
PY
  done
done
cat "$OUT/summary.md"
