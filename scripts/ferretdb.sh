#!/usr/bin/env bash
# FerretDB (a MongoDB wire-protocol server) for the MongoDB sink's tests and the demo.
#
#   scripts/ferretdb.sh start    build test/cmd/ferretdb if needed and start it on 127.0.0.1:$FERRETDB_PORT
#   scripts/ferretdb.sh stop     stop it (and the PostgreSQL cluster, if start had to start that)
#   scripts/ferretdb.sh status   say whether it runs (exit 0) or not (exit 3)
#   scripts/ferretdb.sh env      print `export ...` lines (eval "$(scripts/ferretdb.sh env)"):
#                                IGGY_TEST_MONGODB_URI     the server's connection string
#                                IGGY_TEST_FERRETDB_BIN    the binary, for tests that start their own server
#                                IGGY_TEST_FERRETDB_PG_URL the PostgreSQL database FerretDB stores into
#
# No registry reachable here serves a real mongod, so the tests use FerretDB v1.24.2 embedded in a
# small command of ours (test/cmd/ferretdb: its own Go module, outside go.work, built with GOWORK=off
# and without the SQLite backend; the first build downloads and compiles for about two minutes, later
# ones come from the Go caches). Its backend is the project's PostgreSQL test cluster
# (scripts/postgres.sh, started here when it does not run) in a database `ferretdb` of its own.
# FerretDB v1 reports MongoDB 7.0 but has no transactions, change streams, Decimal128, $jsonSchema
# validators or nested arrays. Every command is idempotent; FERRETDB_PORT defaults to 27117.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

PORT=${FERRETDB_PORT:-27117}
DIR=${IGGY_FERRETDB_DIR:-/tmp/iggy-connectors-ferretdb-$PORT}
BIN=$ROOT/build/ferretdb/ferretdb
SRC=$ROOT/test/cmd/ferretdb
URI="mongodb://127.0.0.1:$PORT/"

die() { echo "ferretdb.sh: $*" >&2; exit 1; }

pg_url() {
  eval "$(scripts/postgres.sh env)"
  local u=${IGGY_TEST_PG_URL:?}
  # the same cluster, database ferretdb
  echo "${u%/*}/ferretdb${u##*/postgres}"
}

running() { [ -f "$DIR/pid" ] && kill -0 "$(cat "$DIR/pid")" 2>/dev/null; }

answers() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

build() {
  local newest
  newest=$(ls -t "$SRC"/*.go "$SRC"/go.mod "$SRC"/go.sum | head -n 1)
  if [ -x "$BIN" ] && [ "$BIN" -nt "$newest" ]; then return; fi
  echo "ferretdb.sh: building test/cmd/ferretdb (FerretDB v1.24.2; the first build takes minutes)" >&2
  mkdir -p "$(dirname "$BIN")"
  (cd "$SRC" && GOWORK=off CGO_ENABLED=0 go build -tags ferretdb_no_sqlite -trimpath -o "$BIN.tmp" .) \
    || die "go build of test/cmd/ferretdb failed"
  mv "$BIN.tmp" "$BIN"
}

cmd=${1:-}
case "$cmd" in
  start)
    if running && answers; then echo "ferretdb.sh: already running on 127.0.0.1:$PORT" >&2; exit 0; fi
    mkdir -p "$DIR"
    # the backend first: test.sh starts PostgreSQL only after the build and the unit tests
    if ! scripts/postgres.sh status >/dev/null 2>&1; then
      scripts/postgres.sh start >&2
      touch "$DIR/started-postgres"
    fi
    PGURL=$(pg_url)
    eval "$(scripts/postgres.sh env)"
    if [ "$(psql -X -qAt -d "$IGGY_TEST_PG_URL" -c "SELECT count(*) FROM pg_database WHERE datname = 'ferretdb'")" = 0 ]; then
      psql -X -q -d "$IGGY_TEST_PG_URL" -c "CREATE DATABASE ferretdb" >&2 || die "cannot create database ferretdb"
    fi
    build
    answers && die "port $PORT is taken by another process (set FERRETDB_PORT)"
    nohup "$BIN" --listen "127.0.0.1:$PORT" --postgresql-url "$PGURL" --log-level warn >"$DIR/ferretdb.log" 2>&1 &
    echo $! >"$DIR/pid"
    for _ in $(seq 1 150); do
      answers && { echo "ferretdb.sh: started on 127.0.0.1:$PORT (backend $PGURL)" >&2; exit 0; }
      running || break
      sleep 0.2
    done
    tail -n 30 "$DIR/ferretdb.log" >&2 || true
    die "FerretDB did not start"
    ;;
  stop)
    if running; then
      pid=$(cat "$DIR/pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    if [ -f "$DIR/started-postgres" ]; then scripts/postgres.sh stop >&2 || true; fi
    rm -rf "$DIR"
    echo "ferretdb.sh: stopped (port $PORT)" >&2
    ;;
  status)
    if running && answers; then echo "ferretdb.sh: running on 127.0.0.1:$PORT (pid $(cat "$DIR/pid"))"; else echo "ferretdb.sh: not running (port $PORT)"; exit 3; fi
    ;;
  env)
    echo "export IGGY_TEST_MONGODB_URI='$URI'"
    echo "export IGGY_TEST_FERRETDB_BIN='$BIN'"
    echo "export IGGY_TEST_FERRETDB_PG_URL='$(pg_url)'"
    ;;
  *)
    echo "usage: $0 start|stop|status|env   (FERRETDB_PORT=$PORT)" >&2; exit 2 ;;
esac
