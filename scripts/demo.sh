#!/usr/bin/env bash
# The demo (`make demo`): random source -> Iggy -> stdout sink, in the foreground.
#
#   1. checks the toolchain the demo needs (Go; gcc for the c-shared plugins — when gcc is missing,
#      scripts/setup.sh installs it), then builds, incrementally (Go build cache), the runtime, the
#      development Iggy server and the two plugins into build/;
#   2. starts build/bin/iggy-devserver on the Iggy address (IGGY_CONNECTORS_IGGY_ADDRESS, default
#      127.0.0.1:8090) unless something already listens there (then that server is used); its data
#      and log live in the demo directory ($IGGY_DEMO_DIR, default build/demo);
#   3. runs iggy-connectors with configs/demo/config.toml (the defaults with Prometheus metrics on and
#      the connectors in configs/demo/connectors) and the state in the demo directory. The stdout sink prints every record to standard output
#      (runtime logs go to standard error);
#   Each step prints one progress line before it starts (the first run downloads Go modules and
#   compiles for about a minute), so the script is never silent.
#   4. Ctrl-C (or SIGTERM) stops the runtime gracefully, then the devserver if this script started it.
#
# Environment: IGGY_CONNECTORS_IGGY_ADDRESS, IGGY_CONNECTORS_HTTP_ADDRESS (default 127.0.0.1:8081,
# or the next free port up to 8099), IGGY_CONNECTORS_LOGGING_LEVEL and any other IGGY_CONNECTORS_*
# override are honoured; IGGY_DEMO_DIR moves the demo's data, state and logs (default build/demo).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

log() { printf '\033[1;34m[demo]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[demo]\033[0m %s\n' "$*" >&2; exit 1; }
STEPS=7 STEP=0 T0=$SECONDS
step() { STEP=$((STEP + 1)); log "[$STEP/$STEPS +$((SECONDS - T0))s] $*"; }

# --- toolchain ------------------------------------------------------------------------------------
step "checking the toolchain (Go 1.26+, gcc for the c-shared plugins)"
command -v go >/dev/null || die "Go 1.26+ is required (https://go.dev/dl/); then run make demo again"
if ! command -v gcc >/dev/null; then
  log "gcc is missing (needed to build the plugins): running scripts/setup.sh"
  scripts/setup.sh
fi

# --- build (incremental: the Go build cache makes a rebuild of unchanged code quick) ---------------
export GOFLAGS=${GOFLAGS:--buildvcs=false}
DEMO_DIR=${IGGY_DEMO_DIR:-build/demo}
mkdir -p build/bin build/plugins "$DEMO_DIR/state"
step "building build/bin/iggy-connectors (the first run downloads Go modules and compiles: about a minute)"
CGO_ENABLED=0 go build -o build/bin/iggy-connectors ./runtime/cmd/iggy-connectors
step "building build/bin/iggy-devserver (the development Iggy server)"
CGO_ENABLED=0 go build -o build/bin/iggy-devserver ./test/cmd/iggy-devserver
for p in sources/random:random_source sinks/stdout:stdout_sink; do
  step "building the plugin build/plugins/libiggy_connector_${p##*:}.so (go build -buildmode=c-shared)"
  (cd "connectors/${p%%:*}" && CGO_ENABLED=1 go build -buildmode=c-shared -o "$ROOT/build/plugins/libiggy_connector_${p##*:}.so" .)
  rm -f "build/plugins/libiggy_connector_${p##*:}.h"
done

# --- Iggy -----------------------------------------------------------------------------------------
IGGY_ADDR=${IGGY_CONNECTORS_IGGY_ADDRESS:-127.0.0.1:8090}
listening() { # host:port
  local host=${1%:*} port=${1##*:}
  [ "$host" = localhost ] && host=127.0.0.1
  (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}
DEVSERVER_PID=
RUNTIME_PID=
cleanup() {
  trap - EXIT INT TERM
  if [ -n "$RUNTIME_PID" ] && kill -0 "$RUNTIME_PID" 2>/dev/null; then
    kill -TERM "$RUNTIME_PID" 2>/dev/null || true
    wait "$RUNTIME_PID" 2>/dev/null || true
  fi
  if [ -n "$DEVSERVER_PID" ] && kill -0 "$DEVSERVER_PID" 2>/dev/null; then
    log "stopping iggy-devserver (pid $DEVSERVER_PID)"
    kill -TERM "$DEVSERVER_PID" 2>/dev/null || true
    wait "$DEVSERVER_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT

if listening "$IGGY_ADDR"; then
  step "using the Iggy server already listening on $IGGY_ADDR"
else
  step "starting iggy-devserver on $IGGY_ADDR (data and log in $DEMO_DIR)"
  # Its own session: a Ctrl-C in the terminal reaches the runtime, which must still reach Iggy
  # while it stops; the devserver is stopped afterwards by cleanup.
  setsid build/bin/iggy-devserver --addr "$IGGY_ADDR" --data-dir "$DEMO_DIR/iggy" >"$DEMO_DIR/iggy-devserver.log" 2>&1 &
  DEVSERVER_PID=$!
  for _ in $(seq 100); do
    listening "$IGGY_ADDR" && break
    kill -0 "$DEVSERVER_PID" 2>/dev/null || { cat "$DEMO_DIR/iggy-devserver.log" >&2; die "iggy-devserver did not start"; }
    sleep 0.1
  done
  listening "$IGGY_ADDR" || die "iggy-devserver does not listen on $IGGY_ADDR (log: $DEMO_DIR/iggy-devserver.log)"
fi

# --- runtime --------------------------------------------------------------------------------------
HTTP_ADDR=${IGGY_CONNECTORS_HTTP_ADDRESS:-}
if [ -z "$HTTP_ADDR" ]; then
  for port in $(seq 8081 8099); do
    listening "127.0.0.1:$port" || { HTTP_ADDR=127.0.0.1:$port; break; }
  done
  [ -n "$HTTP_ADDR" ] || die "no free port for the HTTP API in 8081-8099; set IGGY_CONNECTORS_HTTP_ADDRESS"
fi
export IGGY_CONNECTORS_IGGY_ADDRESS=$IGGY_ADDR
export IGGY_CONNECTORS_HTTP_ADDRESS=$HTTP_ADDR
export IGGY_CONNECTORS_STATE_PATH=$DEMO_DIR/state
unset IGGY_CONNECTORS_CONFIG_PATH
step "running iggy-connectors --config configs/demo/config.toml: connectors in configs/demo/connectors, HTTP API on http://$HTTP_ADDR (try /stats, /metrics); Ctrl-C stops"
build/bin/iggy-connectors run --config configs/demo/config.toml &
RUNTIME_PID=$!
# Ctrl-C reaches the runtime directly (same process group); a TERM sent to this script only is
# forwarded. Either way wait for the runtime's graceful stop.
trap 'kill -TERM "$RUNTIME_PID" 2>/dev/null || true' INT TERM
while kill -0 "$RUNTIME_PID" 2>/dev/null; do
  wait "$RUNTIME_PID" || true # returns early when a signal arrives
done
wait "$RUNTIME_PID" && rc=0 || rc=$? # the runtime's exit status
RUNTIME_PID=
exit "$rc"
