#!/usr/bin/env bash
# Runs the end-to-end suites against a real Apache Iggy server built from source, in their
# external-server mode (IGGY_TEST_SERVER_ADDRESS; see "Checking the runtime against your Iggy
# server" in the README). Not part of CI: the server's source is not in any package registry.
#
#   IGGY_SOURCE_DIR=~/src/iggy scripts/real-iggy.sh            # every suite
#   IGGY_SOURCE_DIR=~/src/iggy scripts/real-iggy.sh e2e demo   # some: e2e apitest pge2e interop demo
#   IGGY_SOURCE_DIR=~/src/iggy scripts/real-iggy.sh serve      # only start the server, print its
#                                                              # address and credentials, wait for Ctrl-C
#
# 1. Builds $IGGY_SOURCE_DIR/target/release/iggy-server unless it exists: release profile with LTO
#    off (much faster to build), on the toolchain IGGY_RUST_TOOLCHAIN (default: the one the checkout
#    pins when rustup has it, else stable). The hwlocality crate links Debian's libhwloc-dev (its
#    vendored build downloads hwloc at build time) and the link needs libudev-dev; both are
#    installed with apt-get when missing.
# 2. Starts it on a free 127.0.0.1 port with a throwaway data directory (IGGY_SYSTEM_PATH), a root
#    user with a random password, HTTP, QUIC and WebSocket off, one unpinned shard (it shares the
#    machine), and stops it at the end. The server uses io_uring: the kernel must allow it.
# 3. Runs the suites with IGGY_TEST_SERVER_ADDRESS/_USERNAME/_PASSWORD set; tests that restart or
#    kill the server skip. The summary (pass/skip/fail per suite) is printed at the end and written
#    to build/real-iggy/summary.txt, each suite's output next to it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/build/real-iggy
mkdir -p "$OUT"

log() { printf '\033[1;34m[real-iggy]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[real-iggy] error:\033[0m %s\n' "$*" >&2; exit 1; }

SRC=${IGGY_SOURCE_DIR:-}
[ -n "$SRC" ] || die "set IGGY_SOURCE_DIR to a checkout of https://github.com/apache/iggy"
[ -f "$SRC/Cargo.toml" ] || die "$SRC has no Cargo.toml: not an apache/iggy checkout"
SRC=$(cd "$SRC" && pwd)
BIN=$SRC/target/release/iggy-server

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

build_server() {
  # hwlocality links libhwloc (and through it libudev) dynamically.
  if ! dpkg -s libhwloc-dev libudev-dev >/dev/null 2>&1; then
    log "installing libhwloc-dev, libudev-dev and pkg-config (apt-get)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libhwloc-dev libudev-dev pkg-config
  fi
  local tc=${IGGY_RUST_TOOLCHAIN:-}
  if [ -z "$tc" ]; then
    local pinned
    pinned=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$SRC/rust-toolchain.toml" 2>/dev/null || true)
    if [ -n "$pinned" ] && rustup toolchain list 2>/dev/null | grep -q "^$pinned"; then tc=$pinned; else tc=stable; fi
  fi
  log "building iggy-server in $SRC (release, LTO off, toolchain $tc; this takes a while)"
  (cd "$SRC" && RUSTUP_TOOLCHAIN=$tc CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    nice cargo build --release --bin iggy-server) || die "building iggy-server failed"
}
[ -x "$BIN" ] || build_server

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
listening() { python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $1), 0.2)" 2>/dev/null; }

PORT=$(free_port)
ADDR=127.0.0.1:$PORT
DATA=$(mktemp -d)
USERNAME=iggy
PASSWORD=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
SERVER_PID=
stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    log "stopping iggy-server (pid $SERVER_PID)"
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$DATA"
}
trap stop_server EXIT INT TERM

