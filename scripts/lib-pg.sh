# Sourced by test.sh and bench.sh: starts a throwaway PostgreSQL cluster on a free loopback port, installing
# PostgreSQL with apt-get if it is missing. Sets PG_BIN and PG_URL (superuser, database "postgres") and removes
# the cluster when the calling script exits.

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }

free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( 20000 + RANDOM % 30000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  log "no free port found"
  return 1
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

find_pg_bin() {
  local d
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
    return 0
  fi
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
  done
  return 1
}

# apt_install PACKAGE...: installs Debian packages (root only), quietly.
apt_install() {
  log "installing $* with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "$@" >&2
}

PG_DIR=""
stop_throwaway_pg() {
  if [ -n "$PG_DIR" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
    PG_DIR=""
  fi
}

# start_throwaway_pg [deployed]: with "deployed", the server runs as users run theirs — TLS on (a self-signed
# certificate made here), fsync, synchronous commit and full-page writes on — for benchmarks; without it, tuned
# for tests (no TLS, no fsync).
start_throwaway_pg() {
  local mode=${1:-test}
  if ! PG_BIN=$(find_pg_bin); then
    apt_install postgresql
    PG_BIN=$(find_pg_bin)
  fi
  if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
  fi
  PG_DIR=$(mktemp -d /tmp/universe-pg.XXXXXX)
  if [ "$(id -u)" = 0 ]; then chown postgres "$PG_DIR"; fi
  trap stop_throwaway_pg EXIT
  local port
  port=$(free_port)
  as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust -N -E UTF8 --locale=C >/dev/null
  local settings="-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=300"
  if [ "$mode" = deployed ]; then
    command -v openssl >/dev/null || apt_install openssl
    as_pg openssl req -new -x509 -days 2 -nodes -subj /CN=127.0.0.1 \
      -keyout "$PG_DIR/data/server.key" -out "$PG_DIR/data/server.crt" >/dev/null 2>&1
    chmod 600 "$PG_DIR/data/server.key"
    settings="$settings -c ssl=on -c fsync=on -c synchronous_commit=on -c full_page_writes=on"
  else
    settings="$settings -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  fi
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -o "$settings" start >/dev/null
  PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
  log "throwaway PostgreSQL on 127.0.0.1:$port ($mode settings)"
}
