#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for tests and the demo.
#
#   scripts/postgres.sh start    initdb (if needed) and start a cluster on 127.0.0.1:$PGPORT
#   scripts/postgres.sh stop     stop it and remove its data directory
#   scripts/postgres.sh status   say whether it runs (exit 0) or not (exit 3)
#   scripts/postgres.sh env      print `export IGGY_TEST_PG_URL=...` lines (eval "$(scripts/postgres.sh env)")
#
# Installs nothing: scripts/setup.sh installs Debian's postgresql. The cluster runs as the OS user
# `postgres` (initdb refuses root) in a postgres-owned directory /tmp/iggy-connectors-pg-$PGPORT,
# listens only on 127.0.0.1 (no Unix socket in a shared directory), trusts every local connection,
# and has wal_level=logical with enough replication slots and WAL senders for the CDC tests.
# Every command is idempotent. PGPORT (default 54329) keeps it away from a system PostgreSQL on 5432.
set -euo pipefail

PORT=${PGPORT:-54329}
DIR=${IGGY_PG_DIR:-/tmp/iggy-connectors-pg-$PORT}
DATA=$DIR/data
LOG=$DIR/postgres.log
URL="postgres://postgres@127.0.0.1:$PORT/postgres?sslmode=disable"

die() { echo "postgres.sh: $*" >&2; exit 1; }

# Finds the newest installed server binaries (Debian keeps them out of PATH).
bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/pg_ctl" ] && { echo "$d"; return; }
  done
  command -v pg_ctl >/dev/null && { dirname "$(readlink -f "$(command -v pg_ctl)")"; return; }
  die "PostgreSQL server binaries not found; run scripts/setup.sh (installs Debian's postgresql)"
}

# as_pg runs a command as the postgres OS user (or directly when we already are that user).
as_pg() {
  if [ "$(id -un)" = postgres ]; then "$@"
  elif [ "$(id -u)" -eq 0 ]; then
    if command -v runuser >/dev/null; then runuser -u postgres -- "$@"; else su postgres -s /bin/sh -c "$(printf '%q ' "$@")"; fi
  else sudo -u postgres "$@"
  fi
}

running() { [ -f "$DATA/postmaster.pid" ] && as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

cmd=${1:-}
case "$cmd" in
  start|stop|status) BIN=$(bindir) ;;
  env) ;;
  *) echo "usage: $0 start|stop|status|env   (PGPORT=$PORT)" >&2; exit 2 ;;
esac

case "$cmd" in
  start)
    id postgres >/dev/null 2>&1 || die "OS user 'postgres' missing; run scripts/setup.sh"
    if running; then echo "postgres.sh: already running on 127.0.0.1:$PORT ($DATA)"; exit 0; fi
    mkdir -p "$DIR"
    chown postgres: "$DIR" 2>/dev/null || true
    chmod 700 "$DIR"
    if [ ! -f "$DATA/PG_VERSION" ]; then
      rm -rf "$DATA"
      as_pg "$BIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 \
        || { cat "$DIR/initdb.log" >&2; die "initdb failed"; }
      cat <<EOF | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
# --- iggy-connectors test cluster ---
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = ''
wal_level = logical
max_replication_slots = 64
max_wal_senders = 64
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 128MB
EOF
      # Trust only the loopback: replication connections (CDC) need their own line.
      cat <<EOF | as_pg tee "$DATA/pg_hba.conf" >/dev/null
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
EOF
    fi
    rm -f "$DATA/postmaster.pid"
    as_pg "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 30 start >/dev/null \
      || { tail -n 30 "$LOG" >&2 || true; die "pg_ctl start failed (port $PORT in use?)"; }
    echo "postgres.sh: started on 127.0.0.1:$PORT ($DATA)"
    ;;
  stop)
    if running; then as_pg "$BIN/pg_ctl" -D "$DATA" -m immediate -w stop >/dev/null || true; fi
    rm -rf "$DIR"
    echo "postgres.sh: stopped, removed $DIR"
    ;;
  status)
    if running; then echo "postgres.sh: running on 127.0.0.1:$PORT ($DATA)"; else echo "postgres.sh: not running (port $PORT)"; exit 3; fi
    ;;
  env)
    echo "export IGGY_TEST_PG_URL='$URL'"
    ;;
esac
