#!/usr/bin/env bash
# HTTP benchmarks of `universe serve` with wrk (2 threads, 64 connections, DURATION seconds per route, default
# 10), on SQLite and PostgreSQL loaded with the peer-scale data set. Each API route is measured next to its
# ceiling in the same run and the same binary: /bench/static/* serves the very same bytes and headers from a
# handler that does nothing else, behind the same middleware. Also records the snapshot's build time and
# memory as the server reports them; then the same at market scale (issue #15: builds, incremental refreshes,
# memory, lookups). Then runs the criterion cache benchmarks (`cargo bench --bench cache`).
#
# Uses BENCH_DATABASE_URL (a superuser URL) if set, else a throwaway PostgreSQL. Installs wrk with apt-get when
# missing. Results: target/bench-http/summary.md. Loopback only; every wrk run is bounded by DURATION.
# MARKET=0 skips the market-scale section; MARKET=only runs nothing else (no peer scale, no criterion).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib-pg.sh

command -v wrk >/dev/null || apt_install wrk
[ -x /usr/bin/time ] || apt_install time
command -v psql >/dev/null || apt_install postgresql-client
DURATION=${DURATION:-10}
OUT=$PWD/target/bench-http
rm -rf "$OUT" && mkdir -p "$OUT"
cargo build --release --locked >&2
BIN=$PWD/target/release/universe
DATA=$OUT/peer
"$BIN" bench-data "$DATA" >/dev/null

if [ -z "${BENCH_DATABASE_URL:-}" ]; then
  start_throwaway_pg deployed
  BENCH_DATABASE_URL=$PG_URL
fi
PGDB="${BENCH_DATABASE_URL%/*}/universe_bench_http"
psql -q -X "$BENCH_DATABASE_URL" -c 'DROP DATABASE IF EXISTS universe_bench_http WITH (FORCE)' -c 'CREATE DATABASE universe_bench_http' >/dev/null

