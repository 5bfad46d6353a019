#!/usr/bin/env bash
# Interop test of iggy-devserver: builds it, starts it on a free port with a data directory, runs the
# scenario with the official Python client (apache-iggy 0.9.0, from build/venv made by
# scripts/setup.sh) and with the project's Go client, crosses them (Python produces / Go consumes
# and back), restarts the server on the same data directory and checks that everything is still
# there, repeats a cross check over TLS with personal access tokens, and stops it. Exits non-zero
# on the first failure.
#
#   test/interop/run.sh                        # the client scenarios
#   WITH_GO_INTEGRATION=1 test/interop/run.sh  # also the Go integration tests of this directory,
#                                              # which kill -9 and restart real devserver processes
#                                              # (scripts/test.sh runs those with all the others)
#
# External-server mode: with IGGY_TEST_SERVER_ADDRESS=host:port (IGGY_TEST_SERVER_USERNAME and
# _PASSWORD, default iggy/iggy) the client scenarios run against that server instead (streams named
# interop-<run>-*, deleted at the end; the restart and TLS parts need a server of our own and are
# skipped). Topics are created with the Go client first: the official Python client 0.9.0 sends
# topic options newer servers refuse (4041 UnsupportedOptionKey).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-build/venv/bin/python}
OUT=build/interop
mkdir -p "$OUT"

log() { printf '\033[1;34m[interop]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[interop] FAIL:\033[0m %s\n' "$*" >&2; exit 1; }

[ -x "$PY" ] || die "$PY not found: run scripts/setup.sh first"
"$PY" -c 'import apache_iggy' 2>/dev/null || die "apache-iggy is not installed in $PY: run scripts/setup.sh"
log "apache-iggy $("$PY" -c 'import importlib.metadata as m; print(m.version("apache-iggy"))')"

log "building iggy-devserver and gointerop"
CGO_ENABLED=0 go build -o "$OUT/iggy-devserver" ./test/cmd/iggy-devserver
CGO_ENABLED=0 go build -o "$OUT/gointerop" ./test/interop/gointerop

if [ -n "${IGGY_TEST_SERVER_ADDRESS:-}" ]; then
  ADDR=$IGGY_TEST_SERVER_ADDRESS
  export IGGY_USERNAME=${IGGY_TEST_SERVER_USERNAME:-iggy} IGGY_PASSWORD=${IGGY_TEST_SERVER_PASSWORD:-iggy}
  RUN=$(date +%s)-$$
  S() { printf 'interop-%s-%s' "$RUN" "$1"; }
  STREAMS="$(S py-scenario) $(S go-scenario) $(S cross) $(S mixed)"
  trap '"$OUT/gointerop" "$ADDR" delete-streams $STREAMS >/dev/null 2>&1 || true' EXIT
  PASSED=0
  step() {
    local name=$1; shift
    log "$name"
    timeout 300 "$@" || die "$name"
    PASSED=$((PASSED + 1))
  }
  log "external Iggy server $ADDR (IGGY_TEST_SERVER_ADDRESS), streams interop-$RUN-*"
  for s in py-scenario cross; do "$OUT/gointerop" "$ADDR" ensure "$(S $s)" orders 1 >/dev/null || die "creating $(S $s)"; done
  "$OUT/gointerop" "$ADDR" ensure "$(S cross)" py-to-go 1 >/dev/null || die "creating $(S cross)/py-to-go"
  "$OUT/gointerop" "$ADDR" ensure "$(S cross)" go-to-py 1 >/dev/null || die "creating $(S cross)/go-to-py"
  step "python scenario" "$PY" test/interop/interop.py "$ADDR" scenario "$(S py-scenario)"
  step "go scenario" "$OUT/gointerop" "$ADDR" scenario "$(S go-scenario)"
  step "cross: python produces" "$PY" test/interop/interop.py "$ADDR" produce "$(S cross)" py-to-go 1000 python
  step "cross: go consumes python's messages" "$OUT/gointerop" "$ADDR" consume "$(S cross)" py-to-go 1000 python
  step "cross: go produces" "$OUT/gointerop" "$ADDR" produce "$(S cross)" go-to-py 1000 go
  step "cross: python consumes go's messages" "$PY" test/interop/interop.py "$ADDR" consume "$(S cross)" go-to-py 1000 go
  "$OUT/gointerop" "$ADDR" group-setup "$(S mixed)" t >/dev/null || die "group-setup"
  "$PY" test/interop/interop.py "$ADDR" group-member "$(S mixed)" t mixed-group 7 >"$OUT/member-py.txt" 2>&1 &
  PY_MEMBER=$!
  sleep 1
  "$OUT/gointerop" "$ADDR" group-member "$(S mixed)" t mixed-group 5 >"$OUT/member-go.txt" 2>&1 &
  GO_MEMBER=$!
  wait "$PY_MEMBER" || { cat "$OUT/member-py.txt" >&2; die "python group member failed"; }
  wait "$GO_MEMBER" || { cat "$OUT/member-go.txt" >&2; die "go group member failed"; }
  step "mixed group: python and go members together consumed every message" \
    "$PY" test/interop/interop.py "$ADDR" check-coverage "$OUT/member-py.txt" "$OUT/member-go.txt"
  step "mixed group: both partitions committed to the end" "$OUT/gointerop" "$ADDR" group-check "$(S mixed)" t mixed-group
  log "skipped against an external server: restart persistence, TLS with tokens (they need a devserver of our own)"
  echo "interop (external server $ADDR): $PASSED passed, 0 failed"
  exit 0
