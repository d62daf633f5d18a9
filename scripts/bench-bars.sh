#!/usr/bin/env bash
# Bars ingest benchmark: `universe bars import` of 1,000,000 daily rows (the shared S&P 500 file's 619,029 valid
# rows plus 380,971 of them again under suffixed tickers), on SQLite and PostgreSQL, next to ceilings measured in
# the same run on the same file and the same table definition:
#   - PostgreSQL: psql `\copy` into a temporary staging table plus one INSERT … ON CONFLICT DO UPDATE (the
#     statement our loader runs), and a plain `\copy` into the empty table;
#   - SQLite: the sqlite3 CLI's `.import` in one transaction (WAL, synchronous=NORMAL, as our store opens it).
# Three states: empty table; every row conflicting with identical values; every row conflicting with changed
# values. Each command is a whole process timed by hyperfine (file → committed rows, parsing included).
#
# Uses BENCH_DATABASE_URL (a superuser URL) if set, else a throwaway PostgreSQL configured as deployed (TLS on,
# fsync on); PostgreSQL runs twice, TLS negotiated and sslmode=disable. Installs hyperfine, sqlite3 and psql with
# apt-get when missing. Results: target/bench-bars/summary.md. RUNS=N timed runs per scenario (default 3);
# BACKENDS="sqlite" (or "postgres") runs one backend only.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib-pg.sh