load() {
  local u="$BIN --database-url $1"
  $u load symbols "$DATA/symbols.csv" >/dev/null
  $u load holdings "$DATA"/holdings/*.csv >/dev/null
  $u load universes "$DATA"/universes/*.csv >/dev/null
  $u load sectors "$DATA/sectors.csv" >/dev/null
  $u load themes data/themes.toml >/dev/null
  # Issue #17: twenty years of S&P 500/400/600 history beside the peer set (the S&P 500's under its own name: the
  # peer set's sp500 is a universe file).
  local pit=../shared/data/pit
  $u load events $pit/sp500_changes.csv --seed $pit/sp500_seed.csv --name sp500_history >/dev/null
  $u load events $pit/sp400_changes.csv --seed $pit/sp400_seed.csv --name sp400 >/dev/null
  $u load events $pit/sp600_changes.csv --seed $pit/sp600_seed.csv --name sp600 >/dev/null
  $u organize --yes >/dev/null
}

# A wrk script asking for the S&P 500's members on a random day of 2005-2026 each request.
cat >"$OUT/as_of.lua" <<'LUA'
math.randomseed(17)
request = function()
  local day = os.time({ year = 2005, month = 1, day = 1 }) + math.random(0, 21 * 365) * 86400
  return wrk.format("GET", "/api/universes/sp500_history/symbols?as_of=" .. os.date("!%Y-%m-%d", day))
end
LUA

# wrk's latency over awk: its p-th percentile line in ms.
ms() { awk -v k="$1" '$1 == k { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v = v / 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v = v * 1000 } print v }'; }

# One connection: wrk's median and p99 latency (ms) for a URL (with a cookie, if given): a page's server time.
measure1() {
  local out
  out=$(wrk -t1 -c1 -d"${DURATION}s" --latency ${2:+-H "Cookie: $2"} "$1")
  echo "$out" >>"$OUT/wrk.log"
  echo "$(echo "$out" | ms 50%) $(echo "$out" | ms 99%)"
}

# wrk's requests/s and p99 latency (ms) for a URL (and a wrk script, and a cookie, if given).
measure() {
  local out
  out=$(wrk -t2 -c64 -d"${DURATION}s" --latency ${2:+-s "$2"} ${3:+-H "Cookie: $3"} "$1")
  echo "$out" >>"$OUT/wrk.log"
  local rps p99
  rps=$(echo "$out" | awk '/^Requests\/sec/ { print $2 }')
  p99=$(echo "$out" | ms 99%)
  echo "$rps $p99"
}

{
  echo "# universe HTTP benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(nproc) cores: wrk -t2 -c64 -d${DURATION}s"
  echo
  echo "| backend | route | req/s | p99 [ms] | ceiling req/s | ceiling p99 [ms] | share of ceiling |"
  echo "|:---|:---|---:|---:|---:|---:|---:|"
} >"$OUT/summary.md"
stats=""
pages=""
peer_backends="sqlite postgres"
[ "${MARKET:-1}" = only ] && peer_backends=""
for backend in $peer_backends; do
  if [ $backend = sqlite ]; then url="sqlite://$OUT/bench.db"; else url=$PGDB; fi
  load "$url"
  port=$(free_port)
  "$BIN" --database-url "$url" serve --bind "127.0.0.1:$port" --bench-routes --api-key bench >"$OUT/serve-$backend.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/ready" >/dev/null && break; sleep 0.1; done
  base="http://127.0.0.1:$port"
  # Same bytes check: the API and its ceiling must answer identically.
  cmp <(curl -s "$base/api/relationships/etf/SPY/holdings") <(curl -s "$base/bench/static/etf")
  cmp <(curl -s "$base/api/universes/sp500/symbols") <(curl -s "$base/bench/static/universe")
  for pair in "/api/relationships/etf/SPY/holdings /bench/static/etf" "/api/universes/sp500/symbols /bench/static/universe"; do
    set -- $pair
    read -r crps cp99 < <(measure "$base$2")
    read -r rps p99 < <(measure "$base$1")
    share=$(awk -v a="$rps" -v b="$crps" 'BEGIN { printf "%.0f %%", 100 * a / b }')
    echo "| $backend | \`$1\` ($(curl -s "$base$1" | wc -c) bytes) | $rps | $p99 | $crps | $cp99 | $share |" >>"$OUT/summary.md"
  done
  # as_of: one day, as the routes above are measured (one URL), then a random day of 2005-2026 per request (a
  # wrk Lua script, whose per-request work shares the two cores with the server). About 500 symbols each, as the
  # universe route's ceiling.
  read -r rps p99 < <(measure "$base/api/universes/sp500_history/symbols?as_of=2008-09-12")
  share=$(awk -v a="$rps" -v b="$crps" 'BEGIN { printf "%.0f %%", 100 * a / b }')
  bytes=$(curl -s "$base/api/universes/sp500_history/symbols?as_of=2008-09-12" | wc -c)
  echo "| $backend | \`/api/universes/sp500_history/symbols?as_of=2008-09-12\` ($bytes bytes) | $rps | $p99 | $crps | $cp99 | $share |" >>"$OUT/summary.md"
  read -r rps p99 < <(measure "$base/api/universes/sp500_history/symbols" "$OUT/as_of.lua")
  share=$(awk -v a="$rps" -v b="$crps" 'BEGIN { printf "%.0f %%", 100 * a / b }')
  bytes=$(curl -s "$base/api/universes/sp500_history/symbols?as_of=2008-09-12" | wc -c)
  echo "| $backend | \`/api/universes/sp500_history/symbols?as_of=<random day 2005-2026>\` (~$bytes bytes) | $rps | $p99 | $crps | $cp99 | $share |" >>"$OUT/summary.md"
  # The console (issue #18), logged in: the dashboard and the 3,000-member universe page (russell3000, first page
  # of 100, by ticker). One connection gives the server's time per page (wrk's latency over loopback); 64 give the
  # throughput. Ceiling: a static handler serving htmx (51 KB) from memory behind the same middleware.
  cookie=$(curl -s -o /dev/null -D - --data 'key=bench&next=/' "$base/login" | awk 'tolower($1) == "set-cookie:" { sub(/;.*/, "", $2); print $2 }')
  page_bytes() { curl -s -H "Cookie: $cookie" "$base$1" | wc -c; }
  extra=$(( $(curl -s "$base/assets/htmx-2.0.11.min.js" | wc -c) + $(curl -s "$base/assets/console-2.css" | wc -c) + $(curl -s "$base/assets/console-2.js" | wc -c) ))
  read -r c1 c1p99 < <(measure1 "$base/assets/htmx-2.0.11.min.js")
  read -r crps cp99 < <(measure "$base/assets/htmx-2.0.11.min.js")
  for page in "/admin/relationships" "/admin/group?kind=UNIVERSE&name=russell3000"; do
    curl -sf -o /dev/null -H "Cookie: $cookie" "$base$page"
    read -r p50 p1p99 < <(measure1 "$base$page" "$cookie")
    read -r rps p99 < <(measure "$base$page" "" "$cookie")
    bytes=$(page_bytes "$page")
    pages+="| $backend | \`$page\` | $p50 | $p1p99 | $c1 | $c1p99 | $rps | $crps | $bytes | $((bytes + extra)) |"$'\n'
  done
  s=$(curl -s "$base/api/relationships/stats")
  # Steady-state rebuilds (what a refresh costs once connections are warm): the median of 9.
  refresh=$(for _ in $(seq 9); do curl -s -X POST -H 'X-API-Key: bench' "$base/admin/cache/refresh" | python3 -c "import json,sys; print(json.load(sys.stdin)['elapsed_ms'])"; done | sort -n | sed -n 5p)
  row=$(echo "$s" | python3 -c "import json,sys; s=json.load(sys.stdin); e=s['entries']; print('%.1f | %.1f | %.1f | REFRESH | %.2f | %d symbols, %d memberships, %d cache universes' % (s['read_ms'], s['index_ms'], s['read_ms'] + s['index_ms'], s['approx_bytes'] / 1e6, e['symbols'], e['memberships'], e['cache_universes']))")
  stats+="| $backend | ${row/REFRESH/$(printf '%.1f' "$refresh")} |"$'\n'
  kill -TERM $pid
  wait $pid || true
