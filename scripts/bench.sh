#!/usr/bin/env bash
# End-to-end benchmarks: whole `universe` processes timed with hyperfine on the deterministic peer-scale data set
# (24 ETF holdings files, 11,778 rows; 4 universe files, 3,637 rows), on SQLite and PostgreSQL, next to ceilings
# measured in the same run (sqlite3 .import and psql \copy of the same rows into a bare table).
#
# Uses BENCH_DATABASE_URL (a superuser URL) if set, else a throwaway PostgreSQL configured as deployed (TLS on
# with a self-signed certificate, fsync on); PostgreSQL runs twice, TLS negotiated and sslmode=disable. Installs
# hyperfine, sqlite3 and psql with apt-get when missing. Results: target/bench/summary.md (and one JSON per scenario).
# RUNS=N sets the number of timed runs per scenario (default 30); ONLY=REGEX runs only the scenarios whose file name
# matches (e.g. ONLY='validate|organize_unchanged', or ONLY=sync for the daily sync of issue #16).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib-pg.sh

need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v psql >/dev/null || need+=(postgresql-client)
if [ ${#need[@]} -gt 0 ]; then apt_install "${need[@]}"; fi

RUNS=${RUNS:-30}
OUT=$PWD/target/bench
rm -rf "$OUT" && mkdir -p "$OUT"
cargo build --release --locked >&2
BIN=$PWD/target/release/universe
DATA=$OUT/peer
"$BIN" bench-data "$DATA" >/dev/null
HOLD="$DATA/holdings/*.csv"
UNIV="$DATA/universes/*.csv"
# The same holdings rows as one CSV (etf,ticker,name,weight) for the ceilings.
for f in $HOLD; do
  etf=$(basename "$f" _holdings.csv)
  tail -n +2 "$f" | sed "s/^/${etf^^},/"
done >"$OUT/holdings_all.csv"
# ... and as (group_id, symbol, weight) rows for group_memberships, with the 24 groups they belong to.
i=0
echo "TRUNCATE definition_groups CASCADE;" >"$OUT/groups.sql"
for f in $HOLD; do
  i=$((i + 1))
  etf=$(basename "$f" _holdings.csv)
  echo "INSERT INTO definition_groups (id, name, type, environment) VALUES ($i, '${etf^^}', 'ETF', 'DEFAULT');" >>"$OUT/groups.sql"
  tail -n +2 "$f" | awk -F, -v g=$i '{ printf "%d,%s,%.4f\n", g, $1, $3 / 100 }'
done >"$OUT/memberships.csv"
log "peer data: $(ls $HOLD | wc -l) holdings files, $(wc -l <"$OUT/holdings_all.csv") rows"

if [ -z "${BENCH_DATABASE_URL:-}" ]; then
  # As users run PostgreSQL: TLS on, fsync on (see lib-pg.sh).
  start_throwaway_pg deployed
  BENCH_DATABASE_URL=$PG_URL
fi
PGDB="${BENCH_DATABASE_URL%/*}/universe_bench"

bench() {
  local name=$1
  shift
  if [ -n "${ONLY:-}" ] && ! [[ $name =~ $ONLY ]]; then return; fi
  hyperfine --style basic --runs "$RUNS" --warmup 3 --export-json "$OUT/$name.json" --export-markdown "$OUT/$name.md" "$@" >&2
}

SQ=$OUT/bench.db
SQURL="sqlite://$SQ"
fresh_sqlite="rm -f $SQ $SQ-wal $SQ-shm && $BIN --database-url $SQURL db migrate"
fresh_pg="psql -q -X $BENCH_DATABASE_URL -c 'DROP DATABASE IF EXISTS universe_bench WITH (FORCE)' -c 'CREATE DATABASE universe_bench' >/dev/null && $BIN --database-url $PGDB db migrate >/dev/null"

# PostgreSQL twice: through its plain URL (TLS negotiated whenever the server offers it, as users connect) and
# with sslmode=disable, side by side.
for backend in sqlite postgres postgres_notls; do
  case $backend in
    sqlite) url=$SQURL; fresh=$fresh_sqlite ;;
    postgres) url=$PGDB; fresh=$fresh_pg ;;
    postgres_notls) url="$PGDB?sslmode=disable"; fresh=$fresh_pg ;;
  esac
  u="$BIN --database-url $url"
  bench "${backend}_holdings_full" --prepare "$fresh" -n "$backend holdings full (24 files, 11,778 rows, empty db)" "$u load holdings $HOLD"
  bench "${backend}_universes_full" --prepare "$fresh" -n "$backend universes full (4 files, 3,637 rows, empty db)" "$u load universes $UNIV"
  eval "$fresh" >/dev/null
  $u load holdings $HOLD >/dev/null
  bench "${backend}_holdings_incremental" -n "$backend holdings incremental, nothing changed" "$u load holdings --mode incremental $HOLD"
  bench "${backend}_holdings_reload" -n "$backend holdings full reload, nothing changed" "$u load holdings $HOLD"
  # Issue #3 scale: the same data plus metadata for 10,000 symbols and sectors for the group members.
  $u load universes $UNIV >/dev/null
  $u load symbols "$DATA/symbols.csv" >/dev/null
  $u load sectors "$DATA/sectors.csv" >/dev/null
  if [ $backend = sqlite ]; then clear_cache="sqlite3 $SQ 'DELETE FROM cache_entries'"; else clear_cache="psql -q -X '$url' -c 'DELETE FROM cache_entries'"; fi
  bench "${backend}_organize_build" --prepare "$clear_cache" -n "$backend organize, building every row (empty cache_entries)" "$u organize --yes"
  bench "${backend}_organize_unchanged" -n "$backend organize, nothing changed" "$u organize --yes"
  bench "${backend}_validate" -n "$backend validate (exit 1 expected: synthetic data has findings)" -i "$u validate"
  bench "${backend}_report_console" -n "$backend report (console)" "$u report"
  bench "${backend}_report_json" -n "$backend report (JSON)" "$u report --format json"