need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v psql >/dev/null || need+=(postgresql-client)
if [ ${#need[@]} -gt 0 ]; then apt_install "${need[@]}"; fi

RUNS=${RUNS:-3}
BACKENDS=${BACKENDS:-postgres sqlite}
SRC=${SHARED_OHLCV:-../shared/data/sp500_daily_ohlcv_2013-2018_all_stocks_5yr.csv}
OUT=$PWD/target/bench-bars
rm -rf "$OUT" && mkdir -p "$OUT"
cargo build --release --locked >&2
BIN=$PWD/target/release/universe

# The 1,000,000-row file (symbol,date,open,high,low,close,volume), and the same rows with every open changed.
{
  echo "symbol,date,open,high,low,close,volume"
  awk -F, 'NR > 1 && $2 != "" && $3 != "" && $4 != "" && $5 != "" { print $7 "," $1 "," $2 "," $3 "," $4 "," $5 "," $6 }' "$SRC"
  awk -F, 'NR > 1 && $2 != "" && $3 != "" && $4 != "" && $5 != "" { print $7 "2," $1 "," $2 "," $3 "," $4 "," $5 "," $6 }' "$SRC"
} >"$OUT/all.csv"
head -n 1000001 "$OUT/all.csv" >"$OUT/bars.csv"
rm "$OUT/all.csv"
awk -F, -v OFS=, 'NR == 1 { print; next } { $3 = $3 + 0.01; print }' "$OUT/bars.csv" >"$OUT/bars_changed.csv"
ROWS=$(($(wc -l <"$OUT/bars.csv") - 1))
log "$ROWS rows in $OUT/bars.csv"

bench() {
  local name=$1
  shift
  hyperfine --style basic --runs "$RUNS" --export-json "$OUT/$name.json" --export-markdown "$OUT/$name.md" "$@" >&2
}

if [[ " $BACKENDS " == *" postgres "* ]]; then
if [ -z "${BENCH_DATABASE_URL:-}" ]; then
  start_throwaway_pg deployed
  BENCH_DATABASE_URL=$PG_URL
fi
PGBASE="${BENCH_DATABASE_URL%/*}/universe_bars_bench"
for tls in tls notls; do
if [ $tls = tls ]; then PGDB=$PGBASE; else PGDB="$PGBASE?sslmode=disable"; fi

# PostgreSQL: a fresh migrated database; "loaded" states preload the original file.
fresh_pg="psql -q -X $BENCH_DATABASE_URL -c 'DROP DATABASE IF EXISTS universe_bars_bench WITH (FORCE)' -c 'CREATE DATABASE universe_bars_bench' >/dev/null && $BIN --database-url $PGDB db migrate >/dev/null"
loaded_pg="$fresh_pg && $BIN --database-url $PGDB bars import $OUT/bars.csv >/dev/null"
cat >"$OUT/ceiling_pg.sql" <<SQL
CREATE TEMP TABLE stage (LIKE ohlcv_daily INCLUDING DEFAULTS);
\\copy stage (symbol, date, open, high, low, close, volume) FROM '$OUT/FILE' CSV HEADER
INSERT INTO symbols (symbol) SELECT DISTINCT symbol FROM stage ON CONFLICT (symbol) DO NOTHING;
INSERT INTO ohlcv_daily (symbol, date, open, high, low, close, volume, created_at)
  SELECT symbol, date, open, high, low, close, volume, now() FROM stage
  ON CONFLICT (symbol, date) DO UPDATE SET open = excluded.open, high = excluded.high, low = excluded.low,
    close = excluded.close, volume = excluded.volume
  WHERE (ohlcv_daily.open, ohlcv_daily.high, ohlcv_daily.low, ohlcv_daily.close, ohlcv_daily.volume)
    IS DISTINCT FROM (excluded.open, excluded.high, excluded.low, excluded.close, excluded.volume);
SQL
sed "s/FILE/bars.csv/" "$OUT/ceiling_pg.sql" >"$OUT/ceiling_pg_same.sql"
sed "s/FILE/bars_changed.csv/" "$OUT/ceiling_pg.sql" >"$OUT/ceiling_pg_changed.sql"
ceiling_pg() { echo "psql -q -X -1 '$PGDB' -f $OUT/$1"; }

bench pg_empty_$tls --prepare "$fresh_pg" \
  -n "postgres ($tls): universe bars import, empty table" "$BIN --database-url $PGDB bars import $OUT/bars.csv" \
  -n "postgres ($tls) ceiling: psql \\copy to staging + INSERT ON CONFLICT, empty table" "$(ceiling_pg ceiling_pg_same.sql)" \
  -n "postgres ($tls) ceiling: psql \\copy straight into the empty table" \
  "psql -q -X '$PGDB' -c '\\copy ohlcv_daily (symbol, date, open, high, low, close, volume) FROM $OUT/bars.csv CSV HEADER'"
bench pg_same_$tls --prepare "$loaded_pg" \
  -n "postgres ($tls): universe bars import, every row conflicts, same values" "$BIN --database-url $PGDB bars import $OUT/bars.csv" \
  -n "postgres ($tls) ceiling: psql staging + INSERT ON CONFLICT, same values" "$(ceiling_pg ceiling_pg_same.sql)"
bench pg_changed_$tls --prepare "$loaded_pg" \
  -n "postgres ($tls): universe bars import, every row conflicts, changed values" "$BIN --database-url $PGDB bars import $OUT/bars_changed.csv" \
  -n "postgres ($tls) ceiling: psql staging + INSERT ON CONFLICT, changed values" "$(ceiling_pg ceiling_pg_changed.sql)"
done

fi

# SQLite.
if [[ " $BACKENDS " == *" sqlite "* ]]; then
SQ=$OUT/bench.db
fresh_sq="rm -f $SQ $SQ-wal $SQ-shm && $BIN --database-url sqlite://$SQ db migrate >/dev/null"
loaded_sq="$fresh_sq && $BIN --database-url sqlite://$SQ bars import $OUT/bars.csv >/dev/null"
CQ=$OUT/ceiling.db
fresh_cq="rm -f $CQ $CQ-wal $CQ-shm && sqlite3 $CQ 'PRAGMA journal_mode=WAL' 'CREATE TABLE ohlcv_daily (symbol TEXT NOT NULL, date TEXT NOT NULL, open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL, close REAL NOT NULL, volume INTEGER NOT NULL, PRIMARY KEY (symbol, date)) WITHOUT ROWID' >/dev/null"
bench sqlite_empty \
  -n "sqlite: universe bars import, empty table" --prepare "$fresh_sq" "$BIN --database-url sqlite://$SQ bars import $OUT/bars.csv" \
  -n "sqlite ceiling: sqlite3 .import in one transaction, empty table" --prepare "$fresh_cq" \
  "sqlite3 $CQ 'PRAGMA synchronous=NORMAL' 'BEGIN' '.import --csv --skip 1 $OUT/bars.csv ohlcv_daily' 'COMMIT'"
bench sqlite_same --prepare "$loaded_sq" \
  -n "sqlite: universe bars import, every row conflicts, same values" "$BIN --database-url sqlite://$SQ bars import $OUT/bars.csv"
bench sqlite_changed --prepare "$loaded_sq" \
  -n "sqlite: universe bars import, every row conflicts, changed values" "$BIN --database-url sqlite://$SQ bars import $OUT/bars_changed.csv"
fi

summary=$(
  echo "# bars ingest benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(nproc) cores, $ROWS rows, RUNS=$RUNS"
  echo "| scenario | mean [s] | rows/s |"
  echo "|:---|---:|---:|"
  for f in "$OUT"/*.json; do
    python3 - "$f" "$ROWS" <<'PY'
import json, sys
rows = int(sys.argv[2])
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"| {r['command']} | {r['mean']:.2f} ± {r['stddev'] or 0:.2f} | {rows / r['mean']:,.0f} |")
PY
  done
)
echo "$summary" >"$OUT/summary.md"
cat "$OUT/summary.md"