log "starting $("$BIN" --version 2>/dev/null | head -1 || echo iggy-server) on $ADDR (data in $DATA, log $OUT/iggy-server.log)"
env IGGY_SYSTEM_PATH="$DATA" IGGY_TCP_ADDRESS="$ADDR" \
  IGGY_ROOT_USERNAME="$USERNAME" IGGY_ROOT_PASSWORD="$PASSWORD" \
  IGGY_HTTP_ENABLED=false IGGY_QUIC_ENABLED=false IGGY_WEBSOCKET_ENABLED=false \
  IGGY_SYSTEM_SHARDING_CPU_ALLOCATION=1 IGGY_SYSTEM_SHARDING_PIN_CORES=false \
  "$BIN" >"$OUT/iggy-server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
  listening "$PORT" && break
  kill -0 "$SERVER_PID" 2>/dev/null || { tail -30 "$OUT/iggy-server.log" >&2; die "iggy-server exited"; }
  sleep 0.1
done
listening "$PORT" || die "iggy-server does not listen on $ADDR (log: $OUT/iggy-server.log)"

export IGGY_TEST_SERVER_ADDRESS=$ADDR IGGY_TEST_SERVER_USERNAME=$USERNAME IGGY_TEST_SERVER_PASSWORD=$PASSWORD

SUITES=("$@")
[ ${#SUITES[@]} -gt 0 ] || SUITES=(e2e demo apitest pge2e interop)
if [ "${SUITES[0]}" = serve ]; then
  log "serving; in another shell:"
  printf 'export IGGY_TEST_SERVER_ADDRESS=%s IGGY_TEST_SERVER_USERNAME=%s IGGY_TEST_SERVER_PASSWORD=%s\n' "$ADDR" "$USERNAME" "$PASSWORD"
  wait "$SERVER_PID"
  exit 0
fi

# Each suite's `go test -v` output is kept; the summary counts its top-level test results.
: >"$OUT/summary.txt"
RC=0
summarize() { # name file status
  local pass skip fail
  pass=$(grep -c '^--- PASS' "$2" || true)
  skip=$(grep -c '^--- SKIP' "$2" || true)
  fail=$(grep -c '^--- FAIL' "$2" || true)
  printf '%-8s %-4s pass %3s  skip %3s  fail %3s   (%s)\n' "$1" "$3" "$pass" "$skip" "$fail" "${2#"$ROOT"/}" | tee -a "$OUT/summary.txt" >&2
}
gosuite() { # name packages... (extra go test flags in GOFLAGS_EXTRA)
  local name=$1; shift
  local f=$OUT/$name.txt
  log "suite $name"
  if go test -v -count=1 -p 1 -tags integration -timeout 30m ${GOFLAGS_EXTRA:-} "$@" >"$f" 2>&1; then
    summarize "$name" "$f" ok
  else
    summarize "$name" "$f" FAIL
    RC=1
  fi
}
# What the suites take from this checkout: the Python venv (official client, fastavro), the runtime
# and every plugin (tests that run build/bin and build/plugins skip without them).
log "set-up and build (scripts/setup.sh, make build, scripts/build-plugins.sh --test; log in $OUT/build.txt)"
{ scripts/setup.sh && make --no-print-directory build && scripts/build-plugins.sh --test; } >"$OUT/build.txt" 2>&1 ||
  die "set-up or build failed ($OUT/build.txt)"
for s in "${SUITES[@]}"; do
  case $s in
    e2e) GOFLAGS_EXTRA="-skip ^TestDemo$" gosuite e2e ./test/e2e/ ;;
    demo) GOFLAGS_EXTRA="-run ^TestDemo$" gosuite demo ./test/e2e/ ;;
    apitest) gosuite apitest ./test/apitest/ ;;
    pge2e)
      if ! scripts/postgres.sh status >/dev/null 2>&1; then scripts/postgres.sh start >&2; fi
      eval "$(scripts/postgres.sh env)"
      gosuite pge2e ./test/pge2e/ ;;
    interop)
      log "suite interop"
      if test/interop/run.sh >"$OUT/interop.txt" 2>&1; then st=ok; else st=FAIL; RC=1; fi
      printf '%-8s %-4s %s\n' interop "$st" "$(tail -1 "$OUT/interop.txt")" | tee -a "$OUT/summary.txt" >&2 ;;
    *) die "unknown suite $s (e2e, demo, apitest, pge2e, interop, serve)" ;;
  esac
done
log "summary (also in build/real-iggy/summary.txt):"
cat "$OUT/summary.txt" >&2
exit $RC