done
{
  echo
  echo "Snapshot at peer scale: the server's first build at start (read, index, total), then the median of 9"
  echo "rebuilds through POST /admin/cache/refresh (read + index + swap, connections warm):"
  echo
  echo "| backend | first read [ms] | first index [ms] | first total [ms] | refresh median [ms] | approx memory [MB] | entries |"
  echo "|:---|---:|---:|---:|---:|---:|:---|"
  printf '%s' "$stats"
  echo
  echo "Console pages at peer scale, logged in: one connection (p50 and p99 of wrk's latency: the server's time per"
  echo "page), then 64; the ceiling is a static handler serving htmx from memory. Bytes before compression, then"
  echo "with htmx, the stylesheet and the script a first visit also loads:"
  echo
  echo "| backend | page | p50 [ms] | p99 [ms] | ceiling p50 [ms] | ceiling p99 [ms] | req/s (64 conns) | ceiling req/s | bytes | with assets |"
  echo "|:---|:---|---:|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s' "$pages"
} >>"$OUT/summary.md"

# Market scale (issue #15): 3,000 ETFs, ~1,000,000 memberships, 12,000 stocks, organized. The server's first
# (full) build, three forced full rebuilds, then three loads that each change one ETF (`bench-data --variant N`,
# `--mode incremental`) and the incremental refresh each triggers; memory from /proc (RSS, its anonymous part, the
# peak during each refresh after resetting it) beside what the server reports (`approx_bytes`, the allocator's
# `heap_bytes`); lookups with wrk against the static handler.
if [ "${MARKET:-1}" != 0 ]; then
  MDATA=$OUT/market
  "$BIN" bench-data "$MDATA" --scale market >/dev/null
  for v in 1 2 3; do "$BIN" bench-data "$MDATA-v$v" --scale market --variant "$v" >/dev/null; done
  psql -q -X "$BENCH_DATABASE_URL" -c 'DROP DATABASE IF EXISTS universe_bench_market WITH (FORCE)' -c 'CREATE DATABASE universe_bench_market' >/dev/null
  proc() { awk -v k="$2:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
  stat() { curl -s "$1/api/relationships/stats" | python3 -c "import json,sys; s=json.load(sys.stdin); print(s['$2'])"; }
  {
    echo
    echo "Market scale (3,000 ETFs, ~1,000,000 memberships, 12,000 stocks; loaded and organized):"
    echo
    echo "| backend | what | figure |"
    echo "|:---|:---|:---|"
  } >>"$OUT/summary.md"
  for backend in sqlite postgres; do
    if [ $backend = sqlite ]; then url="sqlite://$OUT/market.db"; else url="${BENCH_DATABASE_URL%/*}/universe_bench_market"; fi
    u="$BIN --database-url $url"
    /usr/bin/time -f "%e s, peak RSS %M KB" -o "$OUT/market-load-$backend.txt" $u load holdings "$MDATA"/holdings/*.csv >/dev/null
    $u load symbols "$MDATA/symbols.csv" >/dev/null
    $u load sectors "$MDATA/sectors.csv" >/dev/null
    $u load universes "$MDATA"/universes/*.csv >/dev/null
    $u organize --yes >/dev/null
    port=$(free_port)
    "$BIN" --database-url "$url" serve --bind "127.0.0.1:$port" --bench-routes --api-key bench >"$OUT/serve-market-$backend.log" 2>&1 &
    pid=$!
    for _ in $(seq 600); do curl -sf "http://127.0.0.1:$port/ready" >/dev/null && break; sleep 0.1; done
    base="http://127.0.0.1:$port"
    row() { echo "| $backend | $1 | $2 |" >>"$OUT/summary.md"; }
    row "full load of the holdings (whole process)" "$(cat "$OUT/market-load-$backend.txt")"
    if [ $backend = postgres ]; then
      # The ceiling: psql's \copy of the same memberships into an empty table shaped like group_memberships (its
      # indexes and its foreign key to definition_groups), rolled back.
      psql -q -X "$url" -c "\copy (SELECT group_id, symbol, weight, metadata, added_at, updated_at FROM group_memberships) TO '$OUT/market-members.csv' csv"
      printf '%s\n' 'BEGIN;' 'CREATE TABLE bench_copy (LIKE group_memberships INCLUDING ALL);' \
        'ALTER TABLE bench_copy ADD FOREIGN KEY (group_id) REFERENCES definition_groups (id);' \
        "\\copy bench_copy (group_id, symbol, weight, metadata, added_at, updated_at) FROM '$OUT/market-members.csv' csv" \
        'ROLLBACK;' >"$OUT/market-copy.sql"
      row "ceiling: psql \\copy of the memberships alone (same indexes and foreign key)" "$( { /usr/bin/time -f "%e s" psql -q -X "$url" -f "$OUT/market-copy.sql" >/dev/null; } 2>&1 | tail -1)"
    fi
    row "first build: read + index" "$(stat "$base" read_ms | cut -c1-7) + $(stat "$base" index_ms | cut -c1-6) ms"
    row "RSS after start (anonymous)" "$(proc $pid VmRSS) MB ($(proc $pid RssAnon) MB)"
    row "approx_bytes / heap_bytes (whole process)" "$(stat "$base" approx_bytes) / $(stat "$base" heap_bytes)"
    full=$(for _ in 1 2 3; do curl -s -X POST -H 'X-API-Key: bench' "$base/admin/cache/refresh" | python3 -c "import json,sys; print(round(json.load(sys.stdin)['elapsed_ms']))"; done | paste -sd/)
    row "full rebuilds (POST /admin/cache/refresh), ms" "$full"
    row "RSS after them (anonymous), peak" "$(proc $pid VmRSS) MB ($(proc $pid RssAnon) MB), peak $(proc $pid VmHWM) MB"
    for v in 1 2 3; do
      echo 5 >"/proc/$pid/clear_refs" 2>/dev/null || true
      before=$(stat "$base" version)
      load=$( { /usr/bin/time -f "%e s, peak RSS %M KB" $u load holdings --mode incremental "$MDATA-v$v"/holdings/*.csv >/dev/null; } 2>&1 | tail -1)
      for _ in $(seq 100); do [ "$(stat "$base" version)" != "$before" ] && break; sleep 0.05; done
      s=$(curl -s "$base/api/relationships/stats" | python3 -c "import json,sys; s=json.load(sys.stdin); print('%d ms (read %.1f + index %.1f), incremental=%s, groups re-read %d' % (s['last_refresh_ms'], s['read_ms'], s['index_ms'], s['incremental'], s['groups_reread']))")
      row "one ETF changed (variant $v): load" "$load"
      row "one ETF changed (variant $v): refresh" "$s; server peak RSS since the load $(proc $pid VmHWM) MB"
    done
    etf=$(curl -s "$base/api/universes" | python3 -c "import json,sys; print([u['key'] for u in json.load(sys.stdin)['universes'] if u['type'] == 'ETF'][0])")
    stock=$(curl -s "$base/api/relationships/etf/$etf/holdings?limit=1" | python3 -c "import json,sys; print(json.load(sys.stdin)['holdings'][0]['symbol'])")
    read -r crps cp99 < <(measure "$base/bench/static/universe")
    for path in "/api/relationships/etf/$etf/holdings?limit=50" "/api/relationships/stock/$stock/info" "/api/universes/sp500/symbols"; do
      read -r rps p99 < <(measure "$base$path")
      row "wrk \`$path\`" "$rps req/s, p99 $p99 ms (static handler: $crps req/s, p99 $cp99 ms)"
    done
    kill -TERM $pid
    wait $pid || true
  done
fi

[ "${MARKET:-1}" = only ] && { cat "$OUT/summary.md"; exit 0; }
cargo bench --locked --bench cache -- --warm-up-time 1 --measurement-time 5 2>&1 | tee "$OUT/criterion.log" | grep -E 'peer-scale|time:' >&2
{
  echo
  echo "Criterion (\`cargo bench --bench cache\`), mean per call:"
  echo
  echo "| benchmark | mean |"
  echo "|:---|---:|"
  for d in target/criterion/lookup/* target/criterion/snapshot/*; do
    [ -f "$d/new/estimates.json" ] || continue
    python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["mean"]["point_estimate"]; n=sys.argv[2]; print(f"| {n} | {m:.1f} ns |" if m < 1e4 else (f"| {n} | {m/1e3:.2f} µs |" if m < 1e7 else f"| {n} | {m/1e6:.2f} ms |"))' "$d/new/estimates.json" "$(basename "$(dirname "$d")")/$(basename "$d")"
  done
  grep 'peer-scale' "$OUT/criterion.log" || true
} >>"$OUT/summary.md"
cat "$OUT/summary.md"