fi

PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
ADDR=127.0.0.1:$PORT
DATA=$(mktemp -d)
SERVER_PID=
stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=
}
cleanup() { stop_server; rm -rf "$DATA"; }
trap cleanup EXIT

start_server() { # extra arguments go to iggy-devserver
  "$OUT/iggy-devserver" --addr "$ADDR" --data-dir "$DATA" "$@" >>"$OUT/devserver.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    if "$PY" -c "import socket,sys; socket.create_connection(('127.0.0.1', $PORT), 0.2)" 2>/dev/null; then
      return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || die "iggy-devserver exited; see $OUT/devserver.log"
    sleep 0.1
  done
  die "iggy-devserver did not listen on $ADDR"
}

PASSED=0
step() {
  local name=$1; shift
  log "$name"
  if ! timeout 300 "$@"; then
    die "$name (server log: $OUT/devserver.log)"
  fi
  PASSED=$((PASSED + 1))
}

: >"$OUT/devserver.log"
start_server
log "iggy-devserver on $ADDR, data in $DATA"
step "python scenario (login, stream/topic, 1000 messages with headers, poll by offset, consumer group resume)" \
  "$PY" test/interop/interop.py "$ADDR" scenario py-scenario
step "python admin (topic options canonical and derived, describe_options, users, enforced permissions, 3021, get_clients, update/purge)" \
  "$PY" test/interop/interop.py "$ADDR" admin py-admin
step "go scenario (same, with runtime/iggy)" "$OUT/gointerop" "$ADDR" scenario go-scenario
step "cross: python produces" "$PY" test/interop/interop.py "$ADDR" produce cross py-to-go 1000 python
step "cross: go consumes python's messages" "$OUT/gointerop" "$ADDR" consume cross py-to-go 1000 python
step "cross: go produces" "$OUT/gointerop" "$ADDR" produce cross go-to-py 1000 go
step "cross: python consumes go's messages" "$PY" test/interop/interop.py "$ADDR" consume cross go-to-py 1000 go

log "mixed consumer group: a Python and a Go member share a 2-partition topic"
"$OUT/gointerop" "$ADDR" group-setup mixed t >/dev/null || die "group-setup"
"$PY" test/interop/interop.py "$ADDR" group-member mixed t mixed-group 7 >"$OUT/member-py.txt" 2>&1 &
PY_MEMBER=$!
sleep 1
"$OUT/gointerop" "$ADDR" group-member mixed t mixed-group 5 >"$OUT/member-go.txt" 2>&1 &
GO_MEMBER=$!
wait_member() { wait "$1" || { cat "$2" >&2; die "group member $2 failed"; }; }
wait_member "$PY_MEMBER" "$OUT/member-py.txt"
wait_member "$GO_MEMBER" "$OUT/member-go.txt"
step "mixed group: python and go members together consumed every message" \
  "$PY" test/interop/interop.py "$ADDR" check-coverage "$OUT/member-py.txt" "$OUT/member-go.txt"
step "mixed group: both partitions committed to the end" "$OUT/gointerop" "$ADDR" group-check mixed t mixed-group

log "restarting iggy-devserver on the same data directory"
stop_server
start_server
step "after restart: python reads go's messages" "$PY" test/interop/interop.py "$ADDR" consume cross go-to-py 1000 go
step "after restart: go reads python's messages" "$OUT/gointerop" "$ADDR" consume cross py-to-go 1000 python
stop_server

log "TLS and personal access tokens: devserver with a throwaway CA"
CERTS=$(mktemp -d)
trap 'cleanup; rm -rf "$CERTS"' EXIT
"$OUT/gointerop" "$CERTS" gencert - >/dev/null
start_server --tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server-key.pem"
TOKEN=$(IGGY_TLS_CA="$CERTS/ca.pem" "$OUT/gointerop" "$ADDR" mktoken interop) || die "creating a personal access token over TLS"
printf '%s\n' "$TOKEN" >"$CERTS/token"
step "tls+token: python produces (TcpConfig tls_ca_file, AutoLogin.personal_access_token)" \
  env IGGY_TLS_CA="$CERTS/ca.pem" IGGY_TOKEN="$TOKEN" "$PY" test/interop/interop.py "$ADDR" produce tls py-to-go 300 python
step "tls+token: go consumes (TLS CA file, token from file:PATH)" \
  env IGGY_TLS_CA="$CERTS/ca.pem" IGGY_TOKEN="file:$CERTS/token" "$OUT/gointerop" "$ADDR" consume tls py-to-go 300 python
stop_server

if [ -n "${WITH_GO_INTEGRATION:-}" ]; then
  step "go integration tests (kill -9 and restart of real devserver processes: persistence, reconnect)" \
    go test -count=1 -tags integration -run 'Devserver' ./test/interop/
fi
echo "interop: $PASSED passed, 0 failed"
