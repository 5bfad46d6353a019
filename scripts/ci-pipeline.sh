#!/usr/bin/env bash
# Runs a connector pipeline against an Iggy server that is already running — the step a CI job runs
# next to an Iggy service container (docs/ci.md) — and fails unless data flows end to end:
#   random source -> Iggy (stream demo_stream, topic demo_topic) -> stdout sink,
# with the demo's connector files (configs/demo/connectors) and main config (configs/demo/config.toml).
#
#   make build plugins && scripts/ci-pipeline.sh
#
# It starts build/bin/iggy-connectors, waits until the stdout sink printed MIN_RECORDS records
# (default 10) read back from Iggy, checks /health, /ready and /metrics, stops the runtime with
# SIGTERM and requires a graceful exit 0. Environment: IGGY_CONNECTORS_IGGY_ADDRESS (default
# 127.0.0.1:8090), IGGY_CONNECTORS_IGGY_USERNAME/_PASSWORD (default iggy/iggy),
# IGGY_CONNECTORS_HTTP_ADDRESS (default 127.0.0.1:8081), PIPELINE_TIMEOUT seconds (default 60),
# MIN_RECORDS. The runtime's output is kept in $PIPELINE_DIR (default build/ci-pipeline).
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[ci-pipeline] %s\n' "$*" >&2; }
fail() { printf '[ci-pipeline] FAILED: %s\n' "$*" >&2; exit 1; }

BIN=build/bin/iggy-connectors
for f in "$BIN" build/plugins/libiggy_connector_random_source.so build/plugins/libiggy_connector_stdout_sink.so; do
  [ -e "$f" ] || fail "$f is missing: run \`make build plugins\` first"
done
export IGGY_CONNECTORS_IGGY_ADDRESS=${IGGY_CONNECTORS_IGGY_ADDRESS:-127.0.0.1:8090}
export IGGY_CONNECTORS_HTTP_ADDRESS=${IGGY_CONNECTORS_HTTP_ADDRESS:-127.0.0.1:8081}
DIR=${PIPELINE_DIR:-build/ci-pipeline}
TIMEOUT=${PIPELINE_TIMEOUT:-60}
MIN=${MIN_RECORDS:-10}
rm -rf "$DIR" && mkdir -p "$DIR/state"
export IGGY_CONNECTORS_STATE_PATH=$DIR/state

log "validating configs/demo/config.toml"
"$BIN" validate --config configs/demo/config.toml >&2 || fail "the configuration does not validate"

log "starting iggy-connectors against Iggy at $IGGY_CONNECTORS_IGGY_ADDRESS"
"$BIN" run --config configs/demo/config.toml >"$DIR/stdout.log" 2>"$DIR/runtime.log" &
PID=$!
trap 'kill -KILL "$PID" 2>/dev/null || true' EXIT
get() { # PATH -> body; fails on a non-2xx status
  python3 - "http://$IGGY_CONNECTORS_HTTP_ADDRESS$1" <<'PY'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
    sys.stdout.write(r.read().decode())
PY
}
records() { grep -c '^demo_stream/demo_topic offset=' "$DIR/stdout.log" || true; }
deadline=$((SECONDS + TIMEOUT))
until [ "$(records)" -ge "$MIN" ]; do
  kill -0 "$PID" 2>/dev/null || { tail -n 30 "$DIR/runtime.log" >&2; fail "the runtime exited"; }
  [ $SECONDS -lt $deadline ] || { tail -n 30 "$DIR/runtime.log" >&2; fail "only $(records) of $MIN records arrived within ${TIMEOUT}s"; }
  sleep 0.5
done
log "$(records) records went random source -> Iggy -> stdout sink"
get /health >/dev/null || fail "/health"
get /ready >/dev/null || fail "/ready (Iggy connected and every connector running)"
get /metrics | grep -q '^# TYPE ' || fail "/metrics did not answer Prometheus text"
log "/health, /ready and /metrics answer"

kill -TERM "$PID"
rc=0
wait "$PID" || rc=$?
trap - EXIT
[ "$rc" -eq 0 ] || { tail -n 30 "$DIR/runtime.log" >&2; fail "the runtime exited $rc after SIGTERM"; }
log "ok: graceful stop; logs in $DIR"