done

# Issue #16: the daily sync of 10,000 stocks with a realistic day of change: 20 IPOs (already in the day's bars,
# which created their bare rows; the list is the first to describe them), 15 delistings, every close moved by up
# to ±5 %, a rule-based theme rebalanced, and the cache rows rebuilt (`bench-data --scale sync`). The list comes from a folder: no API time. Each run starts from
# the state of the day before (a copied SQLite file; a PostgreSQL database made from a template).
SYNC=$OUT/sync
if [ -z "${ONLY:-}" ] || [[ "sqlite_sync postgres_sync" =~ $ONLY ]]; then
  "$BIN" bench-data "$SYNC" --scale sync >/dev/null
  day_before() {
    local u="$BIN --database-url $1"
    $u load symbols "$SYNC/symbols.csv" >/dev/null
    $u load holdings "$SYNC"/holdings/*.csv >/dev/null
    $u bars import "$SYNC/day1.csv" >/dev/null
    $u sync --source "$SYNC/base" >/dev/null
    $u load themes "$SYNC/themes.toml" >/dev/null   # its rule needs the caps the first sync computed
    $u bars import "$SYNC/day2.csv" >/dev/null
  }
  rm -f "$OUT"/sync-before.db*
  day_before "sqlite://$OUT/sync-before.db"
  bench sqlite_sync --prepare "rm -f $OUT/sync.db $OUT/sync.db-wal $OUT/sync.db-shm && cp $OUT/sync-before.db $OUT/sync.db" \
    -n "sqlite daily sync (10,000 stocks: 20 IPOs, 15 delistings, closes ±5 %; whole process)" \
    "$BIN --database-url sqlite://$OUT/sync.db sync --source $SYNC/next"
  psql -q -X "$BENCH_DATABASE_URL" -c 'DROP DATABASE IF EXISTS universe_sync_before WITH (FORCE)' -c 'CREATE DATABASE universe_sync_before' >/dev/null
  day_before "${BENCH_DATABASE_URL%/*}/universe_sync_before"
  bench postgres_sync \
    --prepare "psql -q -X $BENCH_DATABASE_URL -c 'DROP DATABASE IF EXISTS universe_sync WITH (FORCE)' -c 'CREATE DATABASE universe_sync TEMPLATE universe_sync_before'" \
    -n "postgres daily sync (10,000 stocks: 20 IPOs, 15 delistings, closes ±5 %; whole process)" \
    "$BIN --database-url ${BENCH_DATABASE_URL%/*}/universe_sync sync --source $SYNC/next"
fi

# Issue #17: the S&P 500's history (the shared seed roster and its 1,026 dated events) loaded into an empty
# database (a migrated copy each run).
PIT=../shared/data/pit
if [ -d "$PIT" ] && { [ -z "${ONLY:-}" ] || [[ "sqlite_events postgres_events" =~ $ONLY ]]; }; then
  rm -f "$OUT"/events-empty.db*
  "$BIN" --database-url "sqlite://$OUT/events-empty.db" db migrate >/dev/null
  bench sqlite_events --prepare "rm -f $OUT/events.db $OUT/events.db-wal $OUT/events.db-shm && cp $OUT/events-empty.db $OUT/events.db" \
    -n "sqlite load events (S&P 500: 495-member seed, 1,026 events; whole process)" \
    "$BIN --database-url sqlite://$OUT/events.db load events $PIT/sp500_changes.csv --seed $PIT/sp500_seed.csv"
  psql -q -X "$BENCH_DATABASE_URL" -c 'DROP DATABASE IF EXISTS universe_events_empty WITH (FORCE)' -c 'CREATE DATABASE universe_events_empty' >/dev/null
  "$BIN" --database-url "${BENCH_DATABASE_URL%/*}/universe_events_empty" db migrate >/dev/null
  bench postgres_events \
    --prepare "psql -q -X $BENCH_DATABASE_URL -c 'DROP DATABASE IF EXISTS universe_events WITH (FORCE)' -c 'CREATE DATABASE universe_events TEMPLATE universe_events_empty'" \
    -n "postgres load events (S&P 500: 495-member seed, 1,026 events; whole process)" \
    "$BIN --database-url ${BENCH_DATABASE_URL%/*}/universe_events load events $PIT/sp500_changes.csv --seed $PIT/sp500_seed.csv"
fi

# Issue #17: sector coverage of the peer-scale set (its 3,757 real stocks, classified before only where an S&P
# roster gives a GICS sector) enriched from the two shared FinanceDatabase tables in one run; the coverage figures
# go to target/bench/coverage_<backend>.txt. Each timed run starts from the loaded set (a copy / a template).
FDB=../shared/data
if [ -f "$FDB/financedatabase_us_equities_2023-03.csv" ] && { [ -z "${ONLY:-}" ] || [[ "sqlite_enrich postgres_enrich" =~ $ONLY ]]; }; then
  FROM="--from $FDB/financedatabase_us_equities_2023-03.csv --from $FDB/financedatabase_us_listed_2026-08_partial.csv"
  peer_loaded() {
    local u="$BIN --database-url $1"
    $u db migrate >/dev/null
    $u load holdings $HOLD >/dev/null
    $u load universes $UNIV >/dev/null
    $u load symbols "$DATA/symbols.csv" >/dev/null
    $u load sectors "$DATA/sectors.csv" >/dev/null
  }
  # enrich_case BACKEND URL FRESH: the coverage once (to coverage_BACKEND.txt), then the timed runs, each from
  # the loaded set (FRESH makes URL a copy of it).
  enrich_case() {
    eval "$3"
    "$BIN" --database-url "$2" enrich sectors $FROM >"$OUT/coverage_$1.txt"
    bench "$1_enrich" --prepare "$3" \
      -n "$1 enrich sectors from two classification files (peer set: 3,757 stocks, 1,505 classified before, 2,236 by the run; whole process)" \
      "$BIN --database-url $2 enrich sectors $FROM"
  }
  rm -f "$OUT"/enrich-before.db*
  peer_loaded "sqlite://$OUT/enrich-before.db"
  enrich_case sqlite "sqlite://$OUT/enrich.db" \
    "rm -f $OUT/enrich.db $OUT/enrich.db-wal $OUT/enrich.db-shm && cp $OUT/enrich-before.db $OUT/enrich.db"
  psql -q -X "$BENCH_DATABASE_URL" -c 'DROP DATABASE IF EXISTS universe_enrich_before WITH (FORCE)' -c 'CREATE DATABASE universe_enrich_before' >/dev/null
  peer_loaded "${BENCH_DATABASE_URL%/*}/universe_enrich_before"
  enrich_case postgres "${BENCH_DATABASE_URL%/*}/universe_enrich" \
    "psql -q -X $BENCH_DATABASE_URL -c 'DROP DATABASE IF EXISTS universe_enrich WITH (FORCE)' -c 'CREATE DATABASE universe_enrich TEMPLATE universe_enrich_before'"
  head -4 "$OUT"/coverage_*.txt >&2
fi

# Ceilings: the same 11,778 rows into a bare table, no parsing of formats, no diff, no history.
bench sqlite_ceiling --prepare "rm -f $OUT/ceiling.db && sqlite3 $OUT/ceiling.db 'CREATE TABLE h(etf TEXT, symbol TEXT, name TEXT, weight REAL)'" \
  -n "ceiling: sqlite3 .import of the 11,778 rows" "sqlite3 $OUT/ceiling.db '.mode csv' '.import $OUT/holdings_all.csv h'"
bench pg_ceiling_schema --prepare "psql -q -X $PGDB -f $OUT/groups.sql" \
  -n "ceiling: psql \\copy of the 11,778 rows into group_memberships (TickStock's indexes and foreign key)" \
  "psql -q -X $PGDB -c '\\copy group_memberships (group_id, symbol, weight) FROM $OUT/memberships.csv CSV'"
bench pg_ceiling --prepare "psql -q -X $PGDB -c 'DROP TABLE IF EXISTS h' -c 'CREATE TABLE h(etf text, symbol text, name text, weight numeric)'" \
  -n "ceiling: psql \\copy of the 11,778 rows (TLS)" "psql -q -X $PGDB -c '\\copy h FROM $OUT/holdings_all.csv CSV'"
bench pg_ceiling_notls --prepare "psql -q -X $PGDB -c 'DROP TABLE IF EXISTS h' -c 'CREATE TABLE h(etf text, symbol text, name text, weight numeric)'" \
  -n "ceiling: psql \\copy of the 11,778 rows (sslmode=disable)" "psql -q -X '$PGDB?sslmode=disable' -c '\\copy h FROM $OUT/holdings_all.csv CSV'"

summary=$(
  echo "# universe benchmark run $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(nproc) cores, RUNS=$RUNS"
  echo "| scenario | mean [ms] | min [ms] | max [ms] | relative |"
  echo "|:---|---:|---:|---:|---:|"
  for f in "$OUT"/*.md; do tail -n +3 "$f"; done
)
echo "$summary" >"$OUT/summary.md"
cat "$OUT/summary.md"
